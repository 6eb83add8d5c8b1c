"""The SQLite table store: a knowledge base's tables in ``tables.db`` in its home, and the read-only
queries on them. :class:`~docket.index.postgres.tables.PostgresTableStore` keeps the same tables in
PostgreSQL. :meth:`TableStore.open` picks one through :data:`TABLE_STORES`; the PostgreSQL one is
registered by :mod:`docket.index.tables`, the module callers import. See there for the rules.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.errors import BackendError
from docket.index.table_catalogue import (
    CATALOGUE_FIELDS,
    MAX_COLUMNS,
    TABLE_FILETYPES,
    BuiltTable,
    QueryError,
    QueryResult,
    TableInfo,
    build_rows_table,
    build_sheet_table,
    pruned,
    source_table_id,
    table_info,
    table_names,
    visible_to,
)
from docket.index.table_values import SHEET_READERS, RawTable
from docket.registry import Registry
from docket.types import Access, Document, Filters

if TYPE_CHECKING:
    from docket.config import Settings

__all__ = ["TABLE_STORES", "TableStore"]

_CATALOGUE = """
CREATE TABLE IF NOT EXISTS _docket_loads (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    note TEXT,
    loaded_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS _docket_tables (
    name TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    sheet TEXT,
    part INTEGER NOT NULL,
    header_row INTEGER NOT NULL,
    row_start INTEGER,
    row_end INTEGER,
    row_count INTEGER NOT NULL,
    columns TEXT NOT NULL,
    samples TEXT NOT NULL,
    distinct_values TEXT NOT NULL,
    name_terms TEXT NOT NULL,
    value_terms TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS _docket_tables_doc ON _docket_tables (doc_id);
"""


_FUNCTIONS = frozenset(
    """abs avg count group_concat string_agg max min sum total median round coalesce ifnull iif nullif length
    lower upper trim ltrim rtrim substr substring replace instr like glob printf format concat concat_ws date
    time datetime julianday strftime unixepoch typeof sign ceil ceiling floor trunc sqrt power pow exp ln log
    log10 log2 mod char unicode row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value""".split()
)


class _Median:
    """``median(x)``: the middle value (the mean of the two middle ones), NULLs ignored."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:  # typeshed's aggregate protocol is narrower than sqlite3's
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.values.append(value)

    def finalize(self) -> Any:
        if not self.values:
            return None
        v = sorted(self.values)
        mid = len(v) // 2
        return float(v[mid]) if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


class TableStore:
    """The tables of one knowledge base, in one SQLite file (``tables.db`` in its home).

    :meth:`open` picks the backend from the settings: this file, or the database of a PostgreSQL
    store (:class:`docket.index.postgres.tables.PostgresTableStore`, the same methods and query dialect).
    """

    @staticmethod
    def open(settings: Settings) -> TableStore:
        """The table store of the knowledge base ``settings`` describe: in PostgreSQL with
        ``store.url``, else ``tables.db`` in the home."""
        if settings.store.url:
            store = settings.store
            return TABLE_STORES.create("postgres", url=store.url, connect_timeout=store.connect_timeout)
        return TABLE_STORES.create("sqlite", path=settings.home / "tables.db")

    @staticmethod
    def present(settings: Settings) -> bool:
        """Whether the knowledge base may have tables, without creating a table store."""
        return bool(settings.store.url) or (settings.home / "tables.db").exists()

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_CATALOGUE)
        except sqlite3.DatabaseError as exc:
            raise BackendError(f"cannot open the table store {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing
    def missing(self, doc: Document) -> bool:
        """Whether ``doc`` is a spreadsheet not yet loaded (or loaded from other content)."""
        if doc.filetype not in TABLE_FILETYPES:
            return False
        row = self._db.execute("SELECT content_hash FROM _docket_loads WHERE doc_id = ?", (doc.id,)).fetchone()
        return row is None or row[0] != doc.content_hash

    def load(self, doc: Document, data: bytes) -> list[str]:
        """Replace ``doc``'s tables with those of ``data`` (its file's bytes); notes for the sync report.

        Never raises for a file that cannot be loaded: its old tables are dropped and a note says why.
        """
        if doc.filetype not in TABLE_FILETYPES:
            return []
        read = SHEET_READERS.get("spreadsheet")  # registered by docket.ingest.sheet_tables
        try:
            raw = read(data, doc.filetype)
            if not raw:
                raise ValueError("no table with a header row and data rows")
            with self._tx():
                self._replace(doc, raw)
            return []
        except sqlite3.Error as exc:  # locked, full...: not recorded, so the next sync tries again
            return [f"not loaded as a table: the table store failed ({exc})"]
        except Exception as exc:  # a file the table loader cannot read must not stop the sync
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            note = f"not loaded as a table: {reason[:200]}"
        with contextlib.suppress(sqlite3.Error), self._tx():
            self._drop(doc.id)
            self._record(doc, note)
        return [note]

    def _record(self, doc: Document, note: str | None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO _docket_loads (doc_id, content_hash, note, loaded_at) VALUES (?, ?, ?, ?)",
            (doc.id, doc.content_hash, note, time.time()),
        )

    def _replace(self, doc: Document, raw: list[RawTable]) -> None:
        old = {
            (sheet, part): name
            for name, sheet, part in self._db.execute(
                "SELECT name, sheet, part FROM _docket_tables WHERE doc_id = ?", (doc.id,)
            )
        }
        self._drop(doc.id)
        taken = {r[0] for r in self._db.execute("SELECT name FROM _docket_tables")}
        for name, table in table_names(doc, raw, old, taken):
            self._create(doc, name, table)
        self._record(doc, None)

    def _create(self, doc: Document, name: str, table: RawTable) -> None:
        self._write(build_sheet_table(doc, name, table))

    def _write(self, built: BuiltTable) -> None:
        """Create ``built``'s SQL table, fill it and add it to the catalogue."""
        defs = ", ".join(f'"{c.name}" {c.type}' for c in built.columns)
        self._db.execute(f'CREATE TABLE "{built.name}" ({defs})')
        marks = ", ".join("?" * (len(built.columns) + 1))
        quoted = ", ".join(f'"{c.name}"' for c in built.columns)
        self._db.executemany(f'INSERT INTO "{built.name}" (rowid, {quoted}) VALUES ({marks})', built.rows)
        fields = ", ".join(CATALOGUE_FIELDS)
        self._db.execute(
            f"INSERT INTO _docket_tables ({fields}) VALUES ({', '.join('?' * len(CATALOGUE_FIELDS))})",
            [built.catalogue[f] for f in CATALOGUE_FIELDS],
        )

    def load_rows(self, source: str, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
        """Make ``rows`` (plain values: int, float, str, None) the table of database source ``source``.

        The table is called ``name`` as a SQL identifier (``_2``... when taken). Nothing is written
        when the rows are those loaded last time; no rows drop the table. Returns notes for the
        sync report and never raises for the data (a table store failure is a note too).
        """
        doc_id = source_table_id(source)
        payload = json.dumps([name, list(header), [list(r) for r in rows]], ensure_ascii=False, default=str)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        loaded = self._db.execute("SELECT content_hash FROM _docket_loads WHERE doc_id = ?", (doc_id,)).fetchone()
        if loaded is not None and loaded[0] == digest:
            return []
        note: str | None = None
        if len(header) > MAX_COLUMNS:
            note = f"not loaded as a table: {len(header)} columns (at most {MAX_COLUMNS} are loaded)"
        try:
            with self._tx():
                self._drop(doc_id)
                if rows and header and note is None:
                    self._create_rows(doc_id, source, name, header, rows)
                self._db.execute(
                    "INSERT OR REPLACE INTO _docket_loads (doc_id, content_hash, note, loaded_at) VALUES (?, ?, ?, ?)",
                    (doc_id, digest, note, time.time()),
                )
        except (sqlite3.Error, OverflowError) as exc:  # locked, full, an integer too large...: tried again next sync
            return [f"not loaded as a table: the table store failed ({exc})"]
        return [note] if note else []

    def _create_rows(
        self, doc_id: str, source: str, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        taken = {r[0] for r in self._db.execute("SELECT name FROM _docket_tables")}
        self._write(build_rows_table(doc_id, source, name, header, rows, taken))

    def _drop(self, doc_id: str) -> None:
        for (name,) in self._db.execute("SELECT name FROM _docket_tables WHERE doc_id = ?", (doc_id,)).fetchall():
            self._db.execute(f'DROP TABLE IF EXISTS "{name}"')
        self._db.execute("DELETE FROM _docket_tables WHERE doc_id = ?", (doc_id,))

    def drop(self, doc_id: str) -> None:
        """Remove a document's tables (its file was deleted)."""
        with self._tx():
            self._drop(doc_id)
            self._db.execute("DELETE FROM _docket_loads WHERE doc_id = ?", (doc_id,))

    def prune(self, keep: Collection[str], sources: Collection[str] | None = None) -> int:
        """Drop the tables of documents not in ``keep`` (left over by an interrupted sync), and those
        of database sources not in ``sources`` (removed); ``sources`` None keeps every source's table."""
        known = {r[0] for r in self._db.execute("SELECT doc_id FROM _docket_loads")}
        known |= {r[0] for r in self._db.execute("SELECT doc_id FROM _docket_tables")}
        gone = pruned(known, keep, sources)
        for doc_id in gone:
            self.drop(doc_id)
        return len(gone)

    def note(self, doc_id: str) -> str | None:
        """Why a document could not be loaded as a table (None when it was, or was never tried)."""
        row = self._db.execute("SELECT note FROM _docket_loads WHERE doc_id = ?", (doc_id,)).fetchone()
        return None if row is None else row[0]

    # -- reading
    def tables(self, doc_id: str | None = None) -> list[TableInfo]:
        """Every table (of one document), by name. No permission check: see :meth:`visible`."""
        sql = "SELECT * FROM _docket_tables"
        params: tuple[str, ...] = ()
        if doc_id is not None:
            sql, params = f"{sql} WHERE doc_id = ?", (doc_id,)
        cur = self._db.execute(f"{sql} ORDER BY name", params)
        names = [d[0] for d in cur.description]
        return [table_info(dict(zip(names, row, strict=True))) for row in cur.fetchall()]

    def visible(
        self, documents: Iterable[Document], access: Access = Access.owner(), filters: Filters = Filters()
    ) -> list[TableInfo]:
        """The tables whose document ``access`` may read and ``filters`` keep, with its current path.

        A database source's table counts as readable when one of the source's documents is.
        """
        tables = self.tables()
        if not tables:
            return []
        wanted = {t.doc_id for t in tables}
        sources = {t.source for t in tables if t.doc_id == source_table_id(t.source)}
        docs: dict[str, Document] = {}
        readable: set[str] = set()
        for d in documents:
            if d.id in wanted and visible_to(d, access, filters):
                docs[d.id] = d
            elif d.source in sources and d.source not in readable and visible_to(d, access, filters):
                readable.add(d.source)
        shown = [replace(t, path=docs[t.doc_id].path, source=docs[t.doc_id].source) for t in tables if t.doc_id in docs]
        shown += [t for t in tables if t.source in readable and t.doc_id == source_table_id(t.source)]
        return sorted(shown, key=lambda t: t.name)

    def _reader(self, sql: str, allowed: Collection[str]) -> sqlite3.Connection:
        """A connection for :meth:`query` that cannot write the store (here: the file, read-only)."""
        try:
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the table store {self.path}: {exc}") from exc

    def query(self, sql: str, allowed: Collection[str], *, max_rows: int = 200, timeout_s: float = 5.0) -> QueryResult:
        """Run one SELECT on a read-only connection that may read only the ``allowed`` tables."""
        if not re.match(r"\s*(select|with)\b", sql, re.IGNORECASE):
            raise QueryError("only a SELECT query is allowed")
        allowed = set(allowed)
        read: set[str] = set()
        real: set[str] = set()
        hidden: list[str] = []  # tables the query named but may not read

        def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, _src: str | None) -> int:
            if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
                return sqlite3.SQLITE_OK
            if action == sqlite3.SQLITE_READ and arg1 in allowed and db in ("main", None):
                read.add(arg1)
                return sqlite3.SQLITE_OK
            if action == sqlite3.SQLITE_READ and db is None and arg1 not in real:
                return sqlite3.SQLITE_OK  # COUNT(*) over a WITH table: no stored data named
            if action == sqlite3.SQLITE_READ and arg1 is not None:
                hidden.append(arg1)
            if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FUNCTIONS:
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY

        deadline = time.monotonic() + timeout_s
        conn = self._reader(sql, allowed)
        try:
            conn.execute("PRAGMA query_only = ON")
            real.update(r[0] for r in conn.execute("SELECT name FROM sqlite_master"))
            conn.create_aggregate("median", 1, _Median)
            conn.set_authorizer(authorize)
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
            cur = conn.execute(sql)
            rows = cur.fetchmany(max_rows + 1)
            columns = tuple(d[0] for d in cur.description or ())
        except sqlite3.Error as exc:
            if hidden:  # worded like a missing table, so queries cannot probe other workspaces' tables
                raise QueryError(f"no such table: {hidden[0]}") from exc
            raise QueryError(_query_error(exc, timeout_s)) from exc
        except (OverflowError, ValueError) as exc:  # e.g. an integer too large for Python's sqlite3
            raise QueryError(str(exc)) from exc
        finally:
            conn.close()
        return QueryResult(columns, tuple(tuple(r) for r in rows[:max_rows]), tuple(sorted(read)), len(rows) > max_rows)


TABLE_STORES: Registry[TableStore] = Registry("table store", "docket.table_stores")
TABLE_STORES.register("sqlite")(TableStore)


def _query_error(exc: sqlite3.Error, timeout_s: float) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if text == "interrupted":
        return f"the query ran longer than {timeout_s:g} s and was stopped"
    if text == "not authorized":
        return "not authorized: only SELECT queries on the tables listed are allowed"
    if "one statement at a time" in text:
        return "only one statement is allowed"
    return text
