"""The SQL the PostgreSQL store builds: filters, BM25, vector literals, and its error messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from docket.config import redact_url
from docket.errors import DatabaseError
from docket.index.bm25 import K1, B
from docket.types import Access, Filters

__all__ = [
    "bm25_sql",
    "explain_connect_error",
    "first_line",
    "glob_regex",
    "one_row",
    "parse_vector",
    "pg_text",
    "pooled",
    "vector_literal",
    "where_sql",
]


def vector_literal(v: np.ndarray) -> str:
    """pgvector's text form; float32 values round-trip exactly."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(v, dtype=np.float32)) + "]"


def parse_vector(text: str) -> np.ndarray:
    return np.array([float(x) for x in text.strip("[]").split(",") if x], dtype=np.float32)


def pg_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters (some PDFs yield them); they are dropped."""
    return value.replace("\x00", "")


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


def one_row(cur: Any) -> tuple[Any, ...]:
    """The one row a query that always returns one returned."""
    row = cur.fetchone()
    if row is None:  # pragma: no cover - the queries passed here always return a row
        raise DatabaseError("PostgreSQL returned no row where one was expected")
    return tuple(row)


def first_line(exc: BaseException, url: str | None = None) -> str:
    """The first line of an error's message, with ``url`` and its password (if given) hidden."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    if url:
        from urllib.parse import urlsplit

        text = text.replace(url, redact_url(url))
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "****")
    return text


@contextmanager
def pooled(pool: Any, where: str, timeout: float, what: str, url: str | None = None) -> Iterator[Any]:
    """One transaction on a connection of ``pool`` (a psycopg_pool ``ConnectionPool``); the pool's
    and psycopg's errors become one-line DatabaseErrors naming ``what`` (e.g. "the job queue in
    PostgreSQL") and ``where`` (the redacted URL), with ``url``'s password hidden."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except PoolTimeout as exc:
        raise DatabaseError(
            f"no connection to PostgreSQL at {where} within {timeout:g} s; check that the server is running, "
            "or raise store.pool_size if many requests run at once"
        ) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"lost the connection to {what} at {where}: {first_line(exc, url)}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"{what} at {where}: {first_line(exc, url)}") from exc


def explain_connect_error(exc: Exception, url: str) -> DatabaseError:
    """A one-line message saying what to do about a failed connection to ``url`` (never shown whole)."""
    where = redact_url(url)
    text = first_line(exc, url)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        hint = "wrong user name or password; check the credentials in store.url / DOCKET_DATABASE_URL"
    elif "role" in low and "does not exist" in low:
        hint = "that user does not exist on the server; check the user name in store.url / DOCKET_DATABASE_URL"
    elif "database" in low and "does not exist" in low:
        hint = "that database does not exist; create it (createdb NAME) or fix the name in DOCKET_DATABASE_URL"
    elif "timeout" in low or "refused" in low or "could not" in low or "no such file" in low or "translate" in low:
        hint = "the server is not reachable; check the host and port and that PostgreSQL is running"
    else:
        hint = "check store.url / DOCKET_DATABASE_URL"
    return DatabaseError(f"cannot connect to PostgreSQL at {where}: {hint} ({text})")


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
