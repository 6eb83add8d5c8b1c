"""The SQL the PostgreSQL store builds: filters, BM25 (exhaustive, and the pruned plan) and vector
literals. The connection helpers and error messages every PostgreSQL user shares are in
:mod:`docket.records.postgres`."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from docket.index.bm25 import K1, B
from docket.types import Access, Filters

__all__ = [
    "KeywordPlan",
    "bm25_sql",
    "bounded_sql",
    "exhaustive_sql",
    "glob_regex",
    "keyword_plan",
    "parse_vector",
    "partial_sql",
    "vector_literal",
    "weights",
    "where_sql",
]


def vector_literal(v: np.ndarray) -> str:
    """pgvector's text form; float32 values round-trip exactly."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(v, dtype=np.float32)) + "]"


def parse_vector(text: str) -> np.ndarray:
    return np.array([float(x) for x in text.strip("[]").split(",") if x], dtype=np.float32)


def glob_regex(glob: str) -> str:
    """SQLite ``GLOB`` semantics as a PostgreSQL regular expression (``*``, ``?``, ``[...]``, ``[^...]``)."""
    out = ["^"]
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and (end := glob.find("]", i + 2)) != -1:
            body = glob[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + "$"


def where_sql(filters: Filters, access: Access) -> tuple[str, list[Any]]:
    """SQL conditions over documents ``d`` for metadata filters and the caller's access."""
    clauses: list[str] = []
    params: list[Any] = []
    if not access.unrestricted:
        workspaces = list(access.workspaces or ())
        if not workspaces:
            return "FALSE", []
        clauses.append("d.workspace = ANY(%s)")
        params.append(workspaces)
        principals = list(access.principals)
        if access.all_documents:
            pass
        elif principals:
            clauses.append("(d.access = '[]'::jsonb OR d.access ?| %s::text[])")
            params.append(principals)
        else:
            clauses.append("d.access = '[]'::jsonb")
    if filters.path_glob:
        clauses.append("d.path ~ %s")
        params.append(glob_regex(filters.path_glob))
    if filters.filetypes:
        clauses.append("d.filetype = ANY(%s)")
        params.append([f.lower().lstrip(".") for f in filters.filetypes])
    if filters.modified_after is not None:
        clauses.append("d.mtime >= %s")
        params.append(filters.modified_after)
    if filters.modified_before is not None:
        clauses.append("d.mtime < %s")
        params.append(filters.modified_before)
    if filters.tags:
        clauses.append("d.tags ?| %s::text[]")
        params.append(list(filters.tags))
    if filters.sources:
        clauses.append("d.source = ANY(%s)")
        params.append(list(filters.sources))
    if filters.documents is not None:
        clauses.append("d.id = ANY(%s)")
        params.append(list(filters.documents))
    return (" AND ".join(clauses) or "TRUE"), params


def bm25_sql(where: str) -> str:
    """The keyword query; parameters: the query's terms, the ``where`` parameters (over documents
    ``d``), k. Lucene's BM25 as in :mod:`docket.index.bm25`: ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``,
    scores divided by the sum of the query terms' idf; N and the average length are over every chunk
    (the ``corpus`` row). Only the postings of the query's terms are read (from the index)."""
    join = "" if where == "TRUE" else f"JOIN documents d ON d.id = h.doc_id WHERE {where}"
    return f"""
        WITH stats AS (
            SELECT chunks::float8 AS n,
                   CASE WHEN total_length > 0 THEN total_length::float8 / chunks ELSE 1.0 END AS avgdl
            FROM corpus
        ), hits AS MATERIALIZED (
            SELECT term, chunk_id, doc_id, tf, length FROM postings WHERE term = ANY(%s)
        ), idf AS (
            SELECT h.term, LN(1 + (stats.n - COUNT(*) + 0.5) / (COUNT(*) + 0.5)) AS idf
            FROM hits h, stats GROUP BY h.term, stats.n
        ), norm AS (SELECT SUM(idf) AS total FROM idf WHERE idf > 0)
        SELECT h.chunk_id,
               SUM(idf.idf * h.tf * {K1 + 1} / (h.tf + {K1} * (1 - {B} + {B} * h.length / stats.avgdl)))
                   / (SELECT total FROM norm) AS score
        FROM hits h
        JOIN idf ON idf.term = h.term
        CROSS JOIN stats
        {join}
        GROUP BY h.chunk_id
        ORDER BY score DESC, h.chunk_id
        LIMIT %s
    """


class KeywordPlan:
    """MaxScore for the PostgreSQL store: which terms to score in SQL, and the bound that proves the rest
    cannot change the top k.

    Weights are BM25 as in :func:`bm25_sql`. Each term's bound is its idf times the tf-part of its
    largest count in its shortest chunk (both kept in ``terms``), which no posting of the term exceeds.
    Terms are taken highest bound (rarest) first; :meth:`prefix` says how many fit in a budget of
    postings; :func:`partial_sql` scores those terms' postings and returns only the chunks that can
    still reach the k-th partial score once the other terms are added (their bounds summed:
    :attr:`rest`); :meth:`finish` adds the other terms' weights, looked up for those chunks only.
    """

    def __init__(self, n: float, avgdl: float, terms: dict[str, tuple[int, int, int]]) -> None:
        self.n, self.avgdl = n, avgdl
        self.df = {t: v[0] for t, v in terms.items()}
        self.idf = {t: math.log1p((n - df + 0.5) / (df + 0.5)) for t, df in self.df.items()}
        self.norm = sum(v for v in self.idf.values() if v > 0)
        bound = {t: self.weight(t, max_tf, min_length) for t, (_, max_tf, min_length) in terms.items()}
        self.order = sorted(terms, key=lambda t: (-bound[t], t))  # highest bound (rarest) first
        self.rest = [sum(bound[t] for t in self.order[i:]) for i in range(len(self.order) + 1)]

    def weight(self, term: str, tf: float, length: float) -> float:
        return self.idf[term] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / self.avgdl))

    def prefix(self, budget: int) -> int:
        """How many terms (rarest first) to score in SQL: as many as ``budget`` postings allow.
        0 (nothing to prune: the first term alone is over budget) or ``len(order)`` (every term fits)
        mean the one-statement exhaustive query is the better plan."""
        read = 0
        for i, term in enumerate(self.order):
            read += self.df[term]
            if read > budget:
                return i
        return len(self.order)

    def margin(self, j: int) -> float:
        """What the terms after the first ``j`` can add at most, with room for rounding."""
        return self.rest[j] * (1 + 1e-9)

    def finish(
        self, j: int, k: int, contenders: Sequence[tuple[int, float]], lookups: Sequence[tuple[str, int, int, int]]
    ) -> list[tuple[int, float]]:
        """The top ``k`` ``(chunk id, normalised score)`` from the contenders' partial scores over the
        first ``j`` terms and the ``(term, chunk id, tf, length)`` postings of the other terms among them."""
        scores = dict(contenders)
        for term, cid, tf, length in lookups:
            scores[cid] += self.weight(term, tf, length)
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [(cid, s / self.norm) for cid, s in best if s > 0]


def _tf_part(plan: KeywordPlan) -> str:
    """BM25's tf-part over postings ``p`` at the plan's average length, with literal constants."""
    return f"p.tf / (p.tf + {K1 * (1 - B)!r}::float8 + p.length * {K1 * B / plan.avgdl!r}::float8)"


def weights(plan: KeywordPlan) -> tuple[list[str], list[float]]:
    """The query's terms and their weights ``idf (k1 + 1) / norm``: a posting adds weight times the
    tf-part of :func:`_tf_part`, so the sums are :func:`bm25_sql`'s normalised scores."""
    terms = sorted(plan.idf)
    return terms, [plan.idf[t] * (K1 + 1) / plan.norm for t in terms]


def exhaustive_sql(where: str, plan: KeywordPlan) -> str:
    """:func:`bm25_sql`'s ranking in one plain aggregate: the statistics come from the plan (``terms``
    and ``corpus``), not from counting the postings again, and nothing is materialised. Parameters:
    the terms and weights of :func:`weights`, the ``where`` parameters, k."""
    join = "" if where == "TRUE" else f"JOIN documents d ON d.id = p.doc_id AND {where}"
    return f"""
        SELECT p.chunk_id, SUM(q.w * {_tf_part(plan)}) AS score
        FROM unnest(%s::text[], %s::float8[]) AS q (term, w)
        JOIN postings p ON p.term = q.term
        {join}
        GROUP BY p.chunk_id
        ORDER BY score DESC, p.chunk_id
        LIMIT %s
    """


def bounded_sql(where: str, plan: KeywordPlan, impact: str) -> str:
    """BM25 over a bounded candidate list. Each term contributes at most its limit of postings, its
    best by impact (``impact``: the expression of the ``postings_impact`` index over ``p``, read in
    its order; the filter applies while reading, so these are the best the caller may see); the
    chunks with the best partial sums over those postings (at most ``rescore``) are then scored
    exactly, over every posting of the query's terms they have. Parameters: the terms and weights of
    :func:`weights`, each term's limit, the ``where`` parameters, rescore, k. A term whose limit is
    its document frequency is read whole; a chunk is missed only when its score comes from postings
    that are each below their term's limit, or when its partial sum is not among the best ``rescore``."""
    join = "" if where == "TRUE" else f"JOIN documents d ON d.id = p.doc_id AND {where}"
    tf_part = _tf_part(plan)
    return f"""
        WITH q AS MATERIALIZED (SELECT * FROM unnest(%s::text[], %s::float8[], %s::int[]) AS q (term, w, depth)),
        candidates AS MATERIALIZED (
            SELECT top.chunk_id, SUM(top.w * top.part) AS s
            FROM q CROSS JOIN LATERAL (
                SELECT p.chunk_id, q.w, {tf_part} AS part
                FROM postings p {join}
                WHERE p.term = q.term
                ORDER BY {impact} DESC
                LIMIT q.depth
            ) top
            GROUP BY top.chunk_id
            ORDER BY s DESC
            LIMIT %s
        )
        SELECT c.chunk_id, SUM(q.w * {tf_part}) AS score
        FROM candidates c
        CROSS JOIN q
        CROSS JOIN LATERAL (
            SELECT p.tf, p.length FROM postings p WHERE p.term = q.term AND p.chunk_id = c.chunk_id
        ) p
        GROUP BY c.chunk_id
        ORDER BY score DESC, c.chunk_id
        LIMIT %s
    """


def partial_sql(where: str) -> str:
    """Partial BM25 over some terms, pruned. Parameters: the terms, their idf, the average length,
    the ``where`` parameters (over documents ``d``), k - 1, and the bound of the other terms. Returns
    ``(chunk id, partial score)`` of the chunks whose partial score plus that bound reaches the k-th
    best partial score; no rows when fewer than k chunks have any of the terms."""
    join = "" if where == "TRUE" else f"JOIN documents d ON d.id = p.doc_id AND {where}"
    return f"""
        WITH q AS (SELECT * FROM unnest(%s::text[], %s::float8[]) AS q (term, idf)),
        avg AS (SELECT %s::float8 AS dl),
        partial AS MATERIALIZED (
            SELECT p.chunk_id, SUM(q.idf * p.tf * {K1 + 1} / (p.tf + {K1} * (1 - {B} + {B} * p.length / avg.dl))) AS s
            FROM q JOIN postings p ON p.term = q.term CROSS JOIN avg
            {join}
            GROUP BY p.chunk_id
        ), kth AS (SELECT s FROM partial ORDER BY s DESC OFFSET %s LIMIT 1)
        SELECT p.chunk_id, p.s FROM partial p, kth WHERE p.s + %s >= kth.s
    """


def keyword_plan(stats: Sequence[tuple[int, int, str, int, int, int]]) -> KeywordPlan:
    """The plan for rows of ``corpus`` joined with the query's ``terms``:
    ``(chunks, total length, term, df, max tf, min length)``."""
    n, total = float(stats[0][0]), float(stats[0][1])
    avgdl = total / n if total > 0 and n > 0 else 1.0
    return KeywordPlan(n, avgdl, {row[2]: (int(row[3]), int(row[4]), int(row[5])) for row in stats})
