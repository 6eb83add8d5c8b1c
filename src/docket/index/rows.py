"""Rows both stores select the same way: a document (:class:`Document`), a passage with its
document (:class:`Hit`) and a file that could not be indexed (a failure, with its
:class:`ParseAttempt`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from docket.types import Document, Hit, Location, ParseAttempt

__all__ = [
    "DOC_COLUMNS",
    "FAILURE_ATTEMPT",
    "HIT_COLUMNS",
    "attempt_row",
    "document_from_row",
    "failure_from_row",
    "hit_from_row",
    "like_pattern",
]

# documents: what a Document needs, in the order document_from_row reads it
DOC_COLUMNS = "id, source, path, title, filetype, content_hash, size, mtime, workspace, access, tags, metadata"


def _as_is(value: Any) -> Any:
    return value


def document_from_row(row: Sequence[Any], decode: Callable[[Any], Any] = _as_is) -> Document:
    """The document for a row of :data:`DOC_COLUMNS`; ``decode`` turns the stored ``access`` and
    ``tags`` lists into Python (``json.loads`` where they are JSON text, as in SQLite)."""
    (id_, source, path, title, filetype, chash, size, mtime, ws, access, tags, metadata) = row
    return Document(
        id=id_,
        source=source,
        path=path,
        title=title,
        filetype=filetype,
        content_hash=chash,
        size=size,
        mtime=mtime,
        workspace=ws,
        access=tuple(decode(access)),
        tags=tuple(decode(tags)),
        metadata=json.loads(metadata),
    )


# chunks c JOIN documents d: what a hit needs, in the order hit_from_row reads it
HIT_COLUMNS = "c.id, c.text, c.location, d.id, d.source, d.path, d.title, c.hash"


def hit_from_row(row: Sequence[Any], score: float) -> Hit:
    """The hit for a row of :data:`HIT_COLUMNS` (``location`` stored as JSON text)."""
    cid, text, location, doc_id, source, path, title, chunk_hash = row
    return Hit(
        chunk_id=int(cid),
        doc_id=doc_id,
        source=source,
        path=path,
        title=title,
        text=text,
        location=Location.from_dict(json.loads(location)),
        score=score,
        chunk_hash=chunk_hash,
    )


# failures: the attempt's columns, in the order attempt_row writes them and failure_from_row reads them
FAILURE_ATTEMPT = "size, mtime, content_hash, docket_version, tried_with"


def attempt_row(attempt: ParseAttempt | None) -> tuple[Any, ...]:
    """The values of :data:`FAILURE_ATTEMPT` for ``attempt`` (NULLs for a failure without one)."""
    if attempt is None:
        return (None, None, None, None, None)
    return (attempt.size, attempt.mtime, attempt.content_hash, attempt.docket_version, attempt.tried_with)


def failure_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """A failure as ``Store.failures`` gives it, from ``source, path, error, at,`` + :data:`FAILURE_ATTEMPT`."""
    source, path, error, at, *seen = row
    names = [c.strip() for c in FAILURE_ATTEMPT.split(",")]
    attempt = ParseAttempt.from_dict(dict(zip(names, seen, strict=True)))
    return {
        "source": source,
        "path": path,
        "error": error,
        "at": float(at),
        "attempt": None if attempt is None else attempt.to_dict(),
    }


def like_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching any value that contains ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
