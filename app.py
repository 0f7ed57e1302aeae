"""facefind's Streamlit app: upload an album zip, find yourself by selfie or by words, download.

A thin layer of widgets over the `facefind` library: indexing, search and pictures all come
from it. The album, its index and the query photos live in this browser session's state only,
and are dropped when the session ends or the user presses "Forget this album".
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

import streamlit as st
from PIL import ImageOps

from facefind.archive import Album
from facefind.config import DETECTORS, FACE_MODELS, FaceSettings, preferred_detector
from facefind.errors import FacefindError
from facefind.faces import Face, FaceEmbedder
from facefind.gallery import face_crops, outlined_photo, outlined_thumbnail, person_colour
from facefind.index import AlbumIndex, IndexBuilder
from facefind.search import (
    DEFAULT_MIN_SCORE,
    PhotoHit,
    query_faces,
    search_faces,
    similar_photos,
    similar_to_picture,
    stack_embeddings,
    text_search,
)
from facefind.semantic import UFORM_MODELS, PhotoTextModel, configured_model

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


# --- the album ---------------------------------------------------------------------------------


@dataclass
class LoadedAlbum:
    """What this session knows about its album. Never shared with other sessions."""

    key: str
    album: Album
    index: AlbumIndex
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sidebar() -> tuple[object | None, FaceSettings, str]:
    with st.sidebar:
        st.header("Album")
        upload = st.file_uploader(
            "Your album (.zip)",
            type=["zip"],
            help="Read in memory, never saved to disk.",
            # a new key after "Forget this album" gives an empty uploader
            key=f"album-upload-{st.session_state.get('generation', 0)}",
        )
        with st.expander("Settings"):
            st.caption("Changing any of these indexes the album again.")
            defaults = FaceSettings()
            model = st.selectbox("Face model", FACE_MODELS, index=FACE_MODELS.index(defaults.model))
            detector = st.selectbox(
                "Face detector", DETECTORS, index=DETECTORS.index(preferred_detector(model)),
                help="Each model's best detector by DeepFace's own tests is chosen for it. "
                "yunet downloads its weights on first use.",
            )
            confidence = st.slider(
                "Minimum face confidence", 0.0, 1.0, defaults.min_confidence, 0.05,
                help="Faces the detector is less sure of are ignored.",
            )
            thorough = st.checkbox(
                "Thorough face detection (slower)", defaults.thorough,
                help="Photos where no face is found get a second look with a slower detector "
                "that finds turned and dark faces: about 3 s more for each such photo.",
            )
            uform_choices = list(dict.fromkeys([configured_model(), *UFORM_MODELS]))
            uform = st.selectbox("Text model (UForm)", uform_choices)
        st.button(
            "Forget this album",
            help="Drops the album, its faces and your queries now.",
            on_click=forget,
        )
    return upload, FaceSettings(model, detector, confidence, thorough=thorough), uform


def forget() -> None:
    """Drop everything this session holds: the album, its index, the queries, the uploads."""
    generation = st.session_state.get("generation", 0)
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state["generation"] = generation + 1
    st.session_state["forgotten"] = True


def album_key(data: bytes, settings: FaceSettings, uform: str) -> str:
    return hashlib.sha256(data).hexdigest() + repr(settings) + uform


def load_album(upload, settings: FaceSettings, uform: str) -> LoadedAlbum | None:
    """The indexed album of this session, indexing it once per (zip, settings)."""
    data = upload.getvalue()
    key = album_key(data, settings, uform)
    loaded: LoadedAlbum | None = st.session_state.get("album")
    if loaded is not None and loaded.key == key:
        return loaded
    st.session_state.pop("album", None)  # a new zip or new settings: drop the old one first
    album = Album(data)
    notices: list[str] = []
    embedder = face_embedder(settings)
    notices.extend(embedder.notices)
    bar = st.progress(0.0, text=f"Indexing {len(album)} photos…")
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        left = (total - done) / rate
        bar.progress(
            done / total,
            text=f"Indexed {done}/{total} photos · {rate:.1f} photos/s · {left:.0f} s left",
        )

    builder = IndexBuilder(embedder, photo_text_model(uform), notify=notices.append)
    index = builder.build(album, progress)
    bar.empty()
    loaded = LoadedAlbum(key, album, index, notices, time.monotonic() - started)
    st.session_state["album"] = loaded
    return loaded


def show_skipped(skipped) -> None:
    if skipped:
        with st.expander(f"{len(skipped)} files skipped"):
            rows = [{"file": item.name, "why": item.reason} for item in skipped]
            st.dataframe(rows, hide_index=True, use_container_width=True)


def summary(loaded: LoadedAlbum) -> None:
    index = loaded.index
    left, middle, right = st.columns(3)
    left.metric("Photos", len(index.photos))
    middle.metric("Faces found", index.face_count)
    right.metric("Files skipped", len(index.skipped))
    for notice in loaded.notices:
        st.info(notice)
    show_skipped(index.skipped)


# --- results -----------------------------------------------------------------------------------


def show_like(photo: int) -> None:
    """Before the rerun: switch the text tab to photos like this one."""
    st.session_state["like"] = photo


@st.dialog("Photo", width="large")
def show_large(loaded: LoadedAlbum, hit: PhotoHit) -> None:
    data = loaded.album.read(loaded.album.entry(hit.name))
    st.image(outlined_photo(data, hit), caption=hit.name)


def results_grid(loaded: LoadedAlbum, hits: list[PhotoHit], key: str, like: bool = False) -> None:
    """Thumbnails best first, with score and outlined faces; a bigger view; the download."""
    st.write(f"**{len(hits)} photos**")
    download(loaded, hits, key)
    for start in range(0, len(hits), COLUMNS):
        for column, hit in zip(st.columns(COLUMNS), hits[start : start + COLUMNS]):
            with column:
                st.image(outlined_thumbnail(loaded.index, hit), caption=f"{hit.score:.0f}% · {hit.name}")
                view, more = st.columns(2)
                if view.button("Larger", key=f"{key}-view-{hit.photo}", icon=":material/zoom_in:"):
                    show_large(loaded, hit)
                if like:
                    more.button(
                        "More like this",
                        key=f"{key}-like-{hit.photo}",
                        on_click=show_like,
                        args=(hit.photo,),
                    )


def download(loaded: LoadedAlbum, hits: list[PhotoHit], key: str) -> None:
    """A zip of the shown photos, built when asked for (it can be large) and kept until the
    results change."""
    names = tuple(hit.name for hit in hits)
    prepared = st.session_state.get("download")
    if prepared is not None and prepared[0] == names:
        st.download_button(
            f"Download these {len(names)} photos (.zip)",
            data=prepared[1],
            file_name="facefind-photos.zip",
            mime="application/zip",
            key=f"{key}-download",
            icon=":material/download:",
        )
    elif st.button(
        f"Prepare a zip of these {len(names)} photos", key=f"{key}-prepare", icon=":material/folder_zip:"
    ):
        st.session_state["download"] = (names, loaded.album.zip_of(names))
        st.rerun()


# --- face search -------------------------------------------------------------------------------


def query_pictures() -> list[tuple[str, bytes]]:
    """The pictures of the people to find: a webcam selfie and/or uploaded photos."""
    camera, files = st.columns(2)
    with files:
        uploads = st.file_uploader(
            "Upload photos of the people to find",
            type=PHOTO_TYPES,
            accept_multiple_files=True,
            key="query-photos",
        )
    with camera:
        selfie = None
        if st.toggle("Take a selfie with the webcam", key="use-camera"):
            selfie = st.camera_input("Take a selfie", key="selfie")
    pictures = [("your selfie", selfie.getvalue())] if selfie else []
    return pictures + [(upload.name, upload.getvalue()) for upload in uploads or []]


def faces_of(embedder: FaceEmbedder, name: str, data: bytes) -> list[Face]:
    """The faces of a query picture, found once per picture and session."""
    cache = st.session_state.setdefault("query-faces", {})
    key = (hashlib.sha256(data).hexdigest(), embedder.settings)
    if key not in cache:
        cache[key] = query_faces(embedder, data, name=name, all_faces=True)
    return cache[key]


def choose_people(loaded: LoadedAlbum, pictures: list[tuple[str, bytes]]) -> list[tuple]:
    """Show every face of the query pictures with a checkbox; return the chosen (face, crop)."""
    embedder = face_embedder(loaded.index.settings)
    chosen: list[tuple] = []
    for name, data in pictures:
        try:
            faces = faces_of(embedder, name, data)
        except FacefindError as error:
            st.warning(str(error))
            continue
        st.caption(f"Faces in {name}: tick who to look for")
        columns = st.columns(8)
        for number, (face, crop) in enumerate(zip(faces, face_crops(data, faces))):
            with columns[number % len(columns)]:
                st.image(crop, width=110)
                digest = hashlib.sha256(data).hexdigest()[:12]
                if st.checkbox("Find", value=number == 0, key=f"pick-{digest}-{number}"):
                    chosen.append((face, crop))
    return chosen


def legend(chosen: list[tuple]) -> None:
    """The chosen faces framed in the colour their matches are outlined with."""
    st.caption("Looking for (matches are outlined in the same colour):")
    columns = st.columns(8)
    for person, (_, crop) in enumerate(chosen):
        framed = ImageOps.expand(crop.resize((72, 72)), border=5, fill=person_colour(person))
        columns[person % len(columns)].image(framed, caption=f"person {person + 1}")


def face_tab(loaded: LoadedAlbum) -> None:
    pictures = query_pictures()
    if not pictures:
        st.info("Take a selfie or upload a photo of the people you are looking for.")
        return
    chosen = choose_people(loaded, pictures)
    if not chosen:
        st.session_state["face-hits"] = None
        return
    if len(chosen) > 1:
        legend(chosen)
    mode = "any"
    if len(chosen) > 1:
        label = st.radio(
            "Photos with", ["any of them", "all of them together"], horizontal=True, key="mode"
        )
        mode = "all" if label == "all of them together" else "any"
    level = st.slider(
        "Level of similarity (%)", 0, 100, int(DEFAULT_MIN_SCORE), key="level",
        help="50% is the face model's own 'same person' threshold. Lower finds more.",
    )
    expand = st.toggle(
        "Search again with the photos it is sure of", True, key="expand",
        help="Faces found far above the bar join your photo for a second search: finds the "
        "photos where you look less like your selfie.",
    )
    queries = stack_embeddings([face for face, _ in chosen])
    hits = search_faces(loaded.index, queries, mode, float(level), expand=expand)
    st.session_state["face-hits"] = hits
    if not hits:
        st.info("Not found at this level of similarity. Try lowering it.")
        return
    results_grid(loaded, hits, "faces")


# --- text search -------------------------------------------------------------------------------


def text_tab(loaded: LoadedAlbum) -> None:
    index = loaded.index
    if index.photo_embeddings is None:
        st.info(
            "Text search is not available for this album: the UForm text model could not be "
            "loaded when it was indexed (it downloads on first use). Face search works."
        )
        return
    model = photo_text_model(index.photo_model)
    text = st.text_input("Describe the photo", placeholder="runner crossing the finish line at night")
    count = st.slider("How many photos", 4, 100, 20, step=4)
    face_hits = st.session_state.get("face-hits")
    within = None
    if face_hits and st.checkbox("Only photos of the people chosen in Face search"):
        within = face_hits
    like = st.session_state.get("like")
    if like is not None:
        st.write(f"More like **{index.photos[like].name}**")
        if st.button("Back to the description"):
            st.session_state.pop("like")
            st.rerun()
        results_grid(loaded, similar_photos(index, like, count), "like", like=True)
        return
    picture = st.file_uploader(
        "…or find photos like this picture", type=PHOTO_TYPES, key="like-picture"
    )
    if text.strip():
        results_grid(loaded, text_search(index, model, text, count, within), "text", like=True)
    elif picture is not None:
        hits = similar_to_picture(index, model, picture.getvalue(), count)
        results_grid(loaded, hits, "picture", like=True)


# --- page --------------------------------------------------------------------------------------


def main() -> None:
    st.title("facefind")
    upload, settings, uform = sidebar()
    if st.session_state.pop("forgotten", False):
        st.success("The album, its faces and your queries are forgotten.")
    if upload is None:
        st.session_state.pop("album", None)
        st.write(
            "Upload the zip of your event photos in the sidebar, then find yourself with a "
            "selfie, or describe the photo you want. Everything stays on this computer."
        )
        return
    loaded = load_album(upload, settings, uform)
    if loaded is None:
        return
    summary(loaded)
    faces, words = st.tabs(["Face search", "Text search"])
    with faces:
        face_tab(loaded)
    with words:
        text_tab(loaded)


try:
    main()
except FacefindError as error:
    st.error(str(error))
except Exception as error:  # a friendly message in the page; the traceback in the server's log
    logging.getLogger("facefind").error("Unexpected error in the app", exc_info=error)
    st.error(f"Something went wrong: {error}")
