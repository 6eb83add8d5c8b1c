"""The knowledge base: one settings object, one store (its index and ledger), one embedder, and
the operations on them (:class:`KnowledgeBase`, in :mod:`docket.kb.knowledge_base`).

``answers`` and ``documents`` hold the parts of answering and of whole-document work it calls;
``sources`` syncs the registered sources when they are due (the server's scheduler). The parts
see the knowledge base through the small :class:`~docket.kb.parts.Core` interface, never the
facade itself: only this package's ``__init__`` imports :mod:`docket.kb.knowledge_base`.
"""

from __future__ import annotations

from docket.kb.knowledge_base import ChatReply, KnowledgeBase

__all__ = ["ChatReply", "KnowledgeBase"]
