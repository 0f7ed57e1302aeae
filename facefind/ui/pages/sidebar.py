"""The sidebar: the album's upload, its settings (applied with Apply once an album is
loaded), and Forget.
"""

from __future__ import annotations

import streamlit as st

from facefind.analysis.semantic import UFORM_MODELS, configured_model
from facefind.config import (
    DETECTORS,
    FACE_MODELS,
    AlbumSettings,
    FaceSettings,
    face_settings,
    min_confidence_of,
    preferred_detector,
)
from facefind.ui.pages.album import drop_album
from facefind.ui.pages.state import session


def sidebar_and_upload() -> tuple[object | None, FaceSettings, str, bool]:
    with st.sidebar:
        st.header("Album")
        with st.expander("Settings"):
            st.caption("Changing any of these indexes the album again, once you apply them.")
            defaults = FaceSettings()
            if session().face_model_in_effect is not None:  # the choice could not be had
                st.session_state["face-model"] = session().take("face_model_in_effect")
                follow_the_model()
            model = st.selectbox(
                "Face model",
                FACE_MODELS,
                index=FACE_MODELS.index(defaults.model),
                key="face-model",
                on_change=model_chosen,
            )
            detector = st.selectbox(
                "Face detector",
                DETECTORS,
                # the default model's; a change of model sets its own (model_chosen): a default
                # that moved with the model would make a new widget, which forgets the choice
                index=DETECTORS.index(preferred_detector(defaults.model)),
                key="face-detector",
                on_change=detector_chosen,
                help="Each model's best detector by DeepFace's own tests is chosen for it. "
                "yunet downloads its weights on first use.",
            )
            confidence = st.slider(
                "Minimum face confidence",
                0.0,
                1.0,
                min_confidence_of(defaults, preferred_detector(defaults.model)),
                0.05,
                key="min-confidence",
                help="Faces the detector is less sure of are ignored.",
            )
            thorough = st.checkbox(
                "Thorough face detection (slower)",
                defaults.thorough,
                key="thorough",
                help="Photos where no face is found get a second look with a slower detector "
                "that finds turned and dark faces: about 3 s more for each such photo.",
            )
            uform_choices = list(dict.fromkeys([configured_model(), *UFORM_MODELS]))
            uform = st.selectbox("Text model (UForm)", uform_choices, key="uform-model")
            read_words = st.checkbox(
                "Read words and bib numbers in the photos",
                True,
                key="read-words",
                help="Finds a photo by the number on a bib or the words on a sign. Read after "
                "the faces, which can be searched meanwhile; about 0.2 s a photo on one core "
                "(docs/accuracy.md).",
            )
            # the detector's own bar is left to the detector in effect (it changes after a
            # fallback)
            own_bar = confidence == min_confidence_of(defaults, detector)
            settings = face_settings(model, detector, None if own_bar else confidence, thorough)
            # asked here, under the settings changed, not below the rest of the sidebar
            applied = applied_settings(AlbumSettings(settings, uform, read_words))
        saved = st.file_uploader(
            "Open a saved index (.facefind)",
            type=["facefind"],
            help="An index saved from here (or by `facefind index`) with the same album: the "
            "album is not indexed again. It holds face data: keep it private.",
            key=f"index-upload-{session().generation}",
        )
        generation = session().generation
        if saved is not None or st.session_state.get(f"album-upload-{generation}") is not None:
            st.button(  # only when there is something to forget
                "Forget this album",
                help="Drops the album, its faces and your queries now.",
                on_click=forget,
            )
    session().saved_index = saved
    return album_uploader(), *applied


def applied_settings(chosen: AlbumSettings) -> tuple[FaceSettings, str, bool]:
    """The settings the album is indexed with: what is chosen while no album is loaded; once
    one is, a change waits for Apply (it indexes the whole album again), or Cancel."""
    applied: AlbumSettings | None = session().applied_settings
    if applied is None or session().album is None:
        applied = session().applied_settings = chosen
    elif chosen != applied:
        st.warning("Apply these settings? The album is indexed again with them.")
        apply, cancel = st.columns(2)
        apply.button("Apply", key="settings-apply", on_click=apply_settings, args=(chosen,))
        cancel.button("Cancel", key="settings-cancel", on_click=restore_settings, args=(applied,))
    return applied.faces, applied.uform, applied.read_words


def apply_settings(chosen: AlbumSettings) -> None:
    session().applied_settings = chosen


def restore_settings(applied: AlbumSettings) -> None:
    """Before the rerun: the widgets back to the settings the album is indexed with."""
    faces = applied.faces
    st.session_state["face-model"] = faces.model
    st.session_state["face-detector"] = faces.detector
    st.session_state["min-confidence"] = min_confidence_of(faces, faces.detector)
    st.session_state["thorough"] = faces.thorough
    st.session_state["uform-model"] = applied.uform
    st.session_state["read-words"] = applied.read_words


def model_chosen() -> None:
    session().take("settings_notices")
    follow_the_model()


def follow_the_model() -> None:
    """A new model (chosen, or the one in effect) gets its best detector, and its bar."""
    st.session_state["face-detector"] = preferred_detector(st.session_state["face-model"])
    detector_chosen()


def detector_chosen() -> None:
    detector = st.session_state["face-detector"]
    st.session_state["min-confidence"] = min_confidence_of(FaceSettings(), detector)


def album_uploader():
    """The album's uploader, at the top of the page (on a phone the sidebar is hidden behind a
    small button, and an open sidebar covers the progress of the indexing), folded once an
    album is loaded so that results come first."""
    # a new key after "Forget this album" gives an empty uploader
    key = f"album-upload-{session().generation}"
    loaded = getattr(st.session_state.get(key), "name", None)
    with st.expander(f"Album: {loaded}" if loaded else "Your album", expanded=not loaded):
        return st.file_uploader(
            "Your album (.zip)",
            type=["zip"],
            help="Read in memory, never saved to disk.",
            key=key,
        )


def forget() -> None:
    """Drop everything this session holds: the album, its index, the queries, the uploads."""
    generation = session().generation
    drop_album()
    for key in list(st.session_state):
        del st.session_state[key]
    session().generation = generation + 1
    session().forgotten = True
