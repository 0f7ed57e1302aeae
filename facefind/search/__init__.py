"""Search: the questions a user asks of a store. Faces (faces.py: one matrix product or a
database's index, query expansion, "any" or "all" with a distinct assignment), written words and
bib numbers (words.py), descriptions and "more like this" (ranking.py), everyone without a
query (people.py, and people_editor.py for a user's merges, names and undo), what an organiser
removes (curation.py); every answer is a list of `PhotoHit` (results.py).
"""

from facefind.search.curation import forget_people, remove_photos
from facefind.search.faces import MatchMode, query_faces, search_faces, stack_embeddings
from facefind.search.people import People, PeopleNotes, Person, group_people
from facefind.search.people_editor import PeopleEditor
from facefind.search.results import FaceHit, PhotoHit
from facefind.search.words import WordResults, wearer_search, word_search

__all__ = [
    "FaceHit",
    "MatchMode",
    "People",
    "PeopleEditor",
    "PeopleNotes",
    "Person",
    "PhotoHit",
    "WordResults",
    "forget_people",
    "group_people",
    "query_faces",
    "remove_photos",
    "search_faces",
    "stack_embeddings",
    "wearer_search",
    "word_search",
]
