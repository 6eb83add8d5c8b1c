"""Hybrid retrieval: keyword (BM25) and semantic (dense) candidates, fused into one ranking.

Hybrid fusion blends scores that keep their meaning across queries:
``alpha * cosine + (1 - alpha) * bm25 / sum(idf of the query's terms)``. The keyword part is the
store's normalised BM25 (about 1.0 for a passage of average length containing every query term
once), so neither side is stretched per query: a flat semantic list or a keyword match on common
words only contributes little, which acts as per-query weighting. A passage missing from one
candidate list gets that list's last score (an upper bound on its true score), or 0 from a keyword
list that was not full (it contains no query term at all).

With ``"absolute"`` fusion ``alpha`` is ``search.alpha`` for every query. The default,
``"adaptive"``, starts from ``search.alpha`` and moves it per query toward the retriever whose best
candidate stands out more from the rest of its list (:func:`adaptive_alpha`): a flat list means that
retriever cannot tell its candidates apart for this query, so it gets less say. The weight and the
depth were chosen on the dev splits of SciFact, Cranfield, a bank FAQ set and TAT-QA together (see
bench/fusion.py and bench/RESULTS.md). Min-max and reciprocal-rank fusion remain for comparison.

Permissions and filters are applied by the store inside each retriever's query, so fusion only
ever sees passages the caller may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from docket.protocols import DocumentIndex, Embedder
from docket.types import Access, Filters, Hit

__all__ = [
    "Fusion",
    "Mode",
    "adaptive_alpha",
    "fuse_absolute",
    "fuse_adaptive",
    "fuse_minmax",
    "fuse_rrf",
    "lead",
    "search",
]

Mode = Literal["hybrid", "keyword", "semantic"]
Fusion = Literal["adaptive", "absolute", "minmax", "rrf"]

#: How far down each list the best candidate is compared with (see :func:`adaptive_alpha`).
LEAD_DEPTH = 10


def fuse_absolute(
    keyword: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], alpha: float, pool: int
) -> list[tuple[int, float]]:
    """``alpha * cosine + (1 - alpha) * normalised BM25``; missing scores as described above."""
    kw, dn = dict(keyword), dict(dense)
    kw_missing = keyword[-1][1] if keyword and len(keyword) >= pool else 0.0
    dn_missing = dense[-1][1] if dense else 0.0
    fused = {
        cid: alpha * dn.get(cid, dn_missing) + (1 - alpha) * kw.get(cid, kw_missing) for cid in kw.keys() | dn.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def lead(scored: Sequence[tuple[int, float]], depth: int = LEAD_DEPTH, pool: int | None = None) -> float:
    """How far a list's best score stands above its ``depth``-th, as a fraction of the best (0..1).

    A list shorter than ``depth`` that is not full (``len < pool``) had no further candidates: its
    ``depth``-th score counts as 0, so its best stands out completely. An empty list, or one whose
    best score is not positive, has no lead.
    """
    if not scored or scored[0][1] <= 0:
        return 0.0
    cut = len(scored) >= depth or (pool is not None and len(scored) >= pool)  # more candidates lay below
    kth = scored[min(depth, len(scored)) - 1][1] if cut else 0.0
    return max(0.0, min(1.0, (scored[0][1] - kth) / scored[0][1]))


def adaptive_alpha(
    keyword: Sequence[tuple[int, float]],
    dense: Sequence[tuple[int, float]],
    alpha: float,
    pool: int,
    depth: int = LEAD_DEPTH,
) -> float:
    """The semantic weight for one query: ``alpha`` scaled by how much each list's best stands out.

    ``a * lead(dense) / (a * lead(dense) + (1 - a) * lead(keyword))``: with equal leads it is
    ``alpha``; a retriever whose list is flat (no lead) gets no weight; when neither list has a lead
    it stays ``alpha``. ``alpha`` 0 or 1 pins one retriever as before.
    """
    if alpha <= 0.0 or alpha >= 1.0:
        return alpha
    ld, lk = lead(dense, depth, pool), lead(keyword, depth, pool)
    if ld + lk <= 0.0:
        return alpha
    return alpha * ld / (alpha * ld + (1 - alpha) * lk)


def fuse_adaptive(
    keyword: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], alpha: float, pool: int
) -> list[tuple[int, float]]:
    """:func:`fuse_absolute` with the per-query weight of :func:`adaptive_alpha`."""
    return fuse_absolute(keyword, dense, adaptive_alpha(keyword, dense, alpha, pool), pool)


def _minmax(scored: Sequence[tuple[int, float]]) -> dict[int, float]:
    if not scored:
        return {}
    values = [s for _, s in scored]
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:
        return {cid: 1.0 for cid, _ in scored}
    return {cid: (s - lo) / (hi - lo) for cid, s in scored}


def fuse_minmax(
    keyword: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], alpha: float
) -> list[tuple[int, float]]:
    """``alpha * minmax(dense) + (1 - alpha) * minmax(keyword)``, best first; ties by chunk id."""
    kw, dn = _minmax(keyword), _minmax(dense)
    fused = {cid: alpha * dn.get(cid, 0.0) + (1 - alpha) * kw.get(cid, 0.0) for cid in kw.keys() | dn.keys()}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse_rrf(
    keyword: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], k: int = 60
) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion with equal weights."""
    fused: dict[int, float] = {}
    for ranking in (keyword, dense):
        for rank, (cid, _) in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def search(
    store: DocumentIndex,
    embedder: Embedder,
    query: str,
    *,
    k: int = 10,
    mode: Mode = "hybrid",
    alpha: float = 0.75,
    candidates: int = 100,
    filters: Filters = Filters(),
    access: Access = Access.owner(),
    fusion: Fusion = "adaptive",
    query_vector: np.ndarray | None = None,
) -> list[Hit]:
    """The ``k`` best passages for ``query`` that ``access`` may read, best first."""
    if not query.strip():
        return []
    pool = max(k, candidates)
    keyword: list[tuple[int, float]] = []
    dense: list[tuple[int, float]] = []
    if mode in ("hybrid", "keyword"):
        keyword = store.keyword_search(query, pool, filters, access)
    if mode in ("hybrid", "semantic"):
        if query_vector is None:
            query_vector = embedder.embed_queries([query])[0]
        dense = store.vector_search(query_vector, pool, filters, access)
    if mode == "keyword":
        ranked = keyword
    elif mode == "semantic":
        ranked = dense
    elif fusion == "rrf":
        ranked = fuse_rrf(keyword, dense)
    elif fusion == "minmax":
        ranked = fuse_minmax(keyword, dense, alpha)
    elif fusion == "absolute":
        ranked = fuse_absolute(keyword, dense, alpha, pool)
    else:
        ranked = fuse_adaptive(keyword, dense, alpha, pool)
    top = ranked[:k]
    kw_scores, dn_scores = dict(keyword), dict(dense)
    hits = store.hits(top, access)
    out = []
    for hit in hits:
        scores = {}
        if hit.chunk_id in kw_scores:
            scores["keyword"] = kw_scores[hit.chunk_id]
        if hit.chunk_id in dn_scores:
            scores["semantic"] = dn_scores[hit.chunk_id]
        out.append(Hit(**{**hit.__dict__, "scores": scores}))
    return out
