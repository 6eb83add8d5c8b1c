"""Docket: an offline knowledge base that answers from your own documents, with citations.

The public names below are imported on first use, so ``import docket`` (and the command line)
stays fast: numpy, pydantic and the model runtime load only when something needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from docket.version import __version__ as __version__

if TYPE_CHECKING:
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

_HOMES = {
    "Settings": "docket.config",
    "load_settings": "docket.config",
    "DocketError": "docket.errors",
    "KnowledgeBase": "docket.kb",
    **{
        name: "docket.types"
        for name in ("Access", "Answer", "Citation", "Document", "Filters", "Hit", "Location", "SyncReport")
    },
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'docket' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
