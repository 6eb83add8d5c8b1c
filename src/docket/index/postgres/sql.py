"""The SQL the PostgreSQL store builds: filters, BM25 and vector literals. The connection helpers
and error messages every PostgreSQL user shares are in :mod:`docket.records.postgres`."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from docket.index.bm25 import K1, B
from docket.types import Access, Filters

__all__ = ["bm25_sql", "glob_regex", "parse_vector", "vector_literal", "where_sql"]


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
