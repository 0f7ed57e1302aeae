"""An album in a session: indexed once (or opened from a saved index), its summary, and its
words read in the background.
"""

from __future__ import annotations

import io
from dataclasses import replace

import streamlit as st

from facefind.analysis.detectors import yuface_installed
from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.words import WordReader
from facefind.config import (
    FALLBACK_DETECTOR,
    FaceSettings,
    detector_name,
)
from facefind.indexing.builder import IndexBuilder
from facefind.indexing.progress import IndexingRate
from facefind.indexing.reading import BackgroundReading
from facefind.search.people import PeopleNotes
from facefind.search.people_editor import PeopleEditor
from facefind.sources.archive import Album
from facefind.stores.npz import AlbumIndex
from facefind.stores.opening import check_album_of
from facefind.ui.pages.results import slug
from facefind.ui.pages.state import LoadedAlbum, face_embedder, photo_text_model, plural, session


def album_key(upload, settings: FaceSettings, uform: str, read_words: bool) -> tuple:
    """Which album and settings an index is for: the upload's own id (a new upload, even of
    the same file, gets a new one), not a hash of up to 2 GB on every rerun."""
    return (upload.file_id, settings, uform, read_words)


def load_album(upload, settings: FaceSettings, uform: str, read_words: bool) -> LoadedAlbum:
    """The indexed album of this session, indexing it once per (upload, settings in effect):
    a choice that cannot be had here (FaceNet offline) is said, and indexes nothing again
    when what is in effect is what the album was indexed with."""
    saved = session().saved_index
    if saved is not None:
        return open_saved(upload, saved)
    embedder = face_embedder(settings)
    in_effect = embedder.in_effect
    if in_effect.model != settings.model:  # say so, and show the model in effect in Settings
        session().settings_notices = list(embedder.notices)
        session().face_model_in_effect = in_effect.model
        session().take("applied_settings")  # what is in effect is what applies
        st.rerun()
    for notice in session().settings_notices + embedder.notices:
        st.sidebar.warning(notice)  # in view, not folded: the choice did not take effect
    key = album_key(upload, in_effect, uform, read_words)
    loaded: LoadedAlbum | None = session().album
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
    session().album = loaded
    return loaded


def drop_album() -> None:
    """Forget this session's album, stopping the reading of its words."""
    loaded: LoadedAlbum | None = session().take("album")
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
    loaded: LoadedAlbum | None = session().album
    if loaded is not None and loaded.key == key:
        return loaded
    drop_album()
    album = Album(upload.getvalue())
    index = AlbumIndex.load(io.BytesIO(saved.getvalue()))
    check_album_of(index, album, upload.name)
    notices = [f"Opened the saved index {saved.name}: nothing was indexed again."]
    loaded = LoadedAlbum(key, album, index, notices)
    notes = PeopleNotes.saved_with(index)
    if notes:  # the names, merges and corrections saved with it
        loaded.editor = PeopleEditor(notes)
    session().album = loaded
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
    stem = str(session().album_name).rsplit(".", 1)[0]
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
