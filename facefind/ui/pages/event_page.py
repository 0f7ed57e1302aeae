"""An organiser's event page: a runner's selfie or bib number, on the shared read-only
store; whatever fails, the runner is told only what they can act on.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from facefind.ui.event import event_floor, runner_message
from facefind.ui.pages.face_tab import face_tab
from facefind.ui.pages.state import LoadedAlbum, plural, session, shared_event
from facefind.ui.pages.text_tab import text_tab
from facefind.ui.serving import serve_publicly


def event_page(where: str) -> None:
    """An organiser's event: no upload; a runner finds their photos by selfie or bib number.
    Their query and results live in their own session; the store is shared, and followed as
    photos are indexed while the event is served."""
    serve_publicly()  # the server's own bounds on uploads and memory, set once
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
    loaded: LoadedAlbum | None = session().album
    if loaded is None or loaded.key != ("event", where):
        loaded = LoadedAlbum(("event", where), event.album, event.store, event=event)
        session().album = loaded
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
