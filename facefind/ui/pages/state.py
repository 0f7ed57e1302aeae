"""What one browser session knows (`LoadedAlbum`), and the models and event the server
loads once for every session (`st.cache_resource`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.semantic import PhotoTextModel
from facefind.config import AlbumSettings, FaceSettings
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


@dataclass
class Session:
    """Everything one browser session carries from one part of the page, or one rerun, to the
    next: one typed object in `st.session_state` (widgets keep their own keyed values)."""

    album: LoadedAlbum | None = None
    #: a saved index opened in the sidebar, waiting for the album it was made from
    saved_index: Any = None
    album_name: str = "album"  # the uploaded zip's name, for the saved index's file name
    #: the settings the loaded album was indexed with (a change waits for Apply)
    applied_settings: AlbumSettings | None = None
    settings_notices: list[str] = field(default_factory=list)  # fallbacks said when indexing
    face_model_in_effect: str | None = None  # the model used when the chosen one was missing
    generation: int = 0  # bumped by Forget, so the uploaders start empty
    forgotten: bool = False  # say "forgotten" once, on the page after Forget
    match_mode: str | None = None  # "any"/"all", kept while the radio is hidden
    merge_asked: list[int] | None = None  # the people whose merge waits for confirmation
    large_position: int | None = None  # the result shown in the larger view

    def take(self, name: str) -> Any:
        """The value, reset to its default (what was said once, or used up)."""
        value = getattr(self, name)
        setattr(self, name, getattr(Session(), name))
        return value


def session() -> Session:
    """This browser session's state."""
    return st.session_state.setdefault("session", Session())
