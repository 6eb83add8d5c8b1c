"""What every table store shares: the shape of a table and its catalogue entry (:class:`Column`,
:class:`TableInfo`, :class:`QueryResult`), who may see a table (:func:`visible_to`), and building a
table with its catalogue entry from a spreadsheet's table or a database source's rows
(:func:`build_sheet_table`, :func:`build_rows_table`). See :mod:`docket.index.tables`.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

from docket.index.keywords import analyze
from docket.index.table_values import RawTable, identifier, typed_column, unique
from docket.types import Access, Document, Filters

__all__ = [
    "CATALOGUE_FIELDS",
    "MAX_COLUMNS",
    "SOURCE_PREFIX",
    "TABLE_FILETYPES",
    "BuiltTable",
    "Column",
    "QueryError",
    "QueryResult",
    "TableInfo",
    "build_rows_table",
    "build_sheet_table",
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
