"""Fetch the real face photos the tests use, where there is internet.

    python tests/fetch_faces.py [FOLDER]          (default: ../shared/data/faces)

They are the unit-test photos of the DeepFace project (github.com/serengil/deepface,
`tests/unit/dataset`, MIT licence) at commit 243209f, the copy CI has at ../shared/data/faces.
`identities.csv` (file -> person) is derived here from DeepFace's two labelled pair lists: the
photos linked by "same person" pairs are one person, numbered most photos first, then by their
lowest photo number (the numbering of the shared copy).
Then point the tests at the folder with FACEFIND_TEST_FACES if it is not the default. Nothing
of it belongs in this repository.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import urllib.request
from pathlib import Path

COMMIT = "243209f"
SOURCE = f"https://raw.githubusercontent.com/serengil/deepface/{COMMIT}/tests/unit/dataset/"
PHOTO_NUMBERS = [*range(1, 52), 53, 54, 55, 56, 57, 58, 59, 61, 62, 67]
PAIR_LISTS = ["master.csv", "face-recognition-pivot.csv"]
FILES = [
    *PAIR_LISTS,
    "couple.jpg",
    "selfie-many-people.jpg",
    "img11_reflection.jpg",
    *[f"img{number}.jpg" for number in PHOTO_NUMBERS],
]


def photo_number(name: str) -> int:
    return int(re.sub(r"\D", "", name) or 0)


def identities(pair_lists: list[str]) -> dict[str, str]:
    """file -> person from the "Yes" pairs of the pair lists (linked photos are one person)."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        parent.setdefault(name, name)
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for text in pair_lists:
        for row in csv.DictReader(io.StringIO(text)):
            row = {key.lower(): value for key, value in row.items()}
            first = root(row["file_x"].rsplit("/", 1)[-1])
            second = root(row["file_y"].rsplit("/", 1)[-1])
            if row["decision"] == "Yes":
                parent[second] = first
    groups: dict[str, list[str]] = {}
    for name in list(parent):
        groups.setdefault(root(name), []).append(name)
    people = sorted(
        (sorted(members, key=photo_number) for members in groups.values() if len(members) > 1),
        key=lambda members: (-len(members), photo_number(members[0])),
    )
    return {
        name: f"person{number:02d}"
        for number, members in enumerate(people, start=1)
        for name in members
    }


def write_identities(folder: Path) -> None:
    labels = identities([(folder / name).read_text() for name in PAIR_LISTS])
    with open(folder / "identities.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "person"])
        for name in sorted(labels, key=lambda name: (labels[name], photo_number(name))):
            writer.writerow([name, labels[name]])


def main() -> None:
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = folder / name
        if not target.is_file():
            with urllib.request.urlopen(SOURCE + name, timeout=60) as reply:
                target.write_bytes(reply.read())
            print(f"fetched {name}")
    write_identities(folder)
    print(f"{len(FILES) - 1} photos and identities.csv in {folder}")


if __name__ == "__main__":
    main()
