"""Writing an indexed part into the PostgreSQL store in bulk: photos, faces and words by COPY
(binary for the vectors), inside the store's one transaction for the part."""

from __future__ import annotations

from typing import Any

import numpy as np

from facefind.analysis.words import tokens
from facefind.stores.npz import AlbumIndex
from facefind.stores.pg_schema import BUILD_MEMORY, BULK_FACES, HNSW_INDEX


def copy_part(cursor: Any, part: AlbumIndex, ids: list[int]) -> None:
    """The part's photos (numbered `ids`), faces and words, on `cursor`. A first big load drops
    the HNSW index and builds it once after the rows are in: much faster than face by face."""
    vectors = part.photo_vectors()
    with cursor.copy(
        "COPY photos (id, name, width, height, size, thumbnail, vector) FROM STDIN"
    ) as copy:
        for number, info in enumerate(part.photos):
            vector = None if vectors is None else vectors[number].tolist()
            copy.write_row(
                (
                    ids[number],
                    info.name,
                    info.width,
                    info.height,
                    info.size,
                    part.thumbnails[number],
                    vector,
                )
            )
    cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM faces)")
    empty = bool(cursor.fetchone()[0])
    rebuild = empty and part.face_count >= BULK_FACES
    if rebuild:  # a first big load: the HNSW graph built once, after, is much faster
        cursor.execute("DROP INDEX IF EXISTS faces_embedding")
    with cursor.copy(
        "COPY faces (photo, box, confidence, embedding, sharpness) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int4[]", "float4", "vector", "float4"])
        sharp = part.face_sharpness
        for row in range(part.face_count):
            copy.write_row(
                (
                    ids[int(part.face_photo[row])],
                    part.boxes[row].tolist(),
                    float(part.confidences[row]),
                    part.embeddings[row],
                    None if np.isnan(sharp[row]) else float(sharp[row]),
                )
            )
    if rebuild:
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
        cursor.execute(HNSW_INDEX)
    _copy_words(cursor, part, ids)


def _copy_words(cursor: Any, part: AlbumIndex, ids: list[int]) -> None:
    if part.words is None:
        return
    with cursor.copy("COPY words (photo, position, text, box, confidence) FROM STDIN") as copy:
        for number, found in enumerate(part.words):
            for position, word in enumerate(found):
                copy.write_row((ids[number], position, word.text, list(word.box), word.confidence))
    pairs = {
        (token, ids[number])
        for number, found in enumerate(part.words)
        for word in found
        for token in tokens(word.text)
    }
    with cursor.copy("COPY word_tokens (token, photo) FROM STDIN") as copy:
        for pair in sorted(pairs):
            copy.write_row(pair)
