"""People: everyone in the album without a query, a person's page, and the user's merges,
names, hidden people and Undo (search.people_editor).
"""

from __future__ import annotations

import streamlit as st

from facefind.search.faces import (
    search_faces,
)
from facefind.search.people import Person, group_people, person_hits, person_query
from facefind.search.people_editor import PeopleEditor
from facefind.search.results import PhotoHit
from facefind.ui.gallery import face_crops
from facefind.ui.pages.results import results_grid, slug
from facefind.ui.pages.state import LoadedAlbum, plural, session

#: People seen in one photo are shown folded, at most this many faces (each is a crop to make).
ONCE_SHOWN = 48


def people_editor(loaded: LoadedAlbum) -> PeopleEditor:
    """Everyone in the album, people seen once included, with the user's merges, names and
    corrections (grouped once per album, kept for the session)."""
    if loaded.editor is None:
        loaded.editor = PeopleEditor.starting_from(group_people(loaded.index, min_photos=1))
    return loaded.editor


def person_face(loaded: LoadedAlbum, face: int):
    """The crop of one album face, made once per album."""
    if face not in loaded.person_faces:
        found = loaded.index.faces([face])
        name = loaded.index.photos[int(found.photos[0])].name
        data = loaded.album.read(loaded.album.entry(name))
        loaded.person_faces[face] = face_crops(data, [found.box(0)], size=128)[0]
    return loaded.person_faces[face]


def person_label(loaded: LoadedAlbum, person: Person) -> str:
    return people_editor(loaded).label(person)


def choose_person(loaded: LoadedAlbum, person_id: int | None) -> None:
    """Before the rerun: open a person's page (None: back to everyone), on the People tab
    whatever the browser's tab was when the click left it."""
    loaded.person = person_id
    st.session_state["tab"] = "People"


def undo_button(loaded: LoadedAlbum) -> None:
    """Undo beside every People action, on the wall and on a person's page, saying what it
    takes back; several steps deep (people_editor.UNDO_STEPS)."""
    editor = people_editor(loaded)
    if editor.last_change:
        st.button(
            f"Undo: {editor.last_change}",
            key="undo",
            on_click=undo_people,
            args=(loaded,),
            icon=":material/undo:",
        )


def undo_people(loaded: LoadedAlbum) -> None:
    editor = people_editor(loaded)
    editor.undo()
    for key in [key for key in st.session_state if str(key).startswith("name-")]:
        del st.session_state[key]  # the name boxes show the names as they are again
    if loaded.person is not None and (
        editor.person(loaded.person) is None or editor.is_hidden(loaded.person)
    ):
        loaded.person = None


def ask_merge(ids: list[int]) -> None:
    session().merge_asked = ids


def merge_people(loaded: LoadedAlbum, ids: list[int]) -> None:
    """Before the rerun: the confirmed people become one (the smallest id), for this session."""
    people_editor(loaded).merge(ids)
    session().take("merge_asked")
    st.session_state["merge-mode"] = False
    for person_id in ids:
        st.session_state.pop(f"merge-{person_id}", None)


def hide_person(loaded: LoadedAlbum, person_id: int, hidden: bool) -> None:
    if hidden:
        people_editor(loaded).hide(person_id)
        loaded.person = None
    else:
        people_editor(loaded).show(person_id)


def not_this_person(loaded: LoadedAlbum, person_id: int, hit: PhotoHit) -> None:
    """Before the rerun: take this photo from the person ("not this person")."""
    editor = people_editor(loaded)
    editor.not_this_person(loaded.index, person_id, hit.photo)
    if editor.person(person_id) is None:
        loaded.person = None


def rename_person(loaded: LoadedAlbum, person_id: int) -> None:
    people_editor(loaded).rename(person_id, st.session_state.get(f"name-{person_id}", ""))


def people_tab(loaded: LoadedAlbum) -> None:
    editor = people_editor(loaded)
    people = editor.people
    by_id = {person.id: person for person in people.people}
    if loaded.person in by_id:
        person_page(loaded, by_id[loaded.person])
        return
    shown = [person for person in people.people if not editor.is_hidden(person.id)]
    wall = [person for person in shown if len(person.photos) >= 2]
    once = [person for person in shown if len(person.photos) == 1]
    if not people.people:
        st.info("No face was found in this album.")
        return
    st.caption(
        f"{plural(len(wall), 'person')} seen in two or more photos, most photos first. "
        "Choose one to see their photos."
    )
    undo_button(loaded)
    merging = st.toggle("Merge people who are the same person", key="merge-mode")
    if merging:  # the button at the top, where the ticks start, not below everyone
        merge_controls(
            loaded, [person for person in shown if st.session_state.get(f"merge-{person.id}")]
        )
    face_wall(loaded, wall, merging, "wall-people")
    if once:
        title = f"{plural(len(once), 'person')} seen in one photo"
        with st.expander(title):
            face_wall(loaded, once[:ONCE_SHOWN], merging, "wall-once")
            if len(once) > ONCE_SHOWN:
                st.caption(f"…and {len(once) - ONCE_SHOWN} more.")
    hidden = [person for person in people.people if editor.is_hidden(person.id)]
    if hidden:
        with st.expander(f"Hidden ({len(hidden)})"):
            for person in hidden:
                st.button(
                    f"Show {person_label(loaded, person)} again",
                    key=f"unhide-{person.id}",
                    on_click=hide_person,
                    args=(loaded, person.id, False),
                )


def face_wall(loaded: LoadedAlbum, people: list[Person], merging: bool, key: str) -> None:
    """One face per person in a wrapping row (six across on a laptop, three on a phone, in
    reading order), each with the button that opens their page, or a tick when merging."""
    with st.container(horizontal=True, key=key):
        for person in people:
            with st.container():
                st.image(
                    person_face(loaded, person.face),
                    caption=person_label(loaded, person),
                    width="stretch",
                )
                if merging:
                    st.checkbox("Same person", key=f"merge-{person.id}")
                else:
                    st.button(
                        plural(len(person.photos), "photo"),
                        key=f"person-{person.id}",
                        on_click=choose_person,
                        args=(loaded, person.id),
                    )


def merge_controls(loaded: LoadedAlbum, chosen: list[Person]) -> None:
    """Ask before merging: a merge joins their photos for the whole session (Undo reverts)."""
    ids = [person.id for person in chosen]
    if session().merge_asked == ids and len(ids) >= 2:
        names = ", ".join(person_label(loaded, person) for person in chosen)
        st.warning(f"Merge {len(ids)} people into one? {names}.")
        yes, no = st.columns(2)
        yes.button("Merge them", key="merge-yes", on_click=merge_people, args=(loaded, ids))
        no.button("Cancel", key="merge-no", on_click=ask_merge, args=([],))
        return
    st.button(
        f"Merge {plural(len(ids), 'person')}…" if len(ids) >= 2 else "Tick two or more people",
        key="merge-ask",
        disabled=len(ids) < 2,
        on_click=ask_merge,
        args=(ids,),
    )


def person_page(loaded: LoadedAlbum, person: Person) -> None:
    """A person's own page: their photos at once, at the top, with what can be done."""
    with st.container(horizontal=True):  # Undo beside Back, in view after "Not this person"
        st.button(
            "Back to everyone",
            key="people-back",
            on_click=choose_person,
            args=(loaded, None),
            icon=":material/arrow_back:",
        )
        undo_button(loaded)
    st.subheader(f"{person_label(loaded, person)} · {plural(len(person.photos), 'photo')}")
    with st.expander("Name or hide this person"):  # folded: their photos come first, in view
        st.text_input(
            "Name",
            value=people_editor(loaded).name(person.id) or "",
            key=f"name-{person.id}",
            placeholder="Give this person a name",
            on_change=rename_person,
            args=(loaded, person.id),
        )
        st.button(
            "Hide this person",
            key=f"hide-{person.id}",
            on_click=hide_person,
            args=(loaded, person.id, True),
        )
    more = st.toggle(
        "Find more like this person",
        key=f"more-like-{person.id}",
        help="A face search with all of their faces: finds their photos that were not grouped "
        "with them.",
    )
    if more:
        hits = search_faces(loaded.index, person_query(loaded.index, person))
    else:
        hits = person_hits(loaded.index, person)
    if not hits:
        st.info("No photo of this person at the default level of similarity.")
        return
    name = people_editor(loaded).name(person.id)
    file_name = f"photos-of-{slug(name)}.zip" if name else f"person-{person.id}.zip"
    remove = None if more else (lambda hit: not_this_person(loaded, person.id, hit))
    results_grid(loaded, hits, "people", file_name=file_name, remove=remove)
