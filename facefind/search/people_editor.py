"""The user's work on People as one object with an undo history: merge, hide, show again,
rename and "not this person", each undoable, several steps deep, in the order they were done.

The app keeps one editor per album in its session; a saved index carries its current notes
(`PeopleNotes`), which the CLI reads too. Every change makes new notes, so an older state is
never changed under the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from facefind.search.people import People, PeopleNotes, Person, merge, without_photo
from facefind.stores.base import IndexStore

#: How many changes can be undone (each a small snapshot: ids, names, hidden ids).
UNDO_STEPS = 20


@dataclass
class PeopleEditor:
    """The people as the user has them now, and what each change undone would bring back."""

    notes: PeopleNotes
    #: (what the change was, the notes before it), oldest first
    history: list[tuple[str, PeopleNotes]] = field(default_factory=list)

    @classmethod
    def starting_from(cls, people: People) -> PeopleEditor:
        """An editor on freshly grouped people (the notes saved with an index: `cls(notes)`)."""
        return cls(PeopleNotes(people, {}, frozenset()))

    @property
    def people(self) -> People:
        return self.notes.people

    def name(self, person_id: int) -> str | None:
        """The name the user gave this person, if any."""
        return self.notes.names.get(person_id)

    def label(self, person: Person) -> str:
        """The name the user gave, else "Person N"."""
        return self.name(person.id) or f"Person {person.id}"

    def is_hidden(self, person_id: int) -> bool:
        return person_id in self.notes.hidden

    @property
    def last_change(self) -> str | None:
        """What Undo would take back ("merge Person 3 and Person 7"); None: nothing."""
        return self.history[-1][0] if self.history else None

    def undo(self) -> None:
        if self.history:
            _, self.notes = self.history.pop()

    def _change(self, what: str, notes: PeopleNotes) -> None:
        if notes != self.notes:
            self.history = [*self.history, (what, self.notes)][-UNDO_STEPS:]
            self.notes = notes

    def merge(self, ids: list[int]) -> None:
        chosen = [person for person in self.people.people if person.id in set(ids)]
        if len(chosen) >= 2:
            what = "merge " + " and ".join(self.label(person) for person in chosen)
            self._change(what, replace(self.notes, people=merge(self.people, ids)))

    def hide(self, person_id: int) -> None:
        what = f"hide {self._label_of(person_id)}"
        self._change(what, replace(self.notes, hidden=self.notes.hidden | {person_id}))

    def show(self, person_id: int) -> None:
        what = f"show {self._label_of(person_id)} again"
        self._change(what, replace(self.notes, hidden=self.notes.hidden - {person_id}))

    def rename(self, person_id: int, name: str) -> None:
        names = dict(self.notes.names)
        if name.strip():
            names[person_id] = name.strip()
        else:
            names.pop(person_id, None)
        self._change(f"rename {self._label_of(person_id)}", replace(self.notes, names=names))

    def not_this_person(self, index: IndexStore, person_id: int, photo: int) -> None:
        """Take one photo from one person (their faces in it leave them)."""
        people = without_photo(index, self.people, person_id, photo)
        what = f"take a photo from {self._label_of(person_id)}"
        self._change(what, replace(self.notes, people=people))

    def person(self, person_id: int | None) -> Person | None:
        return next((p for p in self.people.people if p.id == person_id), None)

    def _label_of(self, person_id: int) -> str:
        person = self.person(person_id)
        return self.label(person) if person else f"Person {person_id}"
