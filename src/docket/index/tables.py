"""Spreadsheets as SQL tables: CSV/TSV/XLSX/XLS files loaded into their own SQLite file.

Sync hands every spreadsheet it indexes to :meth:`TableStore.load`, which turns each table of each
sheet into a real table (``tables.db`` next to the knowledge base), so that questions about
counts, totals and averages can be answered by SQL instead of by a language model.

- **Names.** Tables are named after the file (and the sheet, when a workbook has several); columns
  after their headers, as lower-case SQL identifiers (``Order Date`` → ``order_date``,
  ``categoryID`` → ``category_id``). The original headers are kept in a catalogue.
- **Types.** A column whose every value is a whole number is ``INTEGER``, any number ``REAL``
  (thousands separators, currency signs, ``(1,234)`` negatives and decimal commas understood;
  ``12%`` becomes ``0.12``), anything else ``TEXT``. Dates become ISO text (``2017-11-08``), with
  ``11/8/2017`` read month-first or day-first as the whole column shows. Numbers with leading
  zeros (postal codes, account ids) stay text. ``NULL``, ``N/A`` and empty cells are NULL.
  ``rowid`` is the row number in the file.
- **Catalogue.** ``_docket_tables`` records each table's document, sheet, rows, columns (with
  original headers), a few sample rows, the distinct values of short text columns and the words
  that match it to questions; ``_docket_loads`` the content hash each document was loaded from.
- **Consistency.** A document's tables are replaced in one transaction. A file that cannot be
  loaded as a table leaves a note (its text is indexed all the same).
- **Permissions** are not copied: :meth:`TableStore.visible` reads each table's document from the
  knowledge base at question time and applies the caller's :class:`~docket.types.Access`, so a
  change of access applies at once and a table whose document is gone is invisible.
- **Queries** (:meth:`TableStore.query`) run on a read-only connection with an authorizer that
  allows only ``SELECT`` and reads of the tables the caller may see, a time limit and a row cap.
- **PostgreSQL.** With a PostgreSQL store (``store.url``) the catalogue and rows live in that
  database instead (:mod:`docket.index.postgres.tables`), so every machine sees the same tables;
  queries run in the same SQLite dialect on an in-memory copy of the tables they may read.
- **Database sources** (:meth:`TableStore.load_rows`): the rows of a ``sql`` source are one table
  too, recorded under the source (``source:<name>`` in place of a document id) and replaced when
  its rows change. It is visible to a caller who may read the source's documents, and dropped by
  :meth:`TableStore.prune` once the source is gone.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from docket.errors import BackendError
from docket.index import sheet_tables
from docket.index.keywords import analyze
from docket.index.sheet_tables import RawTable, identifier, typed_column, unique
from docket.types import Access, Document, Filters

if TYPE_CHECKING:
    from docket.config import Settings

__all__ = [
    "CATALOGUE_FIELDS",
    "TABLE_FILETYPES",
    "BuiltTable",
    "Column",
    "QueryError",
    "QueryResult",
    "TableInfo",
    "TableStore",
    "build_rows_table",
    "build_sheet_table",
    "identifier",
    "pruned",
    "source_table_id",
    "table_info",
    "table_names",
    "visible_to",
]

TABLE_FILETYPES = frozenset({"csv", "tsv", "xlsx", "xlsm", "xls"})
MAX_COLUMNS = 1000
SAMPLE_ROWS = 3
LISTED_VALUES = 25  # text columns with at most this many distinct values list them in the prompt
MATCHED_VALUES = 1000  # text columns with at most this many distinct values match question words
MAX_VALUE_CHARS = 60
SOURCE_PREFIX = "source:"  # the catalogue's doc_id of a database source's table: source:<name>

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


class QueryError(Exception):
    """A query was refused or failed; the message is one line, fit to show a model or a person."""


@dataclass(frozen=True)
class Column:
    """One column: its SQL name, the header it had in the file, its type and how values were read."""

    name: str
    header: str
    type: str  # INTEGER, REAL or TEXT
    note: str = ""


@dataclass(frozen=True)
class TableInfo:
    """A loaded table as the catalogue describes it."""

    name: str
    doc_id: str
    source: str
    path: str
    sheet: str | None
    columns: tuple[Column, ...]
    row_count: int
    header_row: int
    row_start: int | None = None
    row_end: int | None = None
    samples: tuple[tuple[Any, ...], ...] = ()
    distinct_values: dict[str, list[str]] | None = None
    name_terms: frozenset[str] = frozenset()
    value_terms: frozenset[str] = frozenset()


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    tables: tuple[str, ...]
    truncated: bool = False


# ---------------------------------------------------------------------- permissions


def source_table_id(source: str) -> str:
    """What the catalogue records in place of a document id for the table of source ``source``."""
    return SOURCE_PREFIX + source


def visible_to(doc: Document, access: Access, filters: Filters = Filters()) -> bool:
    """Whether ``access`` may read ``doc`` and ``filters`` keep it (the rules the store applies in SQL)."""
    if not access.unrestricted:
        if doc.workspace not in (access.workspaces or ()):
            return False
        if doc.access and not access.all_documents and not set(doc.access) & set(access.principals):
            return False
    if filters.path_glob and not fnmatch.fnmatchcase(doc.path, filters.path_glob):
        return False
    if filters.filetypes and doc.filetype not in {f.lower().lstrip(".") for f in filters.filetypes}:
        return False
    if filters.modified_after is not None and doc.mtime < filters.modified_after:
        return False
    if filters.modified_before is not None and doc.mtime >= filters.modified_before:
        return False
    if filters.tags and not set(doc.tags) & set(filters.tags):
        return False
    if filters.documents is not None and doc.id not in filters.documents:
        return False
    return not (filters.sources and doc.source not in filters.sources)


# ---------------------------------------------------------------------- building tables (any backend)

CATALOGUE_FIELDS = (
    "name",
    "doc_id",
    "source",
    "path",
    "sheet",
    "part",
    "header_row",
    "row_start",
    "row_end",
    "row_count",
    "columns",
    "samples",
    "distinct_values",
    "name_terms",
    "value_terms",
)


@dataclass(frozen=True)
class BuiltTable:
    """A table ready to be written: its columns, its typed rows (the row number first) and its
    catalogue entry (``CATALOGUE_FIELDS``; lists and dicts as JSON text)."""

    name: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    catalogue: dict[str, Any]


def table_names(
    doc: Document, raw: Sequence[RawTable], old: dict[tuple[str | None, int], str], taken: set[str]
) -> list[tuple[str, RawTable]]:
    """A unique SQL name for each table of ``doc`` (``old``: the names its tables had, kept when
    free; ``taken``: every other table's name, updated). Raises ValueError for too many columns."""
    stem = identifier(PurePath(doc.path).stem, "table")
    several_sheets = len({t.sheet for t in raw}) > 1
    named: list[tuple[str, RawTable]] = []
    for table in raw:
        if len(table.header) > MAX_COLUMNS:
            raise ValueError(f"{len(table.header)} columns (at most {MAX_COLUMNS} are loaded)")
        base = stem
        if several_sheets and table.sheet:
            base = f"{stem}_{identifier(table.sheet, 'sheet')}"
        if table.part > 1:
            base = f"{base}_{table.part}"
        name = old.get((table.sheet, table.part)) or unique(base, taken)
        if name in taken:
            name = unique(base, taken)
        taken.add(name)
        named.append((name, table))
    return named


def _described_values(
    columns: Sequence[Column], values: Sequence[Sequence[Any]]
) -> tuple[dict[str, list[str]], set[str]]:
    """The listed distinct values of short text columns, and the words of their values."""
    distinct: dict[str, list[str]] = {}
    value_terms: set[str] = set()
    for column, converted in zip(columns, values, strict=True):
        if column.type != "TEXT" or column.note:
            continue
        counts = Counter(v for v in converted if v is not None)
        if len(counts) <= LISTED_VALUES and all(len(v) <= MAX_VALUE_CHARS for v in counts):
            distinct[column.name] = [v for v, _ in counts.most_common()]
        if len(counts) <= MATCHED_VALUES:
            for value in counts:
                if len(value) <= MAX_VALUE_CHARS:
                    value_terms.update(analyze(value))
    return distinct, value_terms


def _catalogue(
    name: str,
    doc_id: str,
    source: str,
    path: str,
    place: tuple[str | None, int, int, int | None, int | None],
    columns: Sequence[Column],
    rows: Sequence[tuple[Any, ...]],
    distinct: dict[str, list[str]],
    name_terms: set[str],
    value_terms: set[str],
) -> dict[str, Any]:
    sheet, part, header_row, row_start, row_end = place
    values = (
        name,
        doc_id,
        source,
        path,
        sheet,
        part,
        header_row,
        row_start,
        row_end,
        len(rows),
        json.dumps([asdict(c) for c in columns], ensure_ascii=False),
        json.dumps([list(r[1:]) for r in rows[:SAMPLE_ROWS]], ensure_ascii=False),
        json.dumps(distinct, ensure_ascii=False),
        json.dumps(sorted(name_terms), ensure_ascii=False),
        json.dumps(sorted(value_terms - name_terms)[:20000], ensure_ascii=False),
    )
    return dict(zip(CATALOGUE_FIELDS, values, strict=True))


def build_sheet_table(doc: Document, name: str, table: RawTable) -> BuiltTable:
    """Table ``name`` from one table of a spreadsheet: typed columns, rows and catalogue entry."""
    names: list[str] = []
    for i, header in enumerate(table.header, start=1):
        names.append(unique(identifier(header, f"column_{i}"), {*names, "rowid"}))
    typed = [typed_column([cells[i] for _, cells in table.rows]) for i in range(len(names))]
    columns = [Column(n, h, t, note) for n, h, (t, note, _) in zip(names, table.header, typed, strict=True)]
    values = [conv for _, _, conv in typed]
    rows = [(number, *(col[r] for col in values)) for r, (number, _) in enumerate(table.rows)]
    distinct, value_terms = _described_values(columns, values)
    described = [name, PurePath(doc.path).stem, table.sheet or ""]
    described += [f"{c.name.replace('_', ' ')} {c.header}" for c in columns]
    name_terms = set(analyze(" ".join(described).replace("_", " ")))
    numbers = [n for n, _ in table.rows]
    place = (table.sheet, table.part, table.header_row, min(numbers), max(numbers))
    catalogue = _catalogue(name, doc.id, doc.source, doc.path, place, columns, rows, distinct, name_terms, value_terms)
    return BuiltTable(name, tuple(columns), rows, catalogue)


def build_rows_table(
    doc_id: str, source: str, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]], taken: set[str]
) -> BuiltTable:
    """The table of database source ``source`` from its plain rows, named after ``name`` (unique in ``taken``)."""
    table = unique(identifier(name, "table"), taken)
    names: list[str] = []
    for i, text in enumerate(header, start=1):
        names.append(unique(identifier(str(text), f"column_{i}"), {*names, "rowid"}))
    values = [[row[i] for row in rows] for i in range(len(names))]
    types = [_typed(column) for column in values]
    values = [[_as(kind, v) for v in column] for kind, column in zip(types, values, strict=True)]
    columns = [Column(n, str(h), t) for n, h, t in zip(names, header, types, strict=True)]
    typed_rows = [(r + 1, *(column[r] for column in values)) for r in range(len(rows))]
    distinct, value_terms = _described_values(columns, values)
    described = [table, name, source, *(f"{c.name.replace('_', ' ')} {c.header}" for c in columns)]
    name_terms = set(analyze(" ".join(described).replace("_", " ")))
    place = (None, 1, 0, 1, len(rows))
    catalogue = _catalogue(table, doc_id, source, name, place, columns, typed_rows, distinct, name_terms, value_terms)
    return BuiltTable(table, tuple(columns), typed_rows, catalogue)


def pruned(known: Collection[str], keep: Collection[str], sources: Collection[str] | None) -> set[str]:
    """Which of the ``known`` loads :meth:`TableStore.prune` drops (see there)."""
    gone = set(known) - set(keep)
    kept = {source_table_id(name) for name in sources} if sources is not None else None
    return {d for d in gone if not d.startswith(SOURCE_PREFIX) or (kept is not None and d not in kept)}


# ---------------------------------------------------------------------- the store

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
            from docket.index.postgres.tables import PostgresTableStore

            return PostgresTableStore(settings.store.url, settings.store.connect_timeout)
        return TableStore(settings.home / "tables.db")

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
        try:
            raw = sheet_tables.raw_tables(data, doc.filetype)
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


def _typed(values: Sequence[Any]) -> str:
    """The SQL type of a database column from its values: INTEGER, REAL, else TEXT."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "INTEGER"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "REAL"
    return "TEXT"


def _as(kind: str, value: Any) -> Any:
    if value is None or kind != "TEXT" or isinstance(value, str):
        return value
    return str(value)


def _query_error(exc: sqlite3.Error, timeout_s: float) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if text == "interrupted":
        return f"the query ran longer than {timeout_s:g} s and was stopped"
    if text == "not authorized":
        return "not authorized: only SELECT queries on the tables listed are allowed"
    if "one statement at a time" in text:
        return "only one statement is allowed"
    return text


def table_info(row: dict[str, Any]) -> TableInfo:
    """A catalogue row (``CATALOGUE_FIELDS``, JSON ones as text) as a :class:`TableInfo`."""
    return TableInfo(
        name=row["name"],
        doc_id=row["doc_id"],
        source=row["source"],
        path=row["path"],
        sheet=row["sheet"],
        columns=tuple(Column(**c) for c in json.loads(row["columns"])),
        row_count=row["row_count"],
        header_row=row["header_row"],
        row_start=row["row_start"],
        row_end=row["row_end"],
        samples=tuple(tuple(r) for r in json.loads(row["samples"])),
        distinct_values=json.loads(row["distinct_values"]),
        name_terms=frozenset(json.loads(row["name_terms"])),
        value_terms=frozenset(json.loads(row["value_terms"])),
    )
