"""Rows both stores select the same way: a passage with its document, turned into a :class:`Hit`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from docket.types import Hit, Location

__all__ = ["HIT_COLUMNS", "hit_from_row"]

# chunks c JOIN documents d: what a hit needs, in the order hit_from_row reads it
HIT_COLUMNS = "c.id, c.text, c.location, d.id, d.source, d.path, d.title"


def hit_from_row(row: Sequence[Any], score: float) -> Hit:
    """The hit for a row of :data:`HIT_COLUMNS` (``location`` stored as JSON text)."""
    cid, text, location, doc_id, source, path, title = row
    return Hit(
        chunk_id=int(cid),
        doc_id=doc_id,
        source=source,
        path=path,
        title=title,
        text=text,
        location=Location.from_dict(json.loads(location)),
        score=score,
    )
