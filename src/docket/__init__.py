"""Docket: an offline knowledge base that answers from your own documents, with citations."""

from __future__ import annotations

from docket.config import Settings, load_settings
from docket.errors import DocketError
from docket.kb import KnowledgeBase
from docket.types import Access, Answer, Citation, Document, Filters, Hit, Location, SyncReport

__all__ = [
    "Access",
    "Answer",
    "Citation",
    "DocketError",
    "Document",
    "Filters",
    "Hit",
    "KnowledgeBase",
    "Location",
    "Settings",
    "SyncReport",
    "load_settings",
]

__version__ = "0.1.0"
