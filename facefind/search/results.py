"""What a search gives back: the photos found, and the faces and words that matched in them.

Kept apart from the searches themselves so that people, gallery, the app and the CLI can use the
result types without importing any search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from facefind.analysis.words import Word
from facefind.geometry import Box


@dataclass(frozen=True)
class FaceHit:
    """The face of a photo that matched query person `person` (0-based), and how well;
    `unclear`: too blurred or too small to recognise surely (analysis.quality), so the user
    is told to look twice."""

    person: int
    face: int
    box: Box
    score: float
    unclear: bool = False


@dataclass(frozen=True)
class PhotoHit:
    """A photo that matched, its score, the matching face of each person found in it, the
    written words that matched, and how it was found: "face", "words", "description", or
    "face" of the person wearing the words searched for (`via`)."""

    photo: int
    name: str
    score: float
    faces: tuple[FaceHit, ...]
    words: tuple[Word, ...] = ()
    via: str = "face"

    @property
    def unclear(self) -> bool:
        """Found by faces that are all too blurred or too small to recognise surely."""
        return bool(self.faces) and all(face.unclear for face in self.faces)


#: How a result found by such faces is marked, in the app and on the command line.
UNCLEAR_FACE = "small or blurred face"
#: How a result the album's own evidence found (just under the bar: search.evidence) is marked.
BY_EVIDENCE = "like their other photos"


#: What Markdown (and Streamlit's :emoji: and :color[...] codes) could read as formatting
#: inside a line of text; "." or "-" only matter at the start of a line, which a name never is.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#<>|~$:])")


def plain_text(text: str) -> str:
    """Text from a user or a file name, shown as it is inside Markdown (an uploaded photo
    named `**[x](http://…)**` is not a link)."""
    return _MARKDOWN.sub(r"\\\1", text)
