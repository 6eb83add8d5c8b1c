"""Spreadsheets as SQL tables, kept in PostgreSQL so that every machine of a knowledge base sees them.

The same tables as the embedded ``tables.db`` (:mod:`docket.index.tables`: names, types, catalogue,
notes, permissions), stored in the PostgreSQL schema ``docket_tables`` of the store's database:

- ``catalog``: one row per table, the catalogue's fields (JSON ones as ``json``) and a ``version``
  from a sequence, new each time the table is written;
- ``rows``: each table's typed rows as one zlib-compressed JSON array (``bytea``);
- ``loads``: the content hash (or rows digest) each document or database source was loaded from,
  and the note when it could not be.

Writes are one transaction each, under an advisory lock shared by every table write (so two
workers loading files with the same name still get two table names). The tables are created on
first use with ``CREATE ... IF NOT EXISTS``; they are not part of the store's numbered migrations.

**Queries** keep the SQLite dialect the model is told about: :meth:`PostgresTableStore.query` (the
one of :class:`~docket.index.tables.TableStore`: SELECT only, the same authorizer, time limit and
row cap) runs on a private in-memory SQLite database holding only the tables the caller may read
that the query names. Those databases are built from PostgreSQL and cached in the process, keyed by
the tables' names and versions (a table rewritten anywhere gets a new version, so a stale copy is
never used), up to ``cache_bytes`` in all.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docket.config import redact_url
from docket.errors import DatabaseError, MissingExtraError
from docket.index.table_catalogue import (
    CATALOGUE_FIELDS,
    MAX_COLUMNS,
    TABLE_FILETYPES,
    BuiltTable,
    Column,
    TableInfo,
    build_rows_table,
    build_sheet_table,
    pruned,
    source_table_id,
    table_info,
    table_names,
)
from docket.index.table_store import TableStore
from docket.index.table_values import SHEET_READERS
from docket.records.postgres import explain_connect_error, first_line, pg_text, pooled
from docket.types import Document

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - exercised by installs without the extra
    raise MissingExtraError("psycopg", "postgres", "A PostgreSQL store (store.url / DOCKET_DATABASE_URL)") from exc

__all__ = ["SCHEMA", "PostgresTableStore"]

SCHEMA = "docket_tables"
CACHE_BYTES = 256 * 1024 * 1024  # in-memory SQLite copies of tables kept per process
_TABLES_LOCK = 0x646F636B7462  # every table write ("docktb"): unique names across machines
_INT64 = (-(2**63), 2**63 - 1)
_JSON_FIELDS = frozenset({"columns", "samples", "distinct_values", "name_terms", "value_terms"})

_DDL = f"""
CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.versions;
CREATE TABLE IF NOT EXISTS {SCHEMA}.loads (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    note TEXT,
    loaded_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.catalog (
    name TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    sheet TEXT,
    part INTEGER NOT NULL,
    header_row INTEGER NOT NULL,
    row_start BIGINT,
    row_end BIGINT,
    row_count BIGINT NOT NULL,
    columns JSON NOT NULL,
    samples JSON NOT NULL,
    distinct_values JSON NOT NULL,
    name_terms JSON NOT NULL,
    value_terms JSON NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_doc ON {SCHEMA}.catalog (doc_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.rows (
    name TEXT PRIMARY KEY REFERENCES {SCHEMA}.catalog (name) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    data BYTEA NOT NULL
);
"""

_SELECT = ", ".join(f"{f}::text" if f in _JSON_FIELDS else f for f in CATALOGUE_FIELDS)


class PostgresTableStore(TableStore):
    """The tables of a knowledge base whose store is PostgreSQL, in its schema ``docket_tables``."""

    def __init__(self, url: str, connect_timeout: float = 10.0, cache_bytes: int = CACHE_BYTES) -> None:
        self.url = url
        self.where = redact_url(url)
        self._timeout = connect_timeout
        timeout = max(1, round(connect_timeout))
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=timeout) as conn:
                _create_schema(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DatabaseError(
                f"PostgreSQL at {self.where} refused to create the schema {SCHEMA} (spreadsheets as SQL tables): "
                f"{first_line(exc, url)}. Create it once as the database owner: CREATE SCHEMA {SCHEMA} "
                "AUTHORIZATION <Docket's user>"
            ) from exc
        except psycopg.OperationalError as exc:
            raise explain_connect_error(exc, url) from exc
        except psycopg.Error as exc:
            raise DatabaseError(f"the table store in PostgreSQL at {self.where}: {first_line(exc, url)}") from exc
        self._pool = ConnectionPool(
            url, min_size=0, max_size=3, kwargs={"connect_timeout": timeout}, open=False, name="docket-tables"
        )
        self._pool.open(wait=False)
        self._cache: OrderedDict[tuple[tuple[str, int], ...], bytes] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        self._pool.close()
        with self._cache_lock:
            self._cache.clear()

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection; psycopg's errors become DatabaseError."""
        with pooled(self._pool, self.where, self._timeout, "the table store in PostgreSQL", self.url) as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Connection[Any]]:
        with self._session() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_TABLES_LOCK,))
            yield conn

    # -- writing
    def _loaded(self, doc_id: str) -> tuple[str, str | None] | None:
        with self._session() as conn:
            row = conn.execute(f"SELECT content_hash, note FROM {SCHEMA}.loads WHERE doc_id = %s", (doc_id,)).fetchone()
        return None if row is None else (str(row[0]), row[1])

    def missing(self, doc: Document) -> bool:
        if doc.filetype not in TABLE_FILETYPES:
            return False
        loaded = self._loaded(doc.id)
        return loaded is None or loaded[0] != doc.content_hash

    def load(self, doc: Document, data: bytes) -> list[str]:
        if doc.filetype not in TABLE_FILETYPES:
            return []
        read = SHEET_READERS.get("spreadsheet")  # registered by docket.ingest.sheet_tables
        try:
            raw = read(data, doc.filetype)
            if not raw:
                raise ValueError("no table with a header row and data rows")
            with self._writing() as conn:
                old = {
                    (sheet, part): name
                    for name, sheet, part in conn.execute(
                        f"SELECT name, sheet, part FROM {SCHEMA}.catalog WHERE doc_id = %s", (doc.id,)
                    ).fetchall()
                }
                _drop(conn, doc.id)
                taken = {r[0] for r in conn.execute(f"SELECT name FROM {SCHEMA}.catalog").fetchall()}
                for name, table in table_names(doc, raw, old, taken):
                    _write(conn, build_sheet_table(doc, name, table))
                _record(conn, doc.id, doc.content_hash, None)
            return []
        except DatabaseError as exc:  # unreachable, a constraint...: not recorded, so the next sync tries again
            return [f"not loaded as a table: the table store failed ({exc})"]
        except Exception as exc:  # a file the table loader cannot read must not stop the sync
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            note = f"not loaded as a table: {reason[:200]}"
        with contextlib.suppress(DatabaseError), self._writing() as conn:
            _drop(conn, doc.id)
            _record(conn, doc.id, doc.content_hash, note)
        return [note]

    def load_rows(self, source: str, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
        import hashlib

        doc_id = source_table_id(source)
        payload = json.dumps([name, list(header), [list(r) for r in rows]], ensure_ascii=False, default=str)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        try:
            loaded = self._loaded(doc_id)
            if loaded is not None and loaded[0] == digest:
                return []
            note: str | None = None
            if len(header) > MAX_COLUMNS:
                note = f"not loaded as a table: {len(header)} columns (at most {MAX_COLUMNS} are loaded)"
            with self._writing() as conn:
                _drop(conn, doc_id)
                if rows and header and note is None:
                    taken = {r[0] for r in conn.execute(f"SELECT name FROM {SCHEMA}.catalog").fetchall()}
                    _write(conn, build_rows_table(doc_id, source, name, header, rows, taken))
                _record(conn, doc_id, digest, note)
        except (DatabaseError, OverflowError) as exc:  # tried again next sync
            return [f"not loaded as a table: the table store failed ({exc})"]
        return [note] if note else []

    def drop(self, doc_id: str) -> None:
        with self._writing() as conn:
            _drop(conn, doc_id)
            conn.execute(f"DELETE FROM {SCHEMA}.loads WHERE doc_id = %s", (doc_id,))

    def prune(self, keep: Collection[str], sources: Collection[str] | None = None) -> int:
        with self._session() as conn:
            known = {r[0] for r in conn.execute(f"SELECT doc_id FROM {SCHEMA}.loads").fetchall()}
            known |= {r[0] for r in conn.execute(f"SELECT doc_id FROM {SCHEMA}.catalog").fetchall()}
        gone = pruned(known, keep, sources)
        for doc_id in gone:
            self.drop(doc_id)
        return len(gone)

    def note(self, doc_id: str) -> str | None:
        loaded = self._loaded(doc_id)
        return None if loaded is None else loaded[1]

    def import_sqlite(self, path: str | Path, rename: Callable[[str], str] | None = None) -> dict[str, int]:
        """Copy the tables of an embedded ``tables.db`` (``docket db copy``): catalogue, typed rows
        and load records, as they are (``rename`` maps source names). A table whose name is already
        here, and a document's load record already here, are kept. Returns copied and kept counts."""
        fields = ", ".join(CATALOGUE_FIELDS)
        out = {"tables": 0, "kept": 0, "loads": 0}
        src = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            catalogue = [
                dict(zip(CATALOGUE_FIELDS, row, strict=True))
                for row in src.execute(f"SELECT {fields} FROM _docket_tables ORDER BY name")
            ]
            loads = src.execute("SELECT doc_id, content_hash, note, loaded_at FROM _docket_loads").fetchall()
            for entry in catalogue:
                columns = tuple(Column(**c) for c in json.loads(entry["columns"]))
                quoted = ", ".join(f'"{c.name}"' for c in columns)
                rows = [tuple(r) for r in src.execute(f'SELECT rowid, {quoted} FROM "{entry["name"]}" ORDER BY rowid')]
                if rename is not None:
                    entry["source"] = rename(entry["source"])
                with self._writing() as conn:
                    if conn.execute(f"SELECT 1 FROM {SCHEMA}.catalog WHERE name = %s", (entry["name"],)).fetchone():
                        out["kept"] += 1
                        continue
                    _write(conn, BuiltTable(entry["name"], columns, rows, entry))
                out["tables"] += 1
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read the tables of {path}: {exc}; check the file (or move it aside)") from exc
        finally:
            src.close()
        with self._writing() as conn:
            for doc_id, content_hash, note, loaded_at in loads:
                cur = conn.execute(
                    f"INSERT INTO {SCHEMA}.loads (doc_id, content_hash, note, loaded_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (doc_id) DO NOTHING",
                    (doc_id, content_hash, None if note is None else pg_text(note), loaded_at),
                )
                out["loads"] += cur.rowcount
        return out

    # -- reading
    def tables(self, doc_id: str | None = None) -> list[TableInfo]:
        sql = f"SELECT {_SELECT} FROM {SCHEMA}.catalog"
        params: tuple[str, ...] = ()
        if doc_id is not None:
            sql, params = f"{sql} WHERE doc_id = %s", (doc_id,)
        with self._session() as conn:
            rows = conn.execute(f'{sql} ORDER BY name COLLATE "C"', params).fetchall()
        return [table_info(dict(zip(CATALOGUE_FIELDS, row, strict=True))) for row in rows]

    def _reader(self, sql: str, allowed: Collection[str]) -> sqlite3.Connection:
        """An in-memory SQLite database holding the ``allowed`` tables that ``sql`` names (a table
        the query does not name cannot be read by it; one it may not read is never copied)."""
        words = {w.lower() for w in re.findall(r"\w+", sql)}
        wanted = sorted({n for n in allowed if n.lower() in words})
        image = self._image(wanted) if wanted else None
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        if image:
            conn.deserialize(image)
        return conn

    def _image(self, names: Sequence[str]) -> bytes | None:
        with self._session() as conn:
            versions = conn.execute(
                f"SELECT name, version FROM {SCHEMA}.catalog WHERE name = ANY(%s) ORDER BY name", (list(names),)
            ).fetchall()
        key = tuple((str(n), int(v)) for n, v in versions)
        if not key:
            return None
        with self._cache_lock:
            image = self._cache.get(key)
            if image is not None:
                self._cache.move_to_end(key)
                return image
        with self._session() as conn:
            tables = conn.execute(
                f"SELECT c.name, c.columns::text, r.data FROM {SCHEMA}.catalog c JOIN {SCHEMA}.rows r "
                f"ON r.name = c.name AND r.version = c.version WHERE (c.name, c.version) IN "
                f"(SELECT * FROM unnest(%s::text[], %s::bigint[]))",
                ([n for n, _ in key], [v for _, v in key]),
            ).fetchall()
        memory = sqlite3.connect(":memory:")
        try:
            for name, columns_json, data in tables:
                columns = [Column(**c) for c in json.loads(columns_json)]
                _materialise(memory, name, columns, json.loads(zlib.decompress(data)))
            image = memory.serialize()
        finally:
            memory.close()
        if len(tables) == len(key):  # a table rewritten meanwhile is left out: don't keep that copy
            self._remember(key, image)
        return image

    def _remember(self, key: tuple[tuple[str, int], ...], image: bytes) -> None:
        if len(image) > self._cache_bytes:
            return
        with self._cache_lock:
            self._cache[key] = image
            total = sum(len(v) for v in self._cache.values())
            while total > self._cache_bytes and self._cache:
                _, dropped = self._cache.popitem(last=False)
                total -= len(dropped)


def _create_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the schema on first use; an advisory lock keeps two processes from racing to it."""
    row = conn.execute(f"SELECT to_regclass('{SCHEMA}.rows')").fetchone()
    if row is not None and row[0] is not None:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_TABLES_LOCK,))
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone() is None:
            conn.execute(f"CREATE SCHEMA {SCHEMA}")  # needs CREATE on the database; skipped once it exists
        conn.execute(_DDL)


def _record(conn: psycopg.Connection[Any], doc_id: str, content_hash: str, note: str | None) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.loads (doc_id, content_hash, note, loaded_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (doc_id) DO UPDATE SET content_hash = excluded.content_hash, note = excluded.note, "
        "loaded_at = excluded.loaded_at",
        (doc_id, content_hash, None if note is None else pg_text(note), time.time()),
    )


def _drop(conn: psycopg.Connection[Any], doc_id: str) -> None:
    conn.execute(f"DELETE FROM {SCHEMA}.catalog WHERE doc_id = %s", (doc_id,))  # rows go with it (cascade)


def _write(conn: psycopg.Connection[Any], built: BuiltTable) -> None:
    values = [pg_text(v) if isinstance(v, str) and f not in _JSON_FIELDS else v for f, v in built.catalogue.items()]
    fields = ", ".join(CATALOGUE_FIELDS)
    marks = ", ".join("%s::json" if f in _JSON_FIELDS else "%s" for f in CATALOGUE_FIELDS)
    for row in built.rows:  # SQLite's limit, checked now rather than when the table is queried
        for value in row:
            if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
                raise OverflowError("Python int too large to convert to SQLite INTEGER")
    returned = conn.execute(
        f"INSERT INTO {SCHEMA}.catalog ({fields}, version) VALUES ({marks}, nextval('{SCHEMA}.versions')) "
        "RETURNING version",
        values,
    ).fetchone()
    version = int(returned[0]) if returned is not None else 0
    data = zlib.compress(json.dumps(built.rows, ensure_ascii=False, default=str).encode(), 1)
    conn.execute(f"INSERT INTO {SCHEMA}.rows (name, version, data) VALUES (%s, %s, %s)", (built.name, version, data))


def _materialise(db: sqlite3.Connection, name: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    defs = ", ".join(f'"{c.name}" {c.type}' for c in columns)
    db.execute(f'CREATE TABLE "{name}" ({defs})')
    marks = ", ".join("?" * (len(columns) + 1))
    quoted = ", ".join(f'"{c.name}"' for c in columns)
    db.executemany(f'INSERT INTO "{name}" (rowid, {quoted}) VALUES ({marks})', rows)
    db.commit()
