"""Does a test set's source name a search hit or an indexed document? By path (the end of it at a
``/``, the source's folder counted in) and, when given, by location as whole words.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from docket.evals.datasets import SourceRef
from docket.types import Document, Hit

if TYPE_CHECKING:
    from docket.kb import KnowledgeBase

__all__ = ["SourceIndex", "location_matches", "path_matches", "source_matches"]


def _norm(path: str) -> str:
    return path.replace("\\", "/").strip().strip("/")


def path_matches(ref: str, path: str, source: str = "") -> bool:
    """Does a source's path name this indexed file? Equal to its path, or the end of it at a ``/``,
    the source's folder counted in (``leave.md`` and ``docs/policies/leave.md`` both name
    ``policies/leave.md`` of the source ``/home/me/docs``)."""
    ref = _norm(ref)
    if not ref:
        return False
    qualified = _norm(f"{source}/{path}") if source else ""
    return any(c and (c == ref or c.endswith("/" + ref)) for c in (_norm(path), qualified))


def location_matches(location: str | None, label: str) -> bool:
    """Is ``location`` (``p. 3``, ``Leave``) in the hit's location label, as whole words?"""
    if not location:
        return True
    pattern = r"(?<!\w)" + re.escape(location.strip()) + r"(?!\w)"
    return re.search(pattern, label, re.IGNORECASE) is not None


def source_matches(ref: SourceRef, hit: Hit) -> bool:
    """Does ``hit`` come from the source ``ref`` names (its file, and its location when given)?"""
    return path_matches(ref.path, hit.path, hit.source) and location_matches(ref.location, hit.location.label())


class SourceIndex:
    """Which sources name an indexed document (and a location that one of its chunks has)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.by_name: dict[str, list[Document]] = {}
        for doc in kb.store.documents():
            self.by_name.setdefault(_norm(doc.path).rsplit("/", 1)[-1], []).append(doc)
        self.labels: dict[str, list[str]] = {}

    def exists(self, ref: SourceRef) -> bool:
        for doc in self.by_name.get(_norm(ref.path).rsplit("/", 1)[-1], []):
            if not path_matches(ref.path, doc.path, doc.source):
                continue
            if ref.location is None:
                return True
            if doc.id not in self.labels:
                self.labels[doc.id] = [c.location.label() for c in self.kb.store.chunks(doc.id)]
            if any(location_matches(ref.location, label) for label in self.labels[doc.id]):
                return True
        return False
