"""Query vectors remembered per process: an embedder that embeds a question it has seen once.

One extractive answer embeds its question twice (retrieval, then scoring the sentences of the
passages found), and the same questions come back in an office ("how many vacation days"). The
knowledge base wraps its embedder in :class:`QueryCache` (``search.query_cache`` vectors, least
recently used dropped first; 0 turns it off): a question's vector comes from the cache instead of
a model run. Passages are never cached here (they are embedded once, at ingest, and kept in the
index); every other attribute is the wrapped embedder's own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from docket.protocols import Embedder

__all__ = ["QueryCache"]


class QueryCache:
    """``embedder`` with the vectors of its last ``size`` distinct query texts kept (thread-safe)."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self.inner = embedder
        self.name: str = embedder.name
        self.dim: int = embedder.dim
        self.size = size
        self.hits = 0
        self.misses = 0
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, attribute: str) -> Any:  # count_tokens, embed_with_spans, close...
        if attribute == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.inner.embed_queries(texts)
        found: list[np.ndarray | None] = [None] * len(texts)
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._kept.get(text)
                if vector is not None:
                    self._kept.move_to_end(text)
                    found[i] = vector
        missing = [i for i, vector in enumerate(found) if vector is None]
        if missing:
            fresh = self.inner.embed_queries([texts[i] for i in missing])  # one model run, outside the lock
            with self._lock:
                for row, i in enumerate(missing):
                    vector = np.array(fresh[row], copy=True)
                    vector.flags.writeable = False
                    found[i] = vector
                    self._kept[texts[i]] = vector
                    self._kept.move_to_end(texts[i])
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        with self._lock:
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        return np.stack([vector for vector in found if vector is not None])  # a new array: callers may change it
