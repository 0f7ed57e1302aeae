"""Text search: bib numbers and words written in the photos, descriptions, "more like
this", narrowed to the people of the face search when asked.
"""

from __future__ import annotations

import streamlit as st

from facefind.search.ranking import similar_photos, similar_to_picture
from facefind.search.results import PhotoHit, plain_text
from facefind.search.words import WordResults, text_results, with_descriptions
from facefind.ui.event import event_location
from facefind.ui.pages.face_tab import query_photo_mb
from facefind.ui.pages.results import results_grid, show_like, slug
from facefind.ui.pages.state import PHOTO_TYPES, LoadedAlbum, photo_text_model, plural


def text_tab(loaded: LoadedAlbum, face_hits: list[PhotoHit] | None) -> None:
    index = loaded.index
    described = index.described()
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
        hits = text_hits(loaded, text, count, within, described)
        if hits or loaded.reading is None:  # while the words are read, the note says it all
            results_grid(loaded, hits, "text", like=described, file_name=file_name)
    elif picture is not None:
        model = photo_text_model(str(index.photo_model))
        hits = similar_to_picture(index, model, picture.getvalue(), count)
        results_grid(loaded, hits, "picture", like=True)


#: No photo found by its words (yet: they are being read).
NO_WORDS = WordResults([], [])


def text_hits(
    loaded: LoadedAlbum, text: str, count: int, within: list[PhotoHit] | None, described: bool
) -> list[PhotoHit]:
    """Photos whose written words match first (and, when asked, the other photos of whoever
    wears them), then the best described ones where the album was described (`described`:
    asked once per page, a database answers it with a query)."""
    index = loaded.index
    model = photo_text_model(str(index.photo_model)) if described else None
    if loaded.reading is not None:
        left = loaded.reading.total - loaded.reading.done
        st.info(
            f"The bib numbers and words of {plural(left, 'photo')} are still being read: "
            "this search runs again by itself when they are."
        )
        return (
            [] if model is None else with_descriptions(index, NO_WORDS, model, text, count, within)
        )
    wearer_key = f"wearer-{text.strip()}"
    wearer = within is None and bool(st.session_state.get(wearer_key))
    found = text_results(index, text, within, wearer=wearer, photo_model=model, top=count)
    if any(hit.via == "words" for hit in found.hits) and within is None:
        st.toggle(
            f"Also photos of the person wearing {text.strip()}",
            key=wearer_key,
            help='Finds their other photos by the face above the number; marked "by face".',
        )
    for note in found.notes:
        st.info(note)
    return found.hits
