"""facefind's Streamlit app: upload an album zip, find yourself by selfie or by words, download.

A thin layer of widgets over the `facefind` library: indexing, search and pictures all come
from it. The album, its index and the query photos live in this browser session's state only,
and are dropped when the session ends or the user presses "Forget this album".
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import streamlit as st
from PIL import Image, ImageOps

from facefind.analysis.detectors import yuface_installed
from facefind.analysis.faces import Face, FaceEmbedder
from facefind.analysis.semantic import UFORM_MODELS, PhotoTextModel, configured_model
from facefind.analysis.words import WordReader
from facefind.config import (
    DETECTORS,
    FACE_MODELS,
    FALLBACK_DETECTOR,
    AlbumSettings,
    FaceSettings,
    detector_name,
    face_settings,
    min_confidence_of,
    preferred_detector,
)
from facefind.errors import FacefindError
from facefind.indexing.builder import IndexBuilder
from facefind.indexing.progress import IndexingRate
from facefind.indexing.reading import BackgroundReading
from facefind.search.faces import (
    DEFAULT_MIN_SCORE,
    MatchMode,
    query_faces,
    search_faces,
    stack_embeddings,
)
from facefind.search.people import PeopleNotes, Person, group_people, person_hits, person_query
from facefind.search.people_editor import PeopleEditor
from facefind.search.ranking import similar_photos, similar_to_picture
from facefind.search.results import PhotoHit, plain_text
from facefind.search.words import WordResults, wearer_search, with_descriptions, word_search
from facefind.sources.archive import Album, PhotoSource, PhotoZip
from facefind.stores.base import IndexStore
from facefind.stores.npz import AlbumIndex
from facefind.ui.event import Event, event_floor, event_location, runner_message
from facefind.ui.gallery import face_crops, outlined_photo, outlined_thumbnail, person_colour
from facefind.ui.serving import EVENT_UPLOAD_MB, bound_memory, bound_uploads

st.set_page_config(page_title="facefind", page_icon="🔎", layout="wide")
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "heic", "heif", "bmp", "tif", "tiff", "gif"]
COLUMNS = 4


# --- models: loaded once per server process ---------------------------------------------------


@st.cache_resource(show_spinner="Loading the face model…")
def face_embedder(settings: FaceSettings) -> FaceEmbedder:
    embedder = FaceEmbedder(settings, notify=lambda message: None)
    embedder.load()
    return embedder


@st.cache_resource(show_spinner="Loading the text model…")
def photo_text_model(name: str) -> PhotoTextModel:
    return PhotoTextModel(name)


@st.cache_resource(show_spinner="Opening the event…")
def shared_event(where: str) -> Event:
    """The event's store and photos, opened once per server and shared by every session
    (read-only; nothing of a runner's query is kept in it)."""
    return Event(where)


# --- the album ---------------------------------------------------------------------------------


@dataclass
class LoadedAlbum:
    """Everything this session knows about one album: its index and what was asked of it.

    Replaced whole when the album or the settings change, so nothing of an old album (query
    faces, results, "more like this", a prepared download) can outlive it. Never shared with
    other sessions."""

    key: tuple
    album: PhotoSource
    index: IndexStore
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    query_faces: dict = field(default_factory=dict)  # (picture digest) -> its faces
    like: int | None = None  # the photo "more like this" was asked for
    download: tuple[tuple[str, ...], PhotoZip] | None = None  # names and their prepared zip
    #: everyone in the album with the user's merges, names, hidden people and their Undo
    editor: PeopleEditor | None = None
    person: int | None = None  # the id of the person whose page is open in the People tab
    person_faces: dict = field(default_factory=dict)  # face row -> its crop, made once
    reading: BackgroundReading | None = None  # the words, read after the faces
    event: Event | None = None  # an organiser's event: what it can serve now, its floor
    floor: int = 0  # the lowest similarity bar the user may choose


def sidebar_and_upload() -> tuple[object | None, FaceSettings, str, bool]:
    with st.sidebar:
        st.header("Album")
        with st.expander("Settings"):
            st.caption("Changing any of these indexes the album again, once you apply them.")
            defaults = FaceSettings()
            if "face-model-in-effect" in st.session_state:  # the choice could not be had
                st.session_state["face-model"] = st.session_state.pop("face-model-in-effect")
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
            key=f"index-upload-{st.session_state.get('generation', 0)}",
        )
        generation = st.session_state.get("generation", 0)
        if saved is not None or st.session_state.get(f"album-upload-{generation}") is not None:
            st.button(  # only when there is something to forget
                "Forget this album",
                help="Drops the album, its faces and your queries now.",
                on_click=forget,
            )
    st.session_state["saved-index"] = saved
    return album_uploader(), *applied


def applied_settings(chosen: AlbumSettings) -> tuple[FaceSettings, str, bool]:
    """The settings the album is indexed with: what is chosen while no album is loaded; once
    one is, a change waits for Apply (it indexes the whole album again), or Cancel."""
    applied: AlbumSettings | None = st.session_state.get("applied-settings")
    if applied is None or st.session_state.get("album") is None:
        applied = st.session_state["applied-settings"] = chosen
    elif chosen != applied:
        st.warning("Apply these settings? The album is indexed again with them.")
        apply, cancel = st.columns(2)
        apply.button("Apply", key="settings-apply", on_click=apply_settings, args=(chosen,))
        cancel.button("Cancel", key="settings-cancel", on_click=restore_settings, args=(applied,))
    return applied.faces, applied.uform, applied.read_words


def apply_settings(chosen: AlbumSettings) -> None:
    st.session_state["applied-settings"] = chosen


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
    st.session_state.pop("settings-notices", None)
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
    key = f"album-upload-{st.session_state.get('generation', 0)}"
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
    generation = st.session_state.get("generation", 0)
    drop_album()
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state["generation"] = generation + 1
    st.session_state["forgotten"] = True


def album_key(upload, settings: FaceSettings, uform: str, read_words: bool) -> tuple:
    """Which album and settings an index is for: the upload's own id (a new upload, even of
    the same file, gets a new one), not a hash of up to 2 GB on every rerun."""
    return (upload.file_id, settings, uform, read_words)


def load_album(upload, settings: FaceSettings, uform: str, read_words: bool) -> LoadedAlbum:
    """The indexed album of this session, indexing it once per (upload, settings in effect):
    a choice that cannot be had here (FaceNet offline) is said, and indexes nothing again
    when what is in effect is what the album was indexed with."""
    saved = st.session_state.get("saved-index")
    if saved is not None:
        return open_saved(upload, saved)
    embedder = face_embedder(settings)
    in_effect = embedder.in_effect
    if in_effect.model != settings.model:  # say so, and show the model in effect in Settings
        st.session_state["settings-notices"] = list(embedder.notices)
        st.session_state["face-model-in-effect"] = in_effect.model
        st.session_state.pop("applied-settings", None)  # what is in effect is what applies
        st.rerun()
    for notice in st.session_state.get("settings-notices", []) + embedder.notices:
        st.sidebar.warning(notice)  # in view, not folded: the choice did not take effect
    key = album_key(upload, in_effect, uform, read_words)
    loaded: LoadedAlbum | None = st.session_state.get("album")
    if loaded is not None and loaded.key == key:
        return loaded
    drop_album()  # a new zip or new settings: drop the old one first
    album = Album(upload.getvalue())
    notices: list[str] = list(embedder.notices)
    bar = st.progress(0.0, text=f"Finding the faces in {plural(len(album), 'photo')}…")
    try:
        index, seconds = build_with_progress(embedder, album, uform, notices, bar)
    finally:
        bar.empty()  # also when the album is refused
    loaded = LoadedAlbum(key, album, index, notices, seconds)
    if read_words:  # faces are searchable now; the bib numbers follow (facefind.indexing.reading)
        loaded.reading = BackgroundReading(index, album, WordReader())
    st.session_state["album"] = loaded
    return loaded


def drop_album() -> None:
    """Forget this session's album, stopping the reading of its words."""
    loaded: LoadedAlbum | None = st.session_state.pop("album", None)
    if loaded is not None and loaded.reading is not None:
        loaded.reading.cancel()


def words_when_read(loaded: LoadedAlbum) -> None:
    """Once the words are read, the index with them replaces the one without (faces, People
    and the user's work on them are the same)."""
    reading = loaded.reading
    if reading is None or not reading.finished:
        return
    loaded.reading = None
    if reading.result is not None:
        loaded.index = reading.result
    elif reading.error:
        loaded.notices.append(reading.error)


@st.fragment(run_every=2)
def reading_progress(loaded: LoadedAlbum) -> None:
    """'Reading bib numbers: 340 of 900 photos, 2 min left', until they are read; then the
    page runs again with them (a text search typed meanwhile runs again by itself)."""
    reading = loaded.reading
    if reading is None or reading.finished:
        st.rerun()
    st.progress(reading.done / max(reading.total, 1), text=reading.line())


def open_saved(upload, saved) -> LoadedAlbum:
    """The album with the index the user saved before: nothing is indexed again."""
    key = (upload.file_id, saved.file_id)
    loaded: LoadedAlbum | None = st.session_state.get("album")
    if loaded is not None and loaded.key == key:
        return loaded
    drop_album()
    album = Album(upload.getvalue())
    index = AlbumIndex.load(io.BytesIO(saved.getvalue()))
    missing = album.missing(info.name for info in index.photos)
    if missing:
        raise FacefindError(
            f"This index was made from another album: {missing[0]} is not in {upload.name}. "
            "Upload the album it was made from, or remove the saved index to index this one."
        )
    notices = [f"Opened the saved index {saved.name}: nothing was indexed again."]
    loaded = LoadedAlbum(key, album, index, notices)
    notes = PeopleNotes.saved_with(index)
    if notes:  # the names, merges and corrections saved with it
        loaded.editor = PeopleEditor(notes)
    st.session_state["album"] = loaded
    return loaded


def index_file(loaded: LoadedAlbum, index: AlbumIndex) -> bytes:
    """The index as a .facefind file, made when the user saves it, with their People work
    (names, merges, corrections, hidden people) when there is some."""
    if loaded.editor is not None:
        index = replace(index, people_notes=loaded.editor.notes.to_json())
    buffer = io.BytesIO()
    index.save(buffer)
    return buffer.getvalue()


def build_with_progress(
    embedder: FaceEmbedder, album: Album, uform: str, notices: list[str], bar
) -> tuple[AlbumIndex, float]:
    """The album's faces (and descriptions), with the progress in the page."""
    rate = IndexingRate()

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=rate.line(done, total).capitalize())

    builder = IndexBuilder(embedder, photo_text_model(uform), notify=notices.append)
    index = builder.build(album, progress)
    return index, rate.seconds()


#: Nouns whose plural is not the noun with an s.
PLURALS = {"person": "people"}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else PLURALS.get(noun, noun + 's')}"


def summary(loaded: LoadedAlbum) -> None:
    """One compact row of figures, and one folded area for notices and skipped files, so the
    results are near the top even on a phone."""
    index = loaded.index
    with st.container(horizontal=True, gap="medium"):
        st.metric("Photos", len(index.photos), width="content")
        st.metric("Faces found", index.face_count, width="content")
        st.metric("Files skipped", len(index.skipped), width="content")
    details = [plural(len(loaded.notices), "notice")] if loaded.notices else []
    details += [plural(len(index.skipped), "skipped file")] if index.skipped else []
    if details:
        with st.expander("Details: " + ", ".join(details), icon=":material/info:"):
            for notice in loaded.notices:
                st.info(notice)
            if index.skipped:
                rows = [{"file": item.name, "why": item.reason} for item in index.skipped]
                st.dataframe(rows, hide_index=True, width="stretch")
    stem = str(st.session_state.get("album-name", "album")).rsplit(".", 1)[0]
    if not isinstance(index, AlbumIndex) or not index.photos:  # an event's, or nothing to save
        return
    st.sidebar.download_button(
        "Save the index",
        data=lambda: index_file(loaded, index),
        file_name=f"{slug(stem)}.facefind",
        mime="application/octet-stream",
        help="Open it later with the same album and nothing is indexed again. It holds the "
        "faces of everyone in the album: keep it as private as the photos.",
        icon=":material/save:",
        key="save-index",
    )
    if loaded.reading is not None:
        st.sidebar.caption(
            "The bib numbers are still being read: an index saved now holds none "
            "(`facefind words` reads them into it later)."
        )
    st.sidebar.caption(
        f"In use: the {index.model} face model, the {detector_name(index.detector)} detector"
        + (
            " (libfacedetection cannot be installed here)"
            if index.detector == FALLBACK_DETECTOR and not yuface_installed()
            else ""
        )
        + (f", {index.photo_model} for descriptions" if index.photo_model else "")
        + (f", {index.word_reader} for words in photos" if index.word_reader else "")
        + "."
        + ("" if index.photo_model else " No description model.")
    )


# --- results -----------------------------------------------------------------------------------


def show_like(loaded: LoadedAlbum, photo: int | None) -> None:
    """Before the rerun: switch the text tab to photos like this one (None: back)."""
    loaded.like = photo


#: The larger view is at least this wide for its height: a portrait photo is shown on a
#: landscape canvas, so that it fits a phone's width and a laptop's height alike.
LARGE_VIEW_ASPECT = 4 / 3


@st.dialog("Photo", width="large")
def show_large(loaded: LoadedAlbum, hits: list[PhotoHit], position: int) -> None:
    """One result, large, with the previous and next results and its own download."""
    position = st.session_state.get("large-position", position) % len(hits)
    hit = hits[position]
    data = loaded.album.read(loaded.album.entry(hit.name))
    picture = outlined_photo(data, hit)
    if picture.width < picture.height * LARGE_VIEW_ASPECT:
        size = (round(picture.height * LARGE_VIEW_ASPECT), picture.height)
        picture = ImageOps.pad(picture, size, color=(255, 255, 255))
    st.image(
        picture, caption=plain_text(f"{position + 1} of {len(hits)} · {hit.name}"), width="stretch"
    )
    back, forward, save = st.columns(3)
    if back.button("Previous", key="large-previous", icon=":material/chevron_left:"):
        st.session_state["large-position"] = position - 1
        st.rerun(scope="fragment")
    if forward.button("Next", key="large-next", icon=":material/chevron_right:"):
        st.session_state["large-position"] = position + 1
        st.rerun(scope="fragment")
    save.download_button(
        "Download",
        data=data,
        file_name=hit.name.rsplit("/", 1)[-1],
        key="large-download",
        icon=":material/download:",
    )


#: The cell every result thumbnail is fitted into (pixels, width x height).
GRID_CELL = (384, 288)


def results_grid(
    loaded: LoadedAlbum,
    hits: list[PhotoHit],
    key: str,
    like: bool = False,
    file_name: str = "photos.zip",
    remove: Callable[[PhotoHit], None] | None = None,
) -> None:
    """Thumbnails best first, with score and outlined faces; a bigger view; the download
    (a zip named after what it holds); with `remove`, a "Not this person" button each."""
    if loaded.event is not None:  # an event serves only the photos it holds as indexed
        hits = loaded.event.servable(hits)
    if not hits:  # nothing to show or download
        st.write("**No photo matched.**")
        return
    st.write(f"**{plural(len(hits), 'photo')}**")
    download(loaded, hits, key, file_name)
    for start in range(0, len(hits), COLUMNS):
        for column, hit in zip(st.columns(COLUMNS), hits[start : start + COLUMNS], strict=False):
            with column:
                thumbnail = ImageOps.pad(
                    outlined_thumbnail(loaded.index, hit), GRID_CELL, color=(255, 255, 255)
                )  # one shape for every cell, so the grid's rows line up
                st.image(thumbnail, caption=hit_caption(hit, key == "text"))
                st.checkbox("Choose", key=f"{key}-choose-{hit.photo}")
                view, more = st.columns(2)
                if view.button("Larger", key=f"{key}-view-{hit.photo}", icon=":material/zoom_in:"):
                    st.session_state.pop("large-position", None)
                    show_large(loaded, hits, start + hits[start : start + COLUMNS].index(hit))
                if like:
                    more.button(
                        "More like this",
                        key=f"{key}-like-{hit.photo}",
                        on_click=show_like,
                        args=(loaded, hit.photo),
                    )
                elif remove is not None:
                    more.button(
                        "Not this person",
                        key=f"{key}-not-{hit.photo}",
                        on_click=remove,
                        args=(hit,),
                    )


def hit_caption(hit: PhotoHit, text_search: bool) -> str:
    """Score and name, and why a text result matched: the words read, or "by face" (the
    person wearing the number searched for)."""
    why = ""
    if hit.words:
        why = " · " + ", ".join(f"“{word.text}”" for word in hit.words)
    elif hit.via == "face" and text_search:
        why = " · by face"
    return plain_text(f"{hit.score:.0f}% · {hit.name}{why}")


def slug(text: str, most: int = 40) -> str:
    """A file-name-safe form of what the user typed or named: "Anna Nowak" -> "anna-nowak"."""
    words = re.findall(r"\w+", text.casefold())
    return "-".join(words)[:most].strip("-") or "photos"


def download(loaded: LoadedAlbum, hits: list[PhotoHit], key: str, file_name: str) -> None:
    """A zip of the shown photos, or of those the user chose, built when asked for (it can be
    large) and kept until the results or the choice change."""
    chosen = [hit for hit in hits if st.session_state.get(f"{key}-choose-{hit.photo}")]
    names = tuple(hit.name for hit in chosen or hits)
    if chosen:
        these = "the chosen photo" if len(names) == 1 else f"the {len(names)} chosen photos"
    else:
        these = "this photo" if len(names) == 1 else f"these {len(names)} photos"
    prepared = loaded.download
    if prepared is not None and prepared[0] == names:
        left_out = prepared[1].left_out
        if left_out:
            st.warning(
                f"{plural(len(left_out), 'photo')} could not be read and "
                f"{'is' if len(left_out) == 1 else 'are'} not in the zip: "
                + plain_text(", ".join(item.name for item in left_out))
            )
        st.download_button(
            f"Download {these} (.zip)",
            data=prepared[1].data,
            file_name=file_name,
            mime="application/zip",
            key=f"{key}-download",
            icon=":material/download:",
        )
    elif st.button(
        f"Prepare a zip of {these}",
        key=f"{key}-prepare",
        icon=":material/folder_zip:",
    ):
        loaded.download = (names, loaded.album.zip_of(names))
        st.rerun()


# --- face search -------------------------------------------------------------------------------


#: A query photo is one picture: a selfie or a phone photo is a few MB; the album's 2 GB bound
#: (.streamlit/config.toml) is for the album zip alone.
QUERY_PHOTO_MB = 50


def query_photo_mb(loaded: LoadedAlbum) -> int:
    """The uploader's bound for a query photo (an event's server refuses more, whatever the
    browser sends: serving.bound_uploads)."""
    return EVENT_UPLOAD_MB if loaded.event is not None else QUERY_PHOTO_MB


def query_pictures(loaded: LoadedAlbum) -> list[tuple[str, str, bytes]]:
    """The pictures of the people to find: a webcam selfie and/or uploaded photos."""
    camera, files = st.columns(2)
    with files:
        uploads = st.file_uploader(
            "Upload photos of the people to find",
            type=PHOTO_TYPES,
            accept_multiple_files=True,
            key="query-photos",
            max_upload_size=query_photo_mb(loaded),
        )
    with camera:
        selfie = None
        if st.toggle("Take a selfie with the webcam", key="use-camera"):
            selfie = st.camera_input("Take a selfie", key="selfie")
    pictures = [("your selfie", selfie.getvalue())] if selfie else []
    pictures += [(upload.name, upload.getvalue()) for upload in uploads or []]
    return distinct_pictures(pictures)


def distinct_pictures(pictures: list[tuple[str, bytes]]) -> list[tuple[str, str, bytes]]:
    """(name, digest, bytes) of each picture, the same picture given twice shown once."""
    seen: dict[str, tuple[str, str, bytes]] = {}
    for name, data in pictures:
        digest = hashlib.sha256(data).hexdigest()[:16]
        seen.setdefault(digest, (name, digest, data))
    return list(seen.values())


def faces_of(
    loaded: LoadedAlbum, embedder: FaceEmbedder, name: str, digest: str, data: bytes
) -> list[Face]:
    """The faces of a query picture, found once per picture and album; while they are looked
    for (seconds where no face is found at first: the thorough detector tries) the page says
    so, instead of still asking for a photo."""
    if digest not in loaded.query_faces:
        with st.spinner(f"Looking for faces in {name}…"):
            loaded.query_faces[digest] = query_faces(embedder, data, name=name, all_faces=True)
    return loaded.query_faces[digest]


def choose_people(loaded: LoadedAlbum, pictures: list[tuple[str, str, bytes]]) -> list[tuple]:
    """Every face of the query pictures in one compact row (a few query photos do not push
    the results below the fold), each with a checkbox; returns the chosen (face, crop)."""
    embedder = face_embedder(loaded.index.settings)
    #: (picture digest, the face's place in its picture, the face, its crop)
    found: list[tuple[str, int, Face, Image.Image]] = []
    names = []
    for name, digest, data in pictures:
        try:
            faces = faces_of(loaded, embedder, name, digest, data)
        except FacefindError as error:
            st.warning(str(error))
            continue
        names.append(name)
        crops = face_crops(data, [face.box for face in faces], query=True)
        pairs = enumerate(zip(faces, crops, strict=True))
        found += [(digest, number, face, crop) for number, (face, crop) in pairs]
    if not found:
        return []
    st.caption(f"Faces in {plain_text(', '.join(names))}: tick who to look for")
    columns = st.columns(QUERY_COLUMNS)
    chosen: list[tuple] = []
    for position, (digest, number, face, crop) in enumerate(found):
        with columns[position % QUERY_COLUMNS]:
            st.image(crop, width=96)
            if st.checkbox("Find", value=number == 0, key=f"pick-{digest}-{number}"):
                chosen.append((face, crop))
    return chosen


#: Query faces in a row: three query photos of three faces each fit in one.
QUERY_COLUMNS = 10


def legend(chosen: list[tuple]) -> None:
    """The chosen faces framed in the colour their matches are outlined with."""
    st.caption("Looking for (matches are outlined in the same colour):")
    columns = st.columns(8)
    for person, (_, crop) in enumerate(chosen):
        framed = ImageOps.expand(crop.resize((72, 72)), border=5, fill=person_colour(person))
        columns[person % len(columns)].image(framed, caption=f"person {person + 1}")


MATCH_LABELS = ["any of them", "all of them together"]


def face_tab(loaded: LoadedAlbum) -> list[PhotoHit] | None:
    """The face search; returns its results (None: no search), which the text tab can narrow."""
    pictures = query_pictures(loaded)
    if not pictures:
        st.info("Take a selfie or upload a photo of the people you are looking for.")
        return None
    chosen = choose_people(loaded, pictures)
    if not chosen:
        return None
    if len(chosen) > 1:
        legend(chosen)
    mode: MatchMode = "any"
    if len(chosen) > 1:
        # kept apart from the widget's own state, which Streamlit drops while the radio is
        # not shown (one person chosen), so the choice survives a change of query photos
        saved = st.session_state.get("match-mode", MATCH_LABELS[0])
        label = st.radio(
            "Photos with",
            MATCH_LABELS,
            index=MATCH_LABELS.index(saved),
            horizontal=True,
            key="mode",
        )
        st.session_state["match-mode"] = label
        mode = "all" if label == MATCH_LABELS[1] else "any"
    level = st.slider(
        "Level of similarity (%)",
        loaded.floor,
        100,
        max(int(DEFAULT_MIN_SCORE), loaded.floor),
        key="level",
        help="50% is the face model's own 'same person' threshold. Lower finds more."
        + (f" This event's lowest is {loaded.floor}%." if loaded.floor else ""),
    )
    level = max(level, loaded.floor)  # the bound is the server's, whatever the browser sent
    expand = st.toggle(
        "Search again with the photos it is sure of",
        True,
        key="expand",
        help="Faces found far above the bar join your photo for a second search: finds the "
        "photos where you look less like your selfie.",
    )
    queries = stack_embeddings([face for face, _ in chosen])
    hits = search_faces(loaded.index, queries, mode, float(level), expand=expand)
    if not hits:
        st.info("Not found at this level of similarity. Try lowering it.")
        return hits
    names = "-and-".join(slug(name.rsplit(".", 1)[0]) for name, _, _ in pictures)
    results_grid(loaded, hits, "faces", file_name=f"photos-of-{slug(names, 60)}.zip")
    return hits


# --- text search -------------------------------------------------------------------------------


def text_tab(loaded: LoadedAlbum, face_hits: list[PhotoHit] | None) -> None:
    index = loaded.index
    described = index.photo_vectors() is not None
    text = st.text_input(
        "A bib number, words in the photo, or a description"
        if described
        else "A bib number or words written in the photo",
        placeholder="1234, or runner crossing the finish line at night",
    )
    if not described and event_location():  # runners get no organiser's instructions
        st.caption("Numbers and words written in the photos can be searched here.")
    elif not described:
        st.caption(
            'Numbers and words written in the photos work now. Descriptions ("runner at '
            'night") need the UForm text model, which downloads once when there is internet: '
            "check the connection, then upload the album again."
        )
    count = st.slider("How many described photos", 4, 100, 20, step=4) if described else 20
    within = None
    if face_hits and st.checkbox("Only photos of the people chosen in Face search"):
        within = face_hits
    if loaded.like is not None and described:
        st.write(f"More like **{plain_text(index.photos[loaded.like].name)}**")
        st.button("Back to the description", on_click=show_like, args=(loaded, None))
        like = index.photos[loaded.like].name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        hits = similar_photos(index, loaded.like, count)
        results_grid(loaded, hits, "like", like=True, file_name=f"like-{slug(like)}.zip")
        return
    picture = None
    if described:
        picture = st.file_uploader(
            "…or find photos like this picture",
            type=PHOTO_TYPES,
            key="like-picture",
            max_upload_size=query_photo_mb(loaded),
        )
    if text.strip():
        number = text.strip()
        file_name = f"bib-{number}.zip" if number.isdigit() else f"photos-{slug(text)}.zip"
        hits = text_hits(loaded, text, count, within)
        if hits or loaded.reading is None:  # while the words are read, the note says it all
            results_grid(loaded, hits, "text", like=described, file_name=file_name)
    elif picture is not None:
        model = photo_text_model(str(index.photo_model))
        hits = similar_to_picture(index, model, picture.getvalue(), count)
        results_grid(loaded, hits, "picture", like=True)


def text_hits(
    loaded: LoadedAlbum, text: str, count: int, within: list[PhotoHit] | None
) -> list[PhotoHit]:
    """Photos whose written words match first (and, when asked, the other photos of whoever
    wears them), then the best described ones where the album was described."""
    index = loaded.index
    if loaded.reading is not None:
        left = loaded.reading.total - loaded.reading.done
        st.info(
            f"The bib numbers and words of {plural(left, 'photo')} are still being read: "
            "this search runs again by itself when they are."
        )
        found = WordResults([], [])
    else:
        found = word_search(index, text, within)
    if (
        found.hits
        and within is None
        and st.toggle(
            f"Also photos of the person wearing {text.strip()}",
            help='Finds their other photos by the face above the number; marked "by face".',
        )
    ):
        found = wearer_search(index, found, text)
    for note in found.notes:
        st.info(note)
    if index.photo_vectors() is None:
        return found.hits
    model = photo_text_model(str(index.photo_model))
    return with_descriptions(index, found, model, text, count, within)


# --- people -----------------------------------------------------------------------------------

WALL_COLUMNS = 6
#: People seen in one photo are shown folded, at most this many faces (each is a crop to make).
ONCE_SHOWN = 48


def people_editor(loaded: LoadedAlbum) -> PeopleEditor:
    """Everyone in the album, people seen once included, with the user's merges, names and
    corrections (grouped once per album, kept for the session)."""
    if loaded.editor is None:
        loaded.editor = PeopleEditor.starting_from(group_people(loaded.index, min_photos=1))
    return loaded.editor


def person_face(loaded: LoadedAlbum, face: int):
    """The crop of one album face, made once per album."""
    if face not in loaded.person_faces:
        found = loaded.index.faces([face])
        name = loaded.index.photos[int(found.photos[0])].name
        data = loaded.album.read(loaded.album.entry(name))
        loaded.person_faces[face] = face_crops(data, [found.box(0)], size=128)[0]
    return loaded.person_faces[face]


def person_label(loaded: LoadedAlbum, person: Person) -> str:
    return people_editor(loaded).label(person)


def choose_person(loaded: LoadedAlbum, person_id: int | None) -> None:
    """Before the rerun: open a person's page (None: back to everyone), on the People tab
    whatever the browser's tab was when the click left it."""
    loaded.person = person_id
    st.session_state["tab"] = "People"


def undo_button(loaded: LoadedAlbum) -> None:
    """Undo beside every People action, on the wall and on a person's page, saying what it
    takes back; several steps deep (people_editor.UNDO_STEPS)."""
    editor = people_editor(loaded)
    if editor.last_change:
        st.button(
            f"Undo: {editor.last_change}",
            key="undo",
            on_click=undo_people,
            args=(loaded,),
            icon=":material/undo:",
        )


def undo_people(loaded: LoadedAlbum) -> None:
    editor = people_editor(loaded)
    editor.undo()
    for key in [key for key in st.session_state if str(key).startswith("name-")]:
        del st.session_state[key]  # the name boxes show the names as they are again
    if loaded.person is not None and (
        editor.person(loaded.person) is None or editor.is_hidden(loaded.person)
    ):
        loaded.person = None


def ask_merge(ids: list[int]) -> None:
    st.session_state["merge-asked"] = ids


def merge_people(loaded: LoadedAlbum, ids: list[int]) -> None:
    """Before the rerun: the confirmed people become one (the smallest id), for this session."""
    people_editor(loaded).merge(ids)
    st.session_state.pop("merge-asked", None)
    st.session_state["merge-mode"] = False
    for person_id in ids:
        st.session_state.pop(f"merge-{person_id}", None)


def hide_person(loaded: LoadedAlbum, person_id: int, hidden: bool) -> None:
    if hidden:
        people_editor(loaded).hide(person_id)
        loaded.person = None
    else:
        people_editor(loaded).show(person_id)


def not_this_person(loaded: LoadedAlbum, person_id: int, hit: PhotoHit) -> None:
    """Before the rerun: take this photo from the person ("not this person")."""
    editor = people_editor(loaded)
    editor.not_this_person(loaded.index, person_id, hit.photo)
    if editor.person(person_id) is None:
        loaded.person = None


def rename_person(loaded: LoadedAlbum, person_id: int) -> None:
    people_editor(loaded).rename(person_id, st.session_state.get(f"name-{person_id}", ""))


def people_tab(loaded: LoadedAlbum) -> None:
    editor = people_editor(loaded)
    people = editor.people
    by_id = {person.id: person for person in people.people}
    if loaded.person in by_id:
        person_page(loaded, by_id[loaded.person])
        return
    shown = [person for person in people.people if not editor.is_hidden(person.id)]
    wall = [person for person in shown if len(person.photos) >= 2]
    once = [person for person in shown if len(person.photos) == 1]
    if not people.people:
        st.info("No face was found in this album.")
        return
    st.caption(
        f"{plural(len(wall), 'person')} seen in two or more photos, most photos first. "
        "Choose one to see their photos."
    )
    undo_button(loaded)
    merging = st.toggle("Merge people who are the same person", key="merge-mode")
    if merging:  # the button at the top, where the ticks start, not below everyone
        merge_controls(
            loaded, [person for person in shown if st.session_state.get(f"merge-{person.id}")]
        )
    face_wall(loaded, wall, merging)
    if once:
        title = f"{plural(len(once), 'person')} seen in one photo"
        with st.expander(title):
            face_wall(loaded, once[:ONCE_SHOWN], merging)
            if len(once) > ONCE_SHOWN:
                st.caption(f"…and {len(once) - ONCE_SHOWN} more.")
    hidden = [person for person in people.people if editor.is_hidden(person.id)]
    if hidden:
        with st.expander(f"Hidden ({len(hidden)})"):
            for person in hidden:
                st.button(
                    f"Show {person_label(loaded, person)} again",
                    key=f"unhide-{person.id}",
                    on_click=hide_person,
                    args=(loaded, person.id, False),
                )


def face_wall(loaded: LoadedAlbum, people: list[Person], merging: bool) -> None:
    """One face per person, in rows (so a phone, which stacks the columns, keeps the order),
    each with the button that opens their page, or a tick when merging."""
    for start in range(0, len(people), WALL_COLUMNS):
        row = people[start : start + WALL_COLUMNS]
        for column, person in zip(st.columns(WALL_COLUMNS), row, strict=False):
            with column:
                st.image(person_face(loaded, person.face), caption=person_label(loaded, person))
                if merging:
                    st.checkbox("Same person", key=f"merge-{person.id}")
                else:
                    st.button(
                        plural(len(person.photos), "photo"),
                        key=f"person-{person.id}",
                        on_click=choose_person,
                        args=(loaded, person.id),
                    )


def merge_controls(loaded: LoadedAlbum, chosen: list[Person]) -> None:
    """Ask before merging: a merge joins their photos for the whole session (Undo reverts)."""
    ids = [person.id for person in chosen]
    if st.session_state.get("merge-asked") == ids and len(ids) >= 2:
        names = ", ".join(person_label(loaded, person) for person in chosen)
        st.warning(f"Merge {len(ids)} people into one? {names}.")
        yes, no = st.columns(2)
        yes.button("Merge them", key="merge-yes", on_click=merge_people, args=(loaded, ids))
        no.button("Cancel", key="merge-no", on_click=ask_merge, args=([],))
        return
    st.button(
        f"Merge {plural(len(ids), 'person')}…" if len(ids) >= 2 else "Tick two or more people",
        key="merge-ask",
        disabled=len(ids) < 2,
        on_click=ask_merge,
        args=(ids,),
    )


def person_page(loaded: LoadedAlbum, person: Person) -> None:
    """A person's own page: their photos at once, at the top, with what can be done."""
    st.button(
        "Back to everyone",
        key="people-back",
        on_click=choose_person,
        args=(loaded, None),
        icon=":material/arrow_back:",
    )
    undo_button(loaded)
    st.subheader(f"{person_label(loaded, person)} · {plural(len(person.photos), 'photo')}")
    with st.expander("Name or hide this person"):  # folded: their photos come first, in view
        st.text_input(
            "Name",
            value=people_editor(loaded).name(person.id) or "",
            key=f"name-{person.id}",
            placeholder="Give this person a name",
            on_change=rename_person,
            args=(loaded, person.id),
        )
        st.button(
            "Hide this person",
            key=f"hide-{person.id}",
            on_click=hide_person,
            args=(loaded, person.id, True),
        )
    more = st.toggle(
        "Find more like this person",
        key=f"more-like-{person.id}",
        help="A face search with all of their faces: finds their photos that were not grouped "
        "with them.",
    )
    if more:
        hits = search_faces(loaded.index, person_query(loaded.index, person))
    else:
        hits = person_hits(loaded.index, person)
    if not hits:
        st.info("No photo of this person at the default level of similarity.")
        return
    name = people_editor(loaded).name(person.id)
    file_name = f"photos-of-{slug(name)}.zip" if name else f"person-{person.id}.zip"
    remove = None if more else (lambda hit: not_this_person(loaded, person.id, hit))
    results_grid(loaded, hits, "people", file_name=file_name, remove=remove)


# --- page --------------------------------------------------------------------------------------


def event_page(where: str) -> None:
    """An organiser's event: no upload; a runner finds their photos by selfie or bib number.
    Their query and results live in their own session; the store is shared, and followed as
    photos are indexed while the event is served."""
    bound_uploads()  # the server's own bound on uploads, and none spooled to disk
    bound_memory()  # memory under many sessions at once: what the photos at once need
    st.title("Find your photos")
    try:
        event = shared_event(where)
    except Exception as error:  # the details are the organiser's: in the server's log
        st.warning(runner_message(error))
        return
    try:
        event.refresh()
    except Exception as error:  # the page is drawn as it was; a search says if it fails too
        runner_message(error)
    loaded: LoadedAlbum | None = st.session_state.get("album")
    if loaded is None or loaded.key != ("event", where):
        loaded = LoadedAlbum(("event", where), event.album, event.store, event=event)
        st.session_state["album"] = loaded
    loaded.album, loaded.index, loaded.floor = event.album, event.store, event_floor()
    st.write(
        f"{plural(event.photo_count(), 'photo')} of this event. Take a selfie or type your "
        "bib number: your photo is used for this search only and never kept."
    )
    faces, words = st.tabs(["Selfie", "Bib number"], key="tab")
    with faces:
        face_hits = runner_safe(face_tab, loaded)
    with words:
        runner_safe(text_tab, loaded, face_hits)


def runner_safe(tab: Callable, *args: object) -> object:
    """Draw a tab of the event page; whatever fails, the runner is told only what they can
    act on, and the other tab still works."""
    try:
        return tab(*args)
    except Exception as error:
        st.warning(runner_message(error))
        return None


def main() -> None:
    event = event_location()
    if event:
        event_page(event)
        return
    st.title("facefind")
    upload, settings, uform, read_words = sidebar_and_upload()
    if st.session_state.pop("forgotten", False):
        st.success("The album, its faces and your queries are forgotten.")
    if upload is None:
        drop_album()
        saved = st.session_state.get("saved-index")
        if saved is not None:
            st.info(
                f"Opened the saved index {saved.name}. Now upload, above, the zip of the album "
                "it was made from: nothing is indexed again."
            )
            return
        st.write(
            "Upload the zip of your event photos above, then find yourself with a selfie, your "
            "bib number, or a description of the photo you want. Everything stays on this "
            "computer."
        )
        return
    st.session_state["album-name"] = getattr(upload, "name", "album")
    loaded = load_album(upload, settings, uform, read_words)
    words_when_read(loaded)
    summary(loaded)
    if not loaded.index.photos:  # every photo was broken: nothing to search or save
        st.warning(
            "No photo of this album could be read: the files skipped, and why, are under "
            "Details above."
        )
        return
    if loaded.reading is not None:  # the fragment reruns itself every 2 s only while needed
        reading_progress(loaded)
    # keyed, so that a rerun (a toggle, a result) keeps the tab the user is on
    # the tab in use is the server's (rerun on a change), so an action can open its own tab
    faces, words, everyone = st.tabs(
        ["Face search", "Text search", "People"], key="tab", on_change="rerun"
    )
    with faces:
        face_hits = face_tab(loaded)
    with words:
        text_tab(loaded, face_hits)
    with everyone:
        people_tab(loaded)


try:
    main()
except FacefindError as error:
    st.error(str(error))
except Exception as error:  # a friendly message in the page; the traceback in the server's log
    logging.getLogger("facefind").error("Unexpected error in the app", exc_info=error)
    st.error(f"Something went wrong: {error}")
