"""What one browser session knows (`LoadedAlbum`), and the models and event the server
loads once for every session (`st.cache_resource`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.semantic import PhotoTextModel
from facefind.config import (
    FaceSettings,
)
from facefind.indexing.reading import BackgroundReading
from facefind.search.people_editor import PeopleEditor
from facefind.sources.archive import PhotoSource, PhotoZip
from facefind.stores.base import IndexStore
from facefind.ui.event import Event

PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "heic", "heif", "bmp", "tif", "tiff", "gif"]


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


#: Nouns whose plural is not the noun with an s.
PLURALS = {"person": "people"}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else PLURALS.get(noun, noun + 's')}"
