"""The embedded store: one SQLite database (WAL mode) per knowledge base.

Its tables are in :mod:`docket.index.sqlite_schema`; the bookkeeping ones (sources, failures, the
answer log, conversations) are read and written by the store's :class:`~docket.ledger.Ledger`.

Every write that changes a document runs in one transaction, so a crash leaves either the old or
the new version. Both retrievers work on in-memory views loaded once (and reloaded when any writer
bumps ``generation``): a contiguous float32 matrix for exact cosine search, and a
:class:`~docket.index.bm25.BM25Index` for keyword search. Permission and metadata filters are SQL
over ``documents``; they select the chunk rows that may be scored, before ranking.

From ``vector_index_min_chunks`` chunks on (with ``docket[scale]``) the matrix is not loaded:
vectors are searched by :mod:`docket.index.sqlite_vectors`. Chunk ids are never reused
(``meta.chunk_id_high``), so rows newer than that index are those with larger ids.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from docket.errors import BackendError, IndexMismatchError, NotFoundError
from docket.index import ann
from docket.index.bm25 import BM25Index, pack_terms
from docket.index.keywords import analyze, analyze_query
from docket.index.rows import DOC_COLUMNS, HIT_COLUMNS, document_from_row, hit_from_row, like_pattern
from docket.index.sqlite_schema import SCHEMA_VERSION, migrate
from docket.index.sqlite_vectors import IndexedVectors, top
from docket.ledger import Ledger
from docket.records import Records
from docket.types import Access, Chunk, Document, Filters, Hit, Location

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

_DISTINCT_CHUNKS = "SELECT hash, MIN(text), MIN(context) FROM chunks GROUP BY hash ORDER BY hash"
_log = logging.getLogger(__name__)


class SqliteStore:
    """A knowledge base in one SQLite file: a :class:`~docket.protocols.DocumentIndex` (and
    :class:`~docket.protocols.Reembedding`) with its :class:`~docket.ledger.Ledger` as ``ledger``."""

    def __init__(
        self,
        path: str | Path,
        *,
        vector_index_min_chunks: int = 100_000,
        exact_rows: int = 20_000,
        ann_candidates: int = 200,
        ann_ef_search: int = 2048,
        ann_rebuild_share: float = 0.1,
    ) -> None:
        """From ``vector_index_min_chunks`` chunks on, vectors are searched through the approximate index
        (docs/storage.md): filters leaving at most ``exact_rows`` rows are scanned, ``ann_candidates``
        rows are re-scored, ``ann_ef_search`` is the graph's list per query, and the index is rebuilt
        once rows changed since its build exceed ``ann_rebuild_share`` of the store."""
        self.path = Path(path)
        self._ann_min = vector_index_min_chunks
        self._exact_rows = exact_rows
        self._ann_candidates = ann_candidates
        self._ann_ef = ann_ef_search
        self._ann_rebuild_share = ann_rebuild_share
        self._vectors: IndexedVectors | None = None  # above the threshold: the approximate index
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
            migrate(self._db, f"the knowledge base {self.path}")
        except sqlite3.DatabaseError as exc:
            raise BackendError(f"cannot open knowledge base {self.path}: {exc}") from exc
        self._matrix: np.ndarray | None = None
        self._row_ids: np.ndarray | None = None
        self._bm25: BM25Index | None = None
        self.timings = {"keywords": 0.0}  # seconds analysing chunks' keywords (ingest's stage profile reads it)
        self._loaded_generation = -1
        self._vocab: dict[str, int] = {}
        self._allowed_cache: tuple[tuple[Any, ...], np.ndarray] | None = None
        self._bound: str | None = None  # the embedder this process writes vectors with
        self.ledger = Ledger(Records.sqlite(self.path))  # bookkeeping: same file, a connection of its own

    # ------------------------------------------------------------------ meta
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def embedder_info(self) -> tuple[str, int] | None:
        name, dim = self._meta("embedder_name"), self._meta("embedder_dim")
        return None if name is None or dim is None else (name, int(dim))

    def bind_embedder(self, name: str, dim: int, spec: Mapping[str, Any] | None = None) -> None:
        current = self.embedder_info()
        if current is None:
            with self._tx():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_name', ?)", (name,))
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_dim', ?)", (str(dim),))
                if spec is not None:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_spec', ?)", (json.dumps(spec),))
            self._bound = name
            return
        if current != (name, dim):
            raise IndexMismatchError(
                f"this knowledge base ({self.path.parent}) was built with the embedder "
                f"'{current[0]}' ({current[1]} dimensions), not '{name}' ({dim}). Use the embedder "
                f"it was built with, or rebuild it with: docket reindex --embedder <name>"
            )
        self._bound = name

    def embedder_spec(self) -> dict[str, Any] | None:
        value = self._meta("embedder_spec")
        return None if value is None else dict(json.loads(value))

    def chunk_texts(self) -> list[tuple[str, str]]:
        return [(h, f"{ctx}\n{text}" if ctx else text) for h, text, ctx in self._db.execute(_DISTINCT_CHUNKS)]

    def swap_embedder(
        self,
        name: str,
        dim: int,
        spec: Mapping[str, Any] | None,
        vectors_for: Callable[[list[tuple[str, str]]], Mapping[str, np.ndarray]],
    ) -> None:
        with self._tx():  # writers wait; readers keep the old vectors until the commit
            pairs = [(h, f"{ctx}\n{text}" if ctx else text) for h, text, ctx in self._db.execute(_DISTINCT_CHUNKS)]
            vectors = vectors_for(pairs)
            rows = []
            for h, _ in pairs:
                v = np.ascontiguousarray(vectors[h], dtype=np.float32)
                if v.shape != (dim,):
                    raise IndexMismatchError(f"a new vector has shape {v.shape}, not ({dim},)")
                rows.append((v.tobytes(), h))
            self._db.executemany("UPDATE chunks SET vector = ? WHERE hash = ?", rows)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_name', ?)", (name,))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_dim', ?)", (str(dim),))
            if spec is None:
                self._db.execute("DELETE FROM meta WHERE key = 'embedder_spec'")
            else:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_spec', ?)", (json.dumps(spec),))
            self._db.execute(  # vectors changed in place: an approximate index built before is stale
                "INSERT OR REPLACE INTO meta VALUES ('vector_epoch', ?)", (str(self._vector_epoch() + 1),)
            )
            self._bump()
        self._bound = name

    def generation(self) -> int:
        """Changes whenever a document is added, changed or removed (for caches of their metadata)."""
        return int(self._meta("generation") or 0)

    def _vector_epoch(self) -> int:
        return int(self._meta("vector_epoch") or 0)

    def _chunk_id_high(self) -> int:
        """The largest chunk id ever used: new chunks get larger ones, so ids are never reused."""
        (largest,) = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()
        return max(int(self._meta("chunk_id_high") or 0), int(largest))

    def _keep_chunk_id_high(self) -> None:
        """Record the high-water mark before rows are deleted (stores from before it was kept)."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('chunk_id_high', ?)", (str(self._chunk_id_high()),))

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type: object, *_: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self) -> SqliteStore._Tx:
        return SqliteStore._Tx(self._db)

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
        where, params = self._where(filters, access or Access.owner())
        if path is not None:
            where, params = f"{where} AND d.path = ?", [*params, path]
        columns = ", ".join(f"d.{c.strip()}" for c in DOC_COLUMNS.split(","))
        rows = self._db.execute(f"SELECT {columns} FROM documents d WHERE {where} ORDER BY d.source, d.path", params)
        for row in rows.fetchall():
            yield document_from_row(row, json.loads)

    def document_page(
        self, filters: Filters, access: Access, *, text: str = "", offset: int = 0, limit: int = 100
    ) -> tuple[list[Document], int]:
        where, params = self._where(filters, access)
        if text:
            pattern = like_pattern(text)
            where, params = (
                f"{where} AND (d.path LIKE ? ESCAPE '\\' OR d.title LIKE ? ESCAPE '\\')",
                [
                    *params,
                    pattern,
                    pattern,
                ],
            )
        columns = ", ".join(f"d.{c.strip()}" for c in DOC_COLUMNS.split(","))
        rows = self._db.execute(
            f"SELECT {columns}, COUNT(*) OVER () FROM documents d WHERE {where} "
            "ORDER BY d.source, d.path LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        if rows:
            return [document_from_row(row[:-1], json.loads) for row in rows], int(rows[0][-1])
        total = self._db.execute(f"SELECT COUNT(*) FROM documents d WHERE {where}", params).fetchone()[0]
        return [], int(total)

    def document_text(self, doc_id: str) -> str:
        row = self._db.execute("SELECT text FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document with id {doc_id}")
        return str(row[0])

    def chunks(self, doc_id: str) -> list[Chunk]:
        rows = self._db.execute(
            "SELECT text, location, context, ordinal FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,)
        )
        return [Chunk(t, Location.from_dict(json.loads(loc)), ctx, o) for t, loc, ctx, o in rows]

    def put_document(
        self, doc: Document, chunks: Sequence[Chunk], vectors: Mapping[str, np.ndarray], text: str
    ) -> None:
        missing = [c.hash for c in chunks if c.hash not in vectors]
        if missing:
            raise ValueError(f"{len(missing)} chunk(s) of {doc.path} have no vector")
        started = time.perf_counter()
        analyzed = [analyze(c.indexed_text) for c in chunks]
        self.timings["keywords"] += time.perf_counter() - started
        try:
            self._put(doc, chunks, vectors, text, analyzed)
        except BaseException:
            self._vocab.clear()  # ids cached during a rolled-back transaction may not exist
            raise

    def _put(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        vectors: Mapping[str, np.ndarray],
        text: str,
        analyzed: list[list[str]],
    ) -> None:
        with self._tx():
            recorded = self._meta("embedder_name")
            if self._bound is not None and recorded != self._bound:
                raise IndexMismatchError(
                    f"the knowledge base switched to the embedder '{recorded}' while this process was using "
                    f"'{self._bound}'; run the command again"
                )
            started = time.perf_counter()
            ids = self._term_ids({t for terms in analyzed for t in terms})
            self.timings["keywords"] += time.perf_counter() - started
            first = self._chunk_id_high() + 1
            rows = [
                (
                    first + i,
                    doc.id,
                    c.ordinal,
                    c.text,
                    c.context,
                    json.dumps(c.location.to_dict()),
                    c.hash,
                    np.ascontiguousarray(vectors[c.hash], dtype=np.float32).tobytes(),
                    *pack_terms([ids[t] for t in terms]),
                )
                for i, (c, terms) in enumerate(zip(chunks, analyzed, strict=True))
            ]
            self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.id,))
            self._db.execute(
                "DELETE FROM documents WHERE source = ? AND path = ? AND id != ?", (doc.source, doc.path, doc.id)
            )
            self._db.execute(
                f"INSERT OR REPLACE INTO documents ({DOC_COLUMNS}, text, indexed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.id,
                    doc.source,
                    doc.path,
                    doc.title,
                    doc.filetype,
                    doc.content_hash,
                    doc.size,
                    doc.mtime,
                    doc.workspace,
                    json.dumps(list(doc.access)),
                    json.dumps(list(doc.tags)),
                    json.dumps(dict(doc.metadata), default=str),
                    text,
                    time.time(),
                ),
            )
            self._db.executemany(
                "INSERT INTO chunks (id, doc_id, ordinal, text, context, location, hash, vector, terms, length) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if rows:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('chunk_id_high', ?)", (str(first + len(rows) - 1),)
                )
            self._bump()

    def _term_ids(self, terms: set[str], create: bool = True) -> dict[str, int]:
        """Ids of keyword terms (new ones are added when ``create``); ids are never reused."""
        missing = [t for t in terms if t not in self._vocab]
        if missing and create:
            self._db.executemany("INSERT OR IGNORE INTO vocab (term) VALUES (?)", [(t,) for t in missing])
        for start in range(0, len(missing), 500):
            batch = missing[start : start + 500]
            marks = ",".join("?" * len(batch))
            self._vocab.update(self._db.execute(f"SELECT term, id FROM vocab WHERE term IN ({marks})", batch))
        return {t: self._vocab[t] for t in terms if t in self._vocab}

    _UPDATABLE: frozenset[str] = frozenset(
        {"path", "title", "mtime", "size", "workspace", "access", "tags", "metadata"}
    )

    def update_document(self, doc_id: str, **fields: Any) -> None:
        unknown = set(fields) - self._UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; updatable: {sorted(self._UPDATABLE)}")
        values = {
            k: json.dumps(list(v) if isinstance(v, tuple) else v) if k in ("access", "tags", "metadata") else v
            for k, v in fields.items()
        }
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._tx():
            cur = self._db.execute(f"UPDATE documents SET {assignments} WHERE id = ?", (*values.values(), doc_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"no document with id {doc_id}")
            self._bump()

    def delete_document(self, doc_id: str) -> None:
        with self._tx():
            self._keep_chunk_id_high()
            self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            self._bump()

    def vectors_for(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(hashes))
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ",".join("?" * len(batch))
            for h, blob in self._db.execute(
                f"SELECT hash, vector FROM chunks WHERE hash IN ({marks}) GROUP BY hash", batch
            ):
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    # ------------------------------------------------------------------ retrieval
    @staticmethod
    def _where(filters: Filters, access: Access) -> tuple[str, list[Any]]:
        """SQL conditions over documents ``d`` for metadata filters and the caller's access."""
        clauses: list[str] = []
        params: list[Any] = []
        if not access.unrestricted:
            workspaces = list(access.workspaces or ())
            if not workspaces:
                return "0", []
            clauses.append(f"d.workspace IN ({','.join('?' * len(workspaces))})")
            params.extend(workspaces)
            principals = list(access.principals)
            if access.all_documents:
                pass
            elif principals:
                clauses.append(
                    "(d.access = '[]' OR EXISTS (SELECT 1 FROM json_each(d.access) "
                    f"WHERE json_each.value IN ({','.join('?' * len(principals))})))"
                )
                params.extend(principals)
            else:
                clauses.append("d.access = '[]'")
        if filters.path_glob:
            clauses.append("d.path GLOB ?")
            params.append(filters.path_glob)
        if filters.filetypes:
            clauses.append(f"d.filetype IN ({','.join('?' * len(filters.filetypes))})")
            params.extend(f.lower().lstrip(".") for f in filters.filetypes)
        if filters.modified_after is not None:
            clauses.append("d.mtime >= ?")
            params.append(filters.modified_after)
        if filters.modified_before is not None:
            clauses.append("d.mtime < ?")
            params.append(filters.modified_before)
        if filters.tags:
            marks = ",".join("?" * len(filters.tags))
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value IN ({marks}))")
            params.extend(filters.tags)
        if filters.sources:
            clauses.append(f"d.source IN ({','.join('?' * len(filters.sources))})")
            params.extend(filters.sources)
        if filters.documents is not None:
            if not filters.documents:
                return "0", []
            clauses.append(f"d.id IN ({','.join('?' * len(filters.documents))})")
            params.extend(filters.documents)
        return (" AND ".join(clauses) or "1"), params

    def _load(self) -> tuple[np.ndarray, np.ndarray, BM25Index]:
        """The in-memory views of vectors and keyword postings, rebuilt when the store changed."""
        generation = self.generation()
        if self._matrix is None or self._row_ids is None or self._bm25 is None or generation != self._loaded_generation:
            self._matrix = self._row_ids = self._bm25 = None  # never hold two copies while reloading
            self._vectors = None
            views = None
            while views is None:  # None: a writer added rows between the count and the read; read again
                generation = self.generation()
                views = self._read_views()
            self._row_ids, self._matrix, self._bm25 = views
            self._loaded_generation = generation
            info = self.embedder_info()
            if info is not None and self._matrix.shape[0] < len(self._row_ids):  # the index serves vectors
                args = (self._row_ids, info, self._chunk_id_high, self._vector_epoch, self._ann_rebuild_share)
                self._vectors = IndexedVectors.open(self._db, self.path, *args)
        return self._matrix, self._row_ids, self._bm25

    def _approximate(self, n: int) -> bool:
        """Whether a store of ``n`` chunks searches vectors through the approximate index."""
        if n < self._ann_min or self.embedder_info() is None:
            return False
        if not (found := ann.available()):
            _log.warning("%d chunks: exact vector search (%s)", n, "pip install 'docket[scale]' for the index")
        return found

    _LOAD_BATCH = 256  # rows per fetchmany: small batches keep freed blobs from fragmenting the heap

    def _read_views(self) -> tuple[np.ndarray, np.ndarray, BM25Index] | None:
        """Stream the chunk rows into arrays sized by ``COUNT(*)`` (never every row as Python objects
        at once, as ``fetchall()`` did): the peak is the finished arrays plus one batch of rows and
        the BM25 build's temporaries. None when more rows arrived than were counted."""
        n, postings = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(terms)), 0) FROM chunks").fetchone()
        postings //= 6  # pack_terms: 4 bytes of term id + 2 bytes of count per posting
        info = self.embedder_info()
        dim = info[1] if info else 0
        approximate = self._approximate(n)
        row_ids = np.empty(n, dtype=np.int64)
        matrix = np.empty((0 if approximate else n, dim), dtype=np.float32)
        lengths = np.empty(n, dtype=np.float32)
        sizes = np.empty(n, dtype=np.int32)
        term = np.empty(postings, dtype=np.uint32)
        tf = np.empty(postings, dtype=np.uint16)
        vector = "x''" if approximate else "vector"  # the index holds them
        cursor = self._db.execute(f"SELECT id, {vector}, terms, length FROM chunks ORDER BY id")
        i = p = 0
        while batch := cursor.fetchmany(self._LOAD_BATCH):
            j = i + len(batch)
            if j > n:
                return None
            row_ids[i:j] = [r[0] for r in batch]
            lengths[i:j] = [r[3] for r in batch]
            if dim and not approximate:
                matrix[i:j] = np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(-1, dim)
            counts = [len(r[2]) // 6 for r in batch]
            sizes[i:j] = counts
            q = p + sum(counts)
            if q > postings:
                return None
            term[p:q] = np.frombuffer(b"".join(r[2][: 4 * c] for r, c in zip(batch, counts, strict=True)), np.uint32)
            tf[p:q] = np.frombuffer(b"".join(r[2][4 * c :] for r, c in zip(batch, counts, strict=True)), np.uint16)
            i, p = j, q
        if i < n or p < postings:  # rows deleted meanwhile
            row_ids, matrix, lengths, sizes, term, tf = (
                row_ids[:i],
                matrix if approximate else matrix[:i],
                lengths[:i],
                sizes[:i],
                term[:p],
                tf[:p],
            )
        vocab_size = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM vocab").fetchone()[0]
        bm25 = BM25Index.from_postings(term, tf, sizes, lengths, vocab_size)
        return row_ids, matrix, bm25

    def _allowed(self, filters: Filters, access: Access, row_ids: np.ndarray) -> np.ndarray | None:
        """Positions of the rows the filters and the caller's access allow; None when all are.

        The last answer is kept (per generation), so the keyword and vector halves of one hybrid
        search run the SQL once.
        """
        where, params = self._where(filters, access)
        if where == "1":
            return None
        key = (where, tuple(params), self._loaded_generation)
        if self._allowed_cache is not None and self._allowed_cache[0] == key:
            return self._allowed_cache[1]
        allowed = np.array(
            [
                r[0]
                for r in self._db.execute(
                    f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}", params
                )
            ],
            dtype=np.int64,
        )
        positions = np.searchsorted(row_ids, np.sort(allowed))
        self._allowed_cache = (key, positions)
        return positions

    _top = staticmethod(top)

    def keyword_search(self, query: str, k: int, filters: Filters, access: Access) -> list[tuple[int, float]]:
        _, row_ids, bm25 = self._load()
        term_ids = list(self._term_ids(set(analyze_query(query)), create=False).values())
        if not term_ids or len(row_ids) == 0:
            return []
        norm = bm25.idf_sum(term_ids)
        if norm <= 0:
            return []
        positions = self._allowed(filters, access, row_ids)
        allowed = None
        if positions is not None:
            allowed = np.zeros(len(row_ids), dtype=bool)
            allowed[positions] = True
        rows, scores = bm25.top(term_ids, k, allowed)  # rows are in id order, so ties break by id
        return [(int(row_ids[r]), float(s) / norm) for r, s in zip(rows, scores, strict=True)]

    def vector_search(self, vector: np.ndarray, k: int, filters: Filters, access: Access) -> list[tuple[int, float]]:
        matrix, row_ids, _ = self._load()
        if len(row_ids) == 0:
            return []
        positions = self._allowed(filters, access, row_ids)
        query = vector.astype(np.float32)
        if self._vectors is not None:
            options = {"candidates": self._ann_candidates, "ef": self._ann_ef, "exact_rows": self._exact_rows}
            return self._vectors.search(query, k, positions, row_ids, **options)
        if positions is not None:
            return self._top(matrix[positions] @ query, row_ids[positions], k)
        return self._top(matrix @ query, row_ids, k)

    def hits(self, scored: Sequence[tuple[int, float]], access: Access) -> list[Hit]:
        if not scored:
            return []
        ids = [cid for cid, _ in scored]
        where, params = self._where(Filters(), access)
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT {HIT_COLUMNS} FROM chunks c "
            f"JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks}) AND {where}",
            [*ids, *params],
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        return [hit_from_row(by_id[cid], score) for cid, score in scored if cid in by_id]

    def document_hits(self, doc_id: str, access: Access) -> list[Hit]:
        where, params = self._where(Filters(), access)
        rows = self._db.execute(
            f"SELECT {HIT_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE d.id = ? AND {where} ORDER BY c.ordinal",
            [doc_id, *params],
        ).fetchall()
        return [hit_from_row(row, 0.0) for row in rows]

    # ------------------------------------------------------------------ housekeeping
    def prepare_search(self) -> None:
        """After an ingest: build or refresh the vector index now, not in a user's query (docs/storage.md)."""
        if self._approximate(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]):
            self._load()

    def stats(self) -> dict[str, Any]:
        docs, chunks = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks)"
        ).fetchone()
        info = self.embedder_info()
        return {
            "path": str(self.path),
            "documents": docs,
            "chunks": chunks,
            **self.ledger.counts(),
            "embedder": info[0] if info else None,
            "dimensions": info[1] if info else None,
            "size_bytes": sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*")),
        }

    def close(self) -> None:
        self._vectors = None
        self.ledger.close()
        self._db.close()
