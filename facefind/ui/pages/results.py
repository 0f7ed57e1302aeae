"""Results as the user sees them: a grid of outlined thumbnails, a larger view, and the zip
of the photos shown or chosen.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import streamlit as st
from PIL import ImageOps

from facefind.search.results import BY_EVIDENCE, UNCLEAR_FACE, PhotoHit, plain_text
from facefind.ui.gallery import outlined_photo, outlined_thumbnail
from facefind.ui.pages.state import LoadedAlbum, plural, session


def show_like(loaded: LoadedAlbum, photo: int | None) -> None:
    """Before the rerun: switch the text tab to photos like this one (None: back)."""
    loaded.like = photo


#: Zoom levels of the larger view: how many times the window's width the photo is drawn, and
#: the longest side it is decoded at for that (more pixels only when they can be seen).
ZOOMS = {"Fit": (1, 1600), "2×": (2, 3200), "4×": (4, 6400)}


@st.dialog("Photo", width="large")
def show_large(loaded: LoadedAlbum, hits: list[PhotoHit], position: int) -> None:
    """One result, as large as the window allows with its buttons in view; zoomed on request
    (a phone's screen is a thumbnail's width); the arrow keys step through the results."""
    shown = session().large_position
    position = (position if shown is None else shown) % len(hits)
    hit = hits[position]
    data = loaded.album.read(loaded.album.entry(hit.name))
    # the zoom chosen (kept from photo to photo), read before its control is drawn under it
    times, side = ZOOMS.get(st.session_state.get("large-zoom") or "Fit", ZOOMS["Fit"])
    with st.container(key=f"large-photo-{times}x"):  # fitted or scrolled by the page's style
        st.image(
            outlined_photo(data, hit, side),
            caption=plain_text(f"{position + 1} of {len(hits)} · {hit.name}"),
            width="stretch",
        )
    with st.container(horizontal=True, key="large-actions"):  # one row, on a phone too
        if st.button(
            "Previous", key="large-previous", icon=":material/chevron_left:", shortcut="Left"
        ):
            session().large_position = position - 1
            st.rerun(scope="fragment")
        if st.button("Next", key="large-next", icon=":material/chevron_right:", shortcut="Right"):
            session().large_position = position + 1
            st.rerun(scope="fragment")
        st.download_button(
            "Download",
            data=data,
            file_name=hit.name.rsplit("/", 1)[-1],
            key="large-download",
            icon=":material/download:",
        )
        st.segmented_control(
            "Zoom", list(ZOOMS), default="Fit", key="large-zoom", label_visibility="collapsed"
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
    (a zip named after what it holds); with `remove`, a "Not this person" button each.

    The grid is one wrapping row whose cells the page's style sizes: four across on a laptop,
    two on a phone (as photo apps show them), each cell's actions in one row under it."""
    if loaded.event is not None:  # an event serves only the photos it holds as indexed
        hits = loaded.event.servable(hits)
    if not hits:  # nothing to show or download
        st.write("**No photo matched.**")
        return
    with st.container(horizontal=True, vertical_alignment="center"):  # one row: the count, the zip
        st.markdown(f"**{plural(len(hits), 'photo')}**", width="content")
        download(loaded, hits, key, file_name)
    with st.container(horizontal=True, key=f"grid-{key}"):
        for position, hit in enumerate(hits):
            with st.container(key=f"{key}-cell-{hit.photo}"):
                thumbnail = ImageOps.pad(
                    outlined_thumbnail(loaded.index, hit), GRID_CELL, color=(255, 255, 255)
                )  # one shape for every cell, so the grid's rows line up
                st.image(thumbnail, caption=hit_caption(hit, key == "text"), width="stretch")
                with st.container(horizontal=True, gap="small"):
                    st.checkbox("Choose", key=f"{key}-choose-{hit.photo}")
                    if st.button(
                        "Larger", key=f"{key}-view-{hit.photo}", icon=":material/zoom_in:"
                    ):
                        session().take("large_position")
                        show_large(loaded, hits, position)
                    if like:
                        st.button(
                            "More like this",
                            key=f"{key}-like-{hit.photo}",
                            on_click=show_like,
                            args=(loaded, hit.photo),
                        )
                    elif remove is not None:
                        st.button(
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
    elif hit.via == "album":  # under the bar, but like the photos found of them
        why = f" · {BY_EVIDENCE}"
    if hit.unclear:  # look twice: the model cannot be sure of such a face
        why += f" · {UNCLEAR_FACE}"
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
