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

Two corrections are available with both ``"adaptive"`` and ``"absolute"`` fusion, off by default
(``search.coverage`` and ``search.sentences``; docs/search.md says when they help and what they cost):

- **Query words the keyword retriever cannot see.** The normalised BM25 score only counts the query
  terms that occur in some passage the caller may read; a word no passage uses ("closed" when the
  handbook says "holiday") leaves the keyword list ranking by the query's other, often common,
  words. The keyword scores are multiplied by ``coverage ** search.coverage``, where ``coverage`` is
  the idf-weighted share of the query's distinct terms that occur in a readable passage
  (:func:`term_coverage`): the less of the question the keyword side can see, the less say it gets.
- **The best sentence.** The fused top ``search.sentences`` are scored again with the semantic part
  taken from the passage's best-matching sentence (or table row) instead of the whole passage's
  vector (:func:`rescore_sentences`), where the store keeps those sentence vectors (they are computed
  at ingest from the same model run). A passage that answers in one sentence among unrelated ones
  is no longer diluted by them.

Permissions and filters are applied by the store inside each retriever's query, so fusion only
ever sees passages the caller may read. A store whose ``parallel_retrieval`` is true (PostgreSQL:
a pool of connections) gets the keyword and the vector query at the same time, from two threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from docket.index.keywords import analyze_query, query_terms
from docket.protocols import DocumentIndex, Embedder
from docket.types import Access, Filters, Hit

__all__ = [
    "Fusion",
    "Mode",
    "adaptive_alpha",
    "fuse_absolute",
    "fuse_adaptive",
    "fuse_hybrid",
    "fuse_minmax",
    "fuse_rrf",
    "lead",
    "rescore_sentences",
    "search",
    "term_counts",
    "term_coverage",
]

Mode = Literal["hybrid", "keyword", "semantic"]
Fusion = Literal["adaptive", "absolute", "minmax", "rrf"]

#: How far down each list the best candidate is compared with (see :func:`adaptive_alpha`).
LEAD_DEPTH = 10
#: The keyword scores are multiplied by the query's term coverage to this power (:func:`term_coverage`).
COVERAGE_POWER = 2.0
#: How many of the fused candidates are scored again by their best sentence (:func:`rescore_sentences`).
SENTENCE_DEPTH = 30
#: The share of the semantic part taken from the best sentence rather than the whole passage.
SENTENCE_WEIGHT = 1.0


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


def term_counts(store: DocumentIndex, query: str, pool: int, filters: Filters, access: Access) -> list[int]:
    """For each distinct index term of ``query``: how many passages ``access`` may read (within
    ``filters``) contain it, counted up to ``pool``. Each term is one keyword query through the store,
    so permissions and filters apply exactly as they do to the search itself, on every backend."""
    words: dict[str, str] = {}
    for word in query_terms(query):
        for term in analyze_query(word):
            words.setdefault(term, word)
    return [len(store.keyword_search(word, pool, filters, access)) for word in words.values()]


def term_coverage(counts: Sequence[int], pool: int) -> float:
    """The share of the query the keyword retriever can see (0..1), from :func:`term_counts`.

    Each term weighs ``ln(1 + pool / (count + 0.5))`` — BM25's idf with the candidate pool standing
    in for the collection size, which a probe of ``pool`` hits cannot see beyond — so a word no
    readable passage contains weighs most, and a word found in ``pool`` passages or more least. The
    coverage is the weight of the terms found over the weight of all of them; 1.0 for a query of
    one term or none.
    """
    if len(counts) <= 1:
        return 1.0
    weights = [math.log1p(pool / (min(n, pool) + 0.5)) for n in counts]
    return sum(w for w, n in zip(weights, counts, strict=True) if n > 0) / sum(weights)


def scale(scored: Sequence[tuple[int, float]], factor: float) -> list[tuple[int, float]]:
    """Every score of a list multiplied by ``factor`` (order unchanged)."""
    return [(cid, score * factor) for cid, score in scored]


def rescore_sentences(
    fused: Sequence[tuple[int, float]],
    keyword: Sequence[tuple[int, float]],
    dense: Sequence[tuple[int, float]],
    alpha: float,
    pool: int,
    best_sentence: Mapping[int, float],
    depth: int = SENTENCE_DEPTH,
    weight: float = SENTENCE_WEIGHT,
) -> list[tuple[int, float]]:
    """The fused ranking with its first ``depth`` candidates scored again and re-ordered among
    themselves: ``alpha * ((1 - weight) * cosine + weight * best sentence cosine) + (1 - alpha) *
    keyword``, with the missing scores of :func:`fuse_absolute`. A candidate without sentence vectors
    keeps its passage cosine. The rest of the ranking follows unchanged, below them.
    """
    if depth <= 0 or not best_sentence:
        return list(fused)
    kw, dn = dict(keyword), dict(dense)
    kw_missing = keyword[-1][1] if keyword and len(keyword) >= pool else 0.0
    dn_missing = dense[-1][1] if dense else 0.0
    head = []
    for cid, _ in fused[:depth]:
        cosine = dn.get(cid, dn_missing)
        if cid in best_sentence:
            cosine = (1 - weight) * cosine + weight * best_sentence[cid]
        head.append((cid, alpha * cosine + (1 - alpha) * kw.get(cid, kw_missing)))
    head.sort(key=lambda item: (-item[1], item[0]))
    return head + list(fused[depth:])


def _best_sentences(
    store: DocumentIndex, embedder: Embedder, vector: np.ndarray, hits: Sequence[Hit]
) -> dict[int, float]:
    """Each hit's best sentence cosine with the query, for the hits whose sentence vectors are kept."""
    ledger = getattr(store, "ledger", None)
    if ledger is None or not hits:
        return {}
    kept = ledger.sentence_vectors(embedder.name, embedder.dim, [h.chunk_hash for h in hits if h.chunk_hash])
    query = vector.astype(np.float32)
    out = {}
    for hit in hits:
        units = kept.get(hit.chunk_hash)
        if units is not None and len(units.vectors):
            out[hit.chunk_id] = float((units.vectors @ query).max())
    return out


def fuse_hybrid(
    keyword: Sequence[tuple[int, float]],
    dense: Sequence[tuple[int, float]],
    alpha: float,
    pool: int,
    *,
    adaptive: bool = True,
    coverage: Callable[[], float] | None = None,
    best_sentence: Callable[[Sequence[int]], Mapping[int, float]] | None = None,
    sentences: int = SENTENCE_DEPTH,
    power: float = COVERAGE_POWER,
    sentence_weight: float = SENTENCE_WEIGHT,
) -> list[tuple[int, float]]:
    """Score fusion as :func:`search` does it: the weight (:func:`adaptive_alpha` or ``alpha``), the
    keyword scores times ``coverage() ** power`` (asked only when both retrievers have a say), then
    the first ``sentences`` candidates scored again with ``best_sentence(ids)`` (chunk id -> its best
    sentence cosine; :func:`rescore_sentences`). Pure apart from the two callbacks, so the benchmark
    replays it on stored candidate lists."""
    weight = adaptive_alpha(keyword, dense, alpha, pool) if adaptive else alpha
    scaled: Sequence[tuple[int, float]] = keyword
    if keyword and coverage is not None and power > 0.0 and 0.0 < weight < 1.0:
        scaled = scale(keyword, coverage() ** power)
    ranked = fuse_absolute(scaled, dense, weight, pool)
    if best_sentence is not None and sentences > 0 and weight > 0.0 and ranked:
        best = best_sentence([cid for cid, _ in ranked[:sentences]])
        ranked = rescore_sentences(ranked, scaled, dense, weight, pool, best, sentences, sentence_weight)
    return ranked


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
    coverage: float = 0.0,
    sentences: int = 0,
) -> list[Hit]:
    """The ``k`` best passages for ``query`` that ``access`` may read, best first.

    With ``"adaptive"`` or ``"absolute"`` fusion only: ``coverage`` is the power of the query's term
    coverage the keyword scores are multiplied by (0: off; :func:`term_coverage`), ``sentences`` how
    many fused candidates are scored again by their best sentence (0: none; :func:`rescore_sentences`)."""
    if not query.strip():
        return []
    pool = max(k, candidates)
    keyword: list[tuple[int, float]] = []
    dense: list[tuple[int, float]] = []
    if mode == "hybrid" and getattr(store, "parallel_retrieval", False):
        # a store with a connection pool answers both at once (the keyword query also runs while the
        # query is embedded): the wait is the slower one, not the sum
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-keyword") as executor:
            pending = executor.submit(store.keyword_search, query, pool, filters, access)
            if query_vector is None:
                query_vector = embedder.embed_queries([query])[0]
            dense = store.vector_search(query_vector, pool, filters, access)
            keyword = pending.result()
    else:
        if mode in ("hybrid", "semantic") and query_vector is None:
            query_vector = embedder.embed_queries([query])[0]
        if mode in ("hybrid", "keyword"):
            keyword = store.keyword_search(query, pool, filters, access)
        if mode in ("hybrid", "semantic"):
            dense = store.vector_search(query_vector, pool, filters, access)  # type: ignore[arg-type]
    hits: list[Hit] | None = None
    if mode == "keyword":
        ranked = keyword
    elif mode == "semantic":
        ranked = dense
    elif fusion == "rrf":
        ranked = fuse_rrf(keyword, dense)
    elif fusion == "minmax":
        ranked = fuse_minmax(keyword, dense, alpha)
    else:
        head: dict[int, Hit] = {}

        def seen() -> float:
            return term_coverage(term_counts(store, query, pool, filters, access), pool)

        def best_sentence(ids: Sequence[int]) -> Mapping[int, float]:
            found = store.hits([(cid, 0.0) for cid in ids], access)
            head.update((h.chunk_id, h) for h in found)
            return _best_sentences(store, embedder, query_vector, found) if query_vector is not None else {}

        ranked = fuse_hybrid(
            keyword,
            dense,
            alpha,
            pool,
            adaptive=fusion == "adaptive",
            coverage=seen,
            best_sentence=best_sentence,
            sentences=sentences,
            power=coverage,
        )
        if head and all(cid in head for cid, _ in ranked[:k]):  # the k best are among the hits just read
            hits = [Hit(**{**head[cid].__dict__, "score": score}) for cid, score in ranked[:k]]
    top = ranked[:k]
    kw_scores, dn_scores = dict(keyword), dict(dense)
    if hits is None:
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
