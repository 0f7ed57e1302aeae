"""Face search: the query photos (a selfie, uploads), the faces in them to choose, the
match mode and the bar, and the results.
"""

from __future__ import annotations

import hashlib

import streamlit as st
from PIL import Image, ImageOps

from facefind.analysis.faces import Face, FaceEmbedder
from facefind.errors import FacefindError
from facefind.search.faces import (
    DEFAULT_MIN_SCORE,
    MatchMode,
    query_faces,
    search_faces,
    stack_embeddings,
)
from facefind.search.results import PhotoHit, plain_text
from facefind.ui.gallery import face_crops, person_colour
from facefind.ui.pages.results import results_grid, slug
from facefind.ui.pages.state import PHOTO_TYPES, LoadedAlbum, face_embedder, session
from facefind.ui.serving import EVENT_UPLOAD_MB

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
    """Every face of the query pictures in one compact, wrapping row, each with a checkbox;
    a chosen face is framed in the colour its matches are outlined with (no second row of
    the same faces as a legend). Returns the chosen (face, crop)."""
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
    ticked = [  # the boxes' values before they are drawn: the frames come before the boxes
        st.session_state.get(f"pick-{digest}-{number}", number == 0)
        for digest, number, _, _ in found
    ]
    several = sum(ticked) > 1
    one_person = match_label() == ONE_PERSON  # their faces framed in one colour
    hint = ", framed in the colour their photos are outlined in" if several else ""
    st.caption(f"Faces in {plain_text(', '.join(names))}: tick who to look for{hint}")
    chosen: list[tuple] = []
    with st.container(horizontal=True, key="faces-query"):  # wraps, on a phone too
        for (digest, number, face, crop), tick in zip(found, ticked, strict=True):
            with st.container():
                shown = crop
                if several and tick:
                    colour = person_colour(0 if one_person else len(chosen))
                    shown = ImageOps.expand(crop.resize((150, 150)), border=5, fill=colour)
                st.image(shown, width="stretch")
                if st.checkbox("Find", value=number == 0, key=f"pick-{digest}-{number}"):
                    chosen.append((face, crop))
    return chosen


#: Several photos of one person ("add another photo of you"): searched as one person.
ONE_PERSON = "one person, several photos"
MATCH_LABELS = ["any of them", "all of them together", ONE_PERSON]


def match_label() -> str:
    """The match mode as the radio will show it in this run (its new value after a click;
    the kept one while it is hidden)."""
    return st.session_state.get("mode") or session().match_mode or MATCH_LABELS[0]


def face_tab(loaded: LoadedAlbum) -> list[PhotoHit] | None:
    """The face search; returns its results (None: no search), which the text tab can narrow."""
    pictures = query_pictures(loaded)
    if not pictures:
        st.info("Take a selfie or upload a photo of the people you are looking for.")
        return None
    chosen = choose_people(loaded, pictures)
    if not chosen:
        return None
    mode: MatchMode = "any"
    if len(chosen) > 1:
        # kept apart from the widget's own state, which Streamlit drops while the radio is
        # not shown (one person chosen), so the choice survives a change of query photos
        saved = match_label()
        label = st.radio(
            "Photos with",
            MATCH_LABELS,
            index=MATCH_LABELS.index(saved),
            horizontal=True,
            key="mode",
        )
        session().match_mode = label
        mode = "all" if label == MATCH_LABELS[1] else "any"
    one_person = len(chosen) > 1 and session().match_mode == ONE_PERSON
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
        help="Faces found far above the bar join your photo for a second search, and a face "
        "just under the bar that is like two of the photos found of you is shown too (marked "
        "'like their other photos'): finds the photos where you look less like your selfie.",
    )
    # several photos of one person describe them better than any one of them: one query
    queries = stack_embeddings([face for face, _ in chosen], same_person=one_person)
    hits = search_faces(loaded.index, queries, mode, float(level), expand=expand, evidence=expand)
    if len(chosen) == 1:
        st.caption(
            "Missing some of your photos? Add another photo of you above, then choose "
            f"“{ONE_PERSON}”."
        )
    if not hits:
        st.info("Not found at this level of similarity. Try lowering it.")
        return hits
    names = "-and-".join(slug(name.rsplit(".", 1)[0]) for name, _, _ in pictures)
    results_grid(loaded, hits, "faces", file_name=f"photos-of-{slug(names, 60)}.zip")
    return hits
