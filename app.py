"""facefind's Streamlit app: upload an album zip, find yourself by selfie or by words, download.

A thin layer of widgets over the `facefind` library: indexing, search and pictures all come
from it. The album, its index and the query photos live in this browser session's state only,
and are dropped when the session ends or the user presses "Forget this album".
"""

from __future__ import annotations

import logging

import streamlit as st

from facefind.errors import FacefindError
from facefind.ui.event import event_location
from facefind.ui.pages.album import (
    drop_album,
    load_album,
    reading_progress,
    summary,
    words_when_read,
)
from facefind.ui.pages.event_page import event_page
from facefind.ui.pages.face_tab import face_tab
from facefind.ui.pages.people import people_tab
from facefind.ui.pages.sidebar import sidebar_and_upload
from facefind.ui.pages.state import session
from facefind.ui.pages.style import page_style
from facefind.ui.pages.text_tab import text_tab

st.set_page_config(page_title="facefind", page_icon="🔎", layout="wide")
page_style()


def main() -> None:
    event = event_location()
    if event:
        event_page(event)
        return
    st.title("facefind")
    upload, settings, uform, read_words = sidebar_and_upload()
    if session().take("forgotten"):
        st.success("The album, its faces and your queries are forgotten.")
    if upload is None:
        drop_album()
        saved = session().saved_index
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
    session().album_name = getattr(upload, "name", "album")
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
