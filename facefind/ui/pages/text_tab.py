"""Text search: bib numbers and words written in the photos, descriptions, "more like
this", narrowed to the people of the face search when asked.
"""

from __future__ import annotations

import streamlit as st

from facefind.search.ranking import similar_photos, similar_to_picture
from facefind.search.results import PhotoHit, plain_text
from facefind.search.words import WordResults, wearer_search, with_descriptions, word_search
from facefind.ui.event import event_location
from facefind.ui.pages.face_tab import query_photo_mb
from facefind.ui.pages.results import results_grid, show_like, slug
from facefind.ui.pages.state import PHOTO_TYPES, LoadedAlbum, photo_text_model, plural


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
