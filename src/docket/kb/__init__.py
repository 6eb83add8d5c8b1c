"""The knowledge base: one settings object, one store (its index and ledger), one embedder, and
the operations on them (:class:`KnowledgeBase`, in :mod:`docket.kb.knowledge_base`).

``answers`` and ``documents`` hold the parts of answering and of whole-document work it calls;
``sources`` syncs the registered sources when they are due (the server's scheduler).
"""

from __future__ import annotations

from docket.kb.knowledge_base import ChatReply, KnowledgeBase

__all__ = ["ChatReply", "KnowledgeBase"]
