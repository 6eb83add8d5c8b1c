"""Small builders the contracts use: unit vectors, documents and their chunks written at once."""

from __future__ import annotations

import numpy as np

from docket.protocols import DocumentIndex
from docket.types import Chunk, Document, Location

__all__ = ["DIM", "make_doc", "put", "vec"]


DIM = 8


def vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for i in hot:
        v[i] = 1.0
    return v / np.linalg.norm(v)


def make_doc(doc_id: str, path: str, **kw: object) -> Document:
    base: dict[str, object] = dict(
        id=doc_id,
        source="src",
        path=path,
        title=path,
        filetype=path.rsplit(".", 1)[-1],
        content_hash="h-" + doc_id,
        size=10,
        mtime=1000.0,
    )
    base.update(kw)
    return Document(**base)  # type: ignore[arg-type]


def put(store: DocumentIndex, doc: Document, texts: list[str], hot: list[int]) -> list[Chunk]:
    chunks = [Chunk(t, Location(char_start=0, char_end=len(t)), doc.title, i) for i, t in enumerate(texts)]
    store.put_document(doc, chunks, {c.hash: vec(h) for c, h in zip(chunks, hot, strict=True)}, "\n\n".join(texts))
    return chunks
