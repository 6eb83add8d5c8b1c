"""A knowledge base in PostgreSQL with pgvector: a :class:`~docket.protocols.DocumentIndex` (and
:class:`~docket.protocols.Reembedding`) with its :class:`~docket.ledger.Ledger` on the same pool.

Vector search is pgvector cosine distance (``<=>``) over an HNSW index. Keyword search is the same
BM25 as the embedded store, computed in SQL from ``postings (term, chunk_id, doc_id, tf, length)``, chunk lengths
and corpus statistics, with the same terms (:func:`docket.index.keywords.analyze`), so both stores
rank alike. Permission and metadata filters are SQL conditions on ``documents`` inside both
retrievers. A filtered vector search uses pgvector's iterative index scan where the server has it
(pgvector >= 0.8); older pgvector would return too few hits from the index under a selective filter,
so there the filtered rows are searched exactly instead.

Every document write is one transaction under an advisory lock on the document (two processes
writing the same file leave one copy); ``swap_embedder`` takes the write lock every document
write shares, so writers wait while it runs.
"""

from __future__ import annotations

import heapq
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from docket.config import redact_url
from docket.errors import DatabaseError, IndexMismatchError, MissingExtraError, NotFoundError
from docket.index.keywords import analyze, analyze_query
from docket.index.postgres import schema
from docket.index.postgres.sql import (
    bounded_sql,
    exhaustive_sql,
    keyword_plan,
    parse_vector,
    partial_sql,
    vector_literal,
    where_sql,
)
from docket.index.postgres.sql import weights as keyword_weights
from docket.index.rows import DOC_COLUMNS, HIT_COLUMNS, document_from_row, hit_from_row, like_pattern
from docket.ledger import Ledger
from docket.records import Records
from docket.records.postgres import explain_connect_error, first_line, one_row, pg_text, pooled
from docket.types import Access, Chunk, Document, Filters, Hit, Location

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - exercised by installs without the extra
    raise MissingExtraError("psycopg", "postgres", "A PostgreSQL store (store.url / DOCKET_DATABASE_URL)") from exc

__all__ = ["PostgresStore"]

_WRITE_LOCK = 0x646F636B6577  # shared by document writes, exclusive for an embedder swap
_DISTINCT_CHUNKS = (
    'SELECT hash, MIN(text COLLATE "C"), MIN(context COLLATE "C") FROM chunks GROUP BY hash ORDER BY hash COLLATE "C"'
)


class PostgresStore:
    """A knowledge base in one PostgreSQL database; its bookkeeping is ``ledger``."""

    def __init__(
        self,
        url: str,
        pool_size: int = 5,
        connect_timeout: float = 10.0,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 64,
        hnsw_ef_search: int = 100,
        upgrade: bool = False,
    ) -> None:
        self.url = url
        self.where = redact_url(url)
        self.hnsw_m, self.hnsw_ef_construction, self.hnsw_ef_search = hnsw_m, hnsw_ef_construction, hnsw_ef_search
        self._timeout = connect_timeout
        timeout = max(1, round(connect_timeout))
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=timeout) as conn:
                self.schema_version = schema.prepare(conn, f"the database {self.where}", upgrade=upgrade)
                version = schema.pgvector_version(conn) or "0"
        except psycopg.OperationalError as exc:
            raise explain_connect_error(exc, url) from exc
        except psycopg.Error as exc:
            raise DatabaseError(f"PostgreSQL at {self.where}: {first_line(exc, self.url)}") from exc
        self.pgvector = version
        self._iterative_scan = tuple(int(p) for p in re.findall(r"\d+", version)[:2]) >= (0, 8)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"connect_timeout": timeout},
            open=False,
            name="docket",
        )
        self._pool.open(wait=False)
        self._bound: str | None = None
        self._impact: float | None = None
        self.ledger = Ledger(
            Records.over_pool(self._pool, self.where, timeout=connect_timeout, what="PostgreSQL", url=url)
        )

    # ------------------------------------------------------------------ connections
    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection; psycopg's errors become DatabaseError."""
        with pooled(self._pool, self.where, self._timeout, "PostgreSQL", self.url) as conn:
            yield conn

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._tx() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ meta
    def _meta(self, conn: psycopg.Connection[Any], key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _set_meta(conn: psycopg.Connection[Any], key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def generation(self) -> int:
        """Changes whenever a document is added, changed or removed (every such write bumps it in
        its own transaction), for caches of document metadata."""
        with self._tx() as conn:
            return int(self._meta(conn, "generation") or 0)

    @staticmethod
    def _bump(conn: psycopg.Connection[Any]) -> None:
        conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")

    def embedder_info(self) -> tuple[str, int] | None:
        with self._tx() as conn:
            name, dim = self._meta(conn, "embedder_name"), self._meta(conn, "embedder_dim")
        return None if name is None or dim is None else (name, int(dim))

    def bind_embedder(self, name: str, dim: int, spec: Mapping[str, Any] | None = None) -> None:
        current = self.embedder_info()
        if current is None:
            with self._tx() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                if self._meta(conn, "embedder_name") is None:
                    self._set_meta(conn, "embedder_name", name)
                    self._set_meta(conn, "embedder_dim", str(dim))
                    if spec is not None:
                        self._set_meta(conn, "embedder_spec", json.dumps(dict(spec)))
                    schema.create_vector_index(conn, dim, self.hnsw_m, self.hnsw_ef_construction)
            current = self.embedder_info()
        if current is not None and current != (name, dim):
            raise IndexMismatchError(
                f"this knowledge base ({self.where}) was built with the embedder "
                f"'{current[0]}' ({current[1]} dimensions), not '{name}' ({dim}). Use the embedder "
                f"it was built with, or rebuild it with: docket reindex --embedder <name>"
            )
        self._bound = name

    def embedder_spec(self) -> dict[str, Any] | None:
        with self._tx() as conn:
            value = self._meta(conn, "embedder_spec")
        return None if value is None else dict(json.loads(value))

    def chunk_texts(self) -> list[tuple[str, str]]:
        with self._tx() as conn:
            rows = conn.execute(_DISTINCT_CHUNKS).fetchall()
        return [(h, f"{ctx}\n{text}" if ctx else text) for h, text, ctx in rows]

    def swap_embedder(
        self,
        name: str,
        dim: int,
        spec: Mapping[str, Any] | None,
        vectors_for: Callable[[list[tuple[str, str]]], Mapping[str, np.ndarray]],
    ) -> None:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))  # writers wait
            pairs = [(h, f"{ctx}\n{text}" if ctx else text) for h, text, ctx in conn.execute(_DISTINCT_CHUNKS)]
            vectors = vectors_for(pairs)
            old_dim = self._meta(conn, "embedder_dim")
            if old_dim is not None and int(old_dim) != dim:  # a new column type; readers wait for the commit
                conn.execute("DROP INDEX IF EXISTS chunks_vector")
                conn.execute("ALTER TABLE chunks ALTER COLUMN vector TYPE vector")
            conn.execute("CREATE TEMPORARY TABLE new_vectors (hash text PRIMARY KEY, vector vector) ON COMMIT DROP")
            with conn.cursor().copy("COPY new_vectors (hash, vector) FROM STDIN") as copy:
                for h, _ in pairs:
                    v = np.asarray(vectors[h], dtype=np.float32)
                    if v.shape != (dim,):
                        raise IndexMismatchError(f"a new vector has shape {v.shape}, not ({dim},)")
                    copy.write_row((h, vector_literal(v)))
            conn.execute("UPDATE chunks c SET vector = n.vector FROM new_vectors n WHERE c.hash = n.hash")
            if old_dim is None or int(old_dim) != dim:
                schema.create_vector_index(conn, dim, self.hnsw_m, self.hnsw_ef_construction)
            self._set_meta(conn, "embedder_name", name)
            self._set_meta(conn, "embedder_dim", str(dim))
            if spec is None:
                conn.execute("DELETE FROM meta WHERE key = 'embedder_spec'")
            else:
                self._set_meta(conn, "embedder_spec", json.dumps(dict(spec)))
        self._bound = name

    # ------------------------------------------------------------------ documents
    def documents(
        self,
        source: str | None = None,
        access: Access | None = None,
        *,
        path: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> Iterator[Document]:
        filters = Filters(sources=(source,) if source else (), documents=None if ids is None else tuple(ids))
        where, params = where_sql(filters, access or Access.owner())
        if path is not None:
            where, params = f"{where} AND d.path = %s", [*params, path]
        columns = ", ".join(f"d.{c.strip()}" for c in DOC_COLUMNS.split(","))
        with self._tx() as conn:
            rows = conn.execute(
                f'SELECT {columns} FROM documents d WHERE {where} ORDER BY d.source COLLATE "C", d.path COLLATE "C"',
                params,
            ).fetchall()
        for row in rows:
            yield document_from_row(row)

    def document_page(
        self, filters: Filters, access: Access, *, text: str = "", offset: int = 0, limit: int = 100
    ) -> tuple[list[Document], int]:
        where, params = where_sql(filters, access)
        if text:
            pattern = like_pattern(text)
            where = f"{where} AND (d.path ILIKE %s ESCAPE '\\' OR d.title ILIKE %s ESCAPE '\\')"
            params = [*params, pattern, pattern]
        columns = ", ".join(f"d.{c.strip()}" for c in DOC_COLUMNS.split(","))
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {columns}, COUNT(*) OVER () FROM documents d WHERE {where} "
                'ORDER BY d.source COLLATE "C", d.path COLLATE "C" LIMIT %s OFFSET %s',
                [*params, limit, offset],
            ).fetchall()
            if not rows:
                total = conn.execute(f"SELECT COUNT(*) FROM documents d WHERE {where}", params).fetchone()
                return [], int(total[0]) if total else 0
        return [document_from_row(row[:-1]) for row in rows], int(rows[0][-1])

    def document_text(self, doc_id: str) -> str:
        text = self._one("SELECT text FROM documents WHERE id = %s", (doc_id,))
        if text is None:
            raise NotFoundError(f"no document with id {doc_id}")
        return str(text)

    def chunks(self, doc_id: str) -> list[Chunk]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT text, location, context, ordinal FROM chunks WHERE doc_id = %s ORDER BY ordinal", (doc_id,)
            ).fetchall()
        return [Chunk(t, Location.from_dict(json.loads(loc)), ctx, o) for t, loc, ctx, o in rows]

    def put_document(
        self, doc: Document, chunks: Sequence[Chunk], vectors: Mapping[str, np.ndarray], text: str
    ) -> None:
        self.import_document(doc, chunks, vectors, text)

    def import_document(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        vectors: Mapping[str, np.ndarray],
        text: str,
        chunk_ids: Sequence[int] | None = None,
        indexed_at: float | None = None,
        durable: bool = True,
    ) -> None:
        """``put_document``, keeping given chunk ids (``docket db copy`` into an empty database).
        ``durable=False`` does not wait for the commit to reach disk (a bulk copy verified afterwards)."""
        missing = [c.hash for c in chunks if c.hash not in vectors]
        if missing:
            raise ValueError(f"{len(missing)} chunk(s) of {doc.path} have no vector")
        analyzed = [analyze(c.indexed_text) for c in chunks]
        with self._tx() as conn:
            if not durable:
                conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_WRITE_LOCK,))
            for key in sorted({f"doc:{doc.id}", "path:" + json.dumps([doc.source, doc.path])}):
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
            recorded = self._meta(conn, "embedder_name")
            if self._bound is not None and recorded != self._bound:
                raise IndexMismatchError(
                    f"the knowledge base switched to the embedder '{recorded}' while this process was using "
                    f"'{self._bound}'; run the command again"
                )
            conn.execute(
                "DELETE FROM documents WHERE id = %s OR (source = %s AND path = %s)", (doc.id, doc.source, doc.path)
            )
            conn.execute(
                f"INSERT INTO documents ({DOC_COLUMNS}, text, indexed_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s)",
                (
                    doc.id,
                    doc.source,
                    doc.path,
                    pg_text(doc.title),
                    doc.filetype,
                    doc.content_hash,
                    doc.size,
                    doc.mtime,
                    doc.workspace,
                    json.dumps(list(doc.access)),
                    json.dumps(list(doc.tags)),
                    json.dumps(dict(doc.metadata), default=str),
                    pg_text(text),
                    time.time() if indexed_at is None else indexed_at,
                ),
            )
            self._bump(conn)
            if not chunks:
                return
            if chunk_ids is None:
                chunk_ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT nextval('chunks_id_seq') FROM generate_series(1, %s)", (len(chunks),)
                    ).fetchall()
                ]
            cur = conn.cursor()
            with cur.copy(
                "COPY chunks (id, doc_id, ordinal, text, context, location, hash, vector, length) FROM STDIN"
            ) as copy:
                for cid, c, terms in zip(chunk_ids, chunks, analyzed, strict=True):
                    copy.write_row(
                        (
                            cid,
                            doc.id,
                            c.ordinal,
                            pg_text(c.text),
                            pg_text(c.context),
                            json.dumps(c.location.to_dict()),
                            c.hash,
                            vector_literal(vectors[c.hash]),
                            len(terms),
                        )
                    )
            with cur.copy("COPY postings (term, chunk_id, doc_id, tf, length) FROM STDIN") as copy:
                for cid, terms in zip(chunk_ids, analyzed, strict=True):
                    counts: dict[str, int] = {}
                    for t in terms:
                        counts[t] = counts.get(t, 0) + 1
                    for term, tf in counts.items():  # the embedded store keeps counts as uint16
                        copy.write_row((term, cid, doc.id, min(tf, 65535), len(terms)))

    _UPDATABLE: frozenset[str] = frozenset(
        {"path", "title", "mtime", "size", "workspace", "access", "tags", "metadata"}
    )

    def update_document(self, doc_id: str, **fields: Any) -> None:
        unknown = set(fields) - self._UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; updatable: {sorted(self._UPDATABLE)}")
        assignments, values = [], []
        for key, value in fields.items():
            if key in ("access", "tags"):
                assignments.append(f"{key} = %s::jsonb")
                values.append(json.dumps(list(value)))
            elif key == "metadata":
                assignments.append("metadata = %s")
                values.append(json.dumps(dict(value), default=str))
            else:
                assignments.append(f"{key} = %s")
                values.append(value)
        with self._tx() as conn:
            cur = conn.execute(f"UPDATE documents SET {', '.join(assignments)} WHERE id = %s", (*values, doc_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"no document with id {doc_id}")
            self._bump(conn)

    def delete_document(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_WRITE_LOCK,))
            conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,))
            self._bump(conn)

    def vectors_for(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(hashes))
        if not wanted:
            return {}
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (hash) hash, vector::text FROM chunks WHERE hash = ANY(%s)", (wanted,)
            ).fetchall()
        return {h: parse_vector(v) for h, v in rows}

    # ------------------------------------------------------------------ retrieval
    # Postings a pruned keyword query may score in SQL before the others are looked up; a query whose
    # terms all fit is scored in one exhaustive statement (as cheap at that size). 0: never pruned, the
    # default: at one million chunks pruning measured slower than the one statement (docs/storage.md).
    KEYWORD_BUDGET = 0
    # Bounded keyword search (0: off, every posting is scored, the exact BM25 ranking): a query whose
    # postings number more than KEYWORD_FULL reads its rarest terms whole, as many as fit in
    # KEYWORD_FULL postings, and the KEYWORD_DEPTH best postings by impact of each other term; the
    # KEYWORD_RESCORE best candidates (at least 2 k) are scored exactly. Chosen on the training
    # questions of bench/scale.py at 1,000,000 chunks (docs/storage.md).
    KEYWORD_FULL = 50_000
    KEYWORD_DEPTH = 1000
    KEYWORD_RESCORE = 1000
    # Settings of the keyword statement's transaction: no JIT compilation (it costs more than short
    # queries take) and room for the aggregate in memory.
    KEYWORD_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '32MB'"
    # Hybrid search runs the keyword and the vector statement at once, on two pooled connections.
    parallel_retrieval = True

    def keyword_search(self, query: str, k: int, filters: Filters, access: Access) -> list[tuple[int, float]]:
        """BM25 top ``k``. A query with at most ``KEYWORD_FULL`` postings is scored exactly, over every
        posting (:func:`~docket.index.postgres.sql.exhaustive_sql`). A larger one reads its rarest terms
        whole (as many as fit in ``KEYWORD_FULL`` postings, at least one) and the ``KEYWORD_DEPTH`` best
        postings by impact of each other term (from the ``postings_impact`` index, filtered by
        ``documents`` while reading); the ``KEYWORD_RESCORE`` best candidates are scored exactly
        (:func:`~docket.index.postgres.sql.bounded_sql`). Scores are always exact BM25; the bounded list
        can miss a chunk whose score comes mostly from the frequent terms. ``KEYWORD_BUDGET`` > 0
        first tries MaxScore pruning, which is exact (:class:`~docket.index.postgres.sql.KeywordPlan`)."""
        terms = analyze_query(query)
        if not terms or k <= 0:
            return []
        where, params = where_sql(filters, access)
        if where == "FALSE":
            return []
        with self._tx() as conn:
            stats = conn.execute(
                "SELECT c.chunks, c.total_length, t.term, t.df, t.max_tf, t.min_length "
                "FROM corpus c JOIN terms t ON t.term = ANY(%s) AND t.df > 0",
                (terms,),
            ).fetchall()
            if not stats:
                return []
            plan = keyword_plan(stats)
            if plan.norm <= 0:
                return []
            conn.execute(self.KEYWORD_SETTINGS)
            j = plan.prefix(self.KEYWORD_BUDGET)
            if 0 < j < len(plan.order):
                read = plan.order[:j]
                contenders = conn.execute(
                    partial_sql(where),
                    [read, [plan.idf[t] for t in read], plan.avgdl, *params, k - 1, plan.margin(j)],
                ).fetchall()
                # every chunk at or above the k-th partial score is among the contenders (when k have any)
                if len(contenders) >= k and plan.margin(j) < heapq.nlargest(k, (s for _, s in contenders))[-1]:
                    lookups = conn.execute(
                        "SELECT term, chunk_id, tf, length FROM postings WHERE term = ANY(%s) AND chunk_id = ANY(%s)",
                        (plan.order[j:], [c for c, _ in contenders]),
                    ).fetchall()
                    return plan.finish(j, k, contenders, lookups)
            names, weights = keyword_weights(plan)
            if self.KEYWORD_FULL > 0 and sum(plan.df.values()) > self.KEYWORD_FULL:
                whole = set(plan.order[: max(1, plan.prefix(self.KEYWORD_FULL))])
                depths = [plan.df[t] if t in whole else min(plan.df[t], self.KEYWORD_DEPTH) for t in names]
                impact = schema.impact_sql(self._impact_length(conn), "p")
                statement = bounded_sql(where, plan, impact)
                args = [names, weights, depths, *params, max(2 * k, self.KEYWORD_RESCORE), k]
            else:
                statement, args = exhaustive_sql(where, plan), [names, weights, *params, k]
            rows = conn.execute(statement, args).fetchall()
        return [(int(cid), float(score)) for cid, score in rows if score is not None and score > 0]

    def _impact_length(self, conn: psycopg.Connection[Any]) -> float:
        """The reference length of the ``postings_impact`` index (fixed when it was made)."""
        if self._impact is None:
            self._impact = float(self._meta(conn, "impact_length") or 100.0)
        return self._impact

    def vector_search(self, vector: np.ndarray, k: int, filters: Filters, access: Access) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        where, params = where_sql(filters, access)
        if where == "FALSE":
            return []
        query = vector_literal(vector)
        with self._tx() as conn:
            conn.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(self.hnsw_ef_search, k))}")
            if where == "TRUE":  # the HNSW index answers directly
                rows = conn.execute(
                    "SELECT c.id, 1 - (c.vector <=> %s::vector) FROM chunks c "
                    "ORDER BY c.vector <=> %s::vector LIMIT %s",
                    (query, query, k),
                ).fetchall()
            elif self._iterative_scan:  # pgvector >= 0.8 keeps scanning the index until k rows pass the filter
                conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
                rows = conn.execute(
                    "SELECT c.id, 1 - (c.vector <=> %s::vector) FROM chunks c JOIN documents d ON d.id = c.doc_id "
                    f"WHERE {where} ORDER BY c.vector <=> %s::vector LIMIT %s",
                    (query, *params, query, k),
                ).fetchall()
            else:  # exact search over the rows the filter allows (the ORDER BY expression bypasses the index)
                rows = conn.execute(
                    "SELECT c.id, 1 - (c.vector <=> %s::vector) AS score FROM chunks c "
                    f"JOIN documents d ON d.id = c.doc_id WHERE {where} ORDER BY score DESC, c.id LIMIT %s",
                    (query, *params, k),
                ).fetchall()
        return [(int(cid), float(score)) for cid, score in rows]

    def hits(self, scored: Sequence[tuple[int, float]], access: Access) -> list[Hit]:
        if not scored:
            return []
        where, params = where_sql(Filters(), access)
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {HIT_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.id = ANY(%s) AND {where}",
                [[cid for cid, _ in scored], *params],
            ).fetchall()
        by_id = {r[0]: r for r in rows}
        return [hit_from_row(by_id[cid], score) for cid, score in scored if cid in by_id]

    def document_hits(self, doc_id: str, access: Access) -> list[Hit]:
        where, params = where_sql(Filters(), access)
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {HIT_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE d.id = %s AND {where} ORDER BY c.ordinal",
                [doc_id, *params],
            ).fetchall()
        return [hit_from_row(row, 0.0) for row in rows]

    # ------------------------------------------------------------------ housekeeping
    def stats(self) -> dict[str, Any]:
        with self._tx() as conn:
            docs, chunks, size = one_row(
                conn.execute(
                    "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks), "
                    "pg_database_size(current_database())"
                )
            )
            name, dim = self._meta(conn, "embedder_name"), self._meta(conn, "embedder_dim")
        return {
            "path": self.where,
            "documents": docs,
            "chunks": chunks,
            **self.ledger.counts(),
            "embedder": name,
            "dimensions": int(dim) if dim is not None else None,
            "size_bytes": size,
        }

    def health(self) -> dict[str, Any]:
        """What ``docket db status`` shows: schema, sizes, the HNSW index and its validity."""
        with self._tx() as conn:
            sizes = {
                table: one_row(conn.execute("SELECT pg_total_relation_size(%s)", (table,)))[0]
                for table in ("documents", "chunks", "postings", "answer_log")
            }
            index = conn.execute(
                "SELECT i.indisvalid, i.indisready, pg_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = 'chunks_vector'"
            ).fetchone()
            server = one_row(conn.execute("SHOW server_version"))[0]
            version = schema.schema_version(conn)
            queue = None
            if one_row(conn.execute("SELECT to_regclass('jobs')"))[0] is not None:
                from docket.index.postgres.queue import queue_status

                queue = queue_status(conn)  # `docket worker`'s tasks
        return {
            "backend": "postgres",
            "location": self.where,
            "server_version": server,
            "pgvector": self.pgvector,
            "schema_version": version,
            "table_bytes": sizes,
            "hnsw_index": None if index is None else {"valid": bool(index[0] and index[1]), "bytes": index[2]},
            "filtered_vector_search": "iterative index scan" if self._iterative_scan else "exact",
            **({"queue": queue} if queue is not None else {}),
        }

    def drop_vector_index(self) -> None:
        """Before a bulk copy: building the HNSW index once afterwards is much faster than row by row."""
        with self._tx() as conn:
            conn.execute("DROP INDEX IF EXISTS chunks_vector")

    def finish_import(self) -> None:
        """After a copy: (re)build the HNSW index, move the id sequences past the ids written, and
        refresh the planner's statistics."""
        with self._tx() as conn:
            dim = self._meta(conn, "embedder_dim")
            if dim is not None:
                schema.create_vector_index(conn, int(dim), self.hnsw_m, self.hnsw_ef_construction)
            for table in ("chunks", "answer_log"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1), "
                    f"(SELECT COUNT(*) > 0 FROM {table}))"
                )
            conn.execute("ANALYZE documents, chunks, postings")

    def close(self) -> None:
        self._pool.close()
