"""Reading a workflow's data: the first table of a CSV/TSV/XLSX/XLS file, a SQLite table or query,
a PostgreSQL table or query, each as a header and typed columns for :class:`~docket.workflows.database.Database`.

Values are typed the same way ``docket ask`` types spreadsheets: numbers with thousands
separators, ISO, ``M/D/YYYY H:MM`` and ``M/D/YY`` dates (as dates and date-times), files in UTF-8
or Latin-1. SQLite files are opened read-only; PostgreSQL is read in a read-only transaction with
a statement timeout.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from docket.errors import MissingExtraError, SourceError, UserError
from docket.workflows.database import DEFAULT_TIMEOUT, Database, DataTable, _quote

__all__ = ["SHEET_TYPES", "load_table", "read_postgres", "read_sheet", "read_sqlite"]

SHEET_TYPES = ("csv", "tsv", "xlsx", "xlsm", "xls")
_SHORT_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")


def _short_dates(values: list[Any]) -> list[Any] | None:
    """``M/D/YY`` texts as dates (years 00-68 → 20xx), or None when the column is not all such."""
    out: list[dt.datetime | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        m = _SHORT_DATE.fullmatch(str(v).strip())
        if not m:
            return None
        year = int(m[3]) + (2000 if int(m[3]) < 69 else 1900)
        try:
            stamp = dt.datetime(year, int(m[1]), int(m[2]), int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))
        except ValueError:
            return None
        out.append(stamp)
    timed = any(s is not None and s.time() != dt.time(0) for s in out)
    return out if timed else [None if s is None else s.date() for s in out]


def _iso_dates(values: list[Any]) -> list[Any] | None:
    """ISO date / date-time texts as dates, or None when the column is not all such."""
    present = [v for v in values if v is not None]
    if not present or not all(isinstance(v, str) and _ISO_DATE.fullmatch(v.strip()) for v in present):
        return None
    try:
        stamps = [None if v is None else dt.datetime.fromisoformat(v.strip()) for v in values]
    except ValueError:
        return None
    timed = any(s is not None and s.time() != dt.time(0) for s in stamps)
    return stamps if timed else [None if s is None else s.date() for s in stamps]


def read_sheet(path: str | Path) -> tuple[list[str], list[list[Any]]]:
    """The header and typed columns of a CSV/TSV/XLSX/XLS file's first table: numbers as
    numbers, dates as dates, empty cells as None."""
    from docket.errors import ParseError
    from docket.index.table_values import typed_column
    from docket.ingest.sheet_tables import raw_tables

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no data file '{path}'")
    filetype = path.suffix.lower().lstrip(".")
    if filetype not in SHEET_TYPES:
        raise UserError(f"'{path.name}' is not a spreadsheet; give a CSV, TSV, XLSX or XLS file")
    try:
        tables = raw_tables(path.read_bytes(), filetype)
    except ParseError as exc:
        raise UserError(f"could not read '{path}': {exc}") from exc
    if not tables:
        raise UserError(f"'{path}' holds no table (no header row with data under it)")
    table = tables[0]
    header = [(h or f"column_{i + 1}").lstrip("\ufeff") for i, h in enumerate(table.header)]
    columns = []
    for i in range(len(header)):
        _, note, typed = typed_column([cells[i] for _, cells in table.rows])
        if note.startswith("date"):
            typed = _iso_dates(typed) or typed
        elif all(v is None or isinstance(v, str) for v in typed):
            typed = _short_dates(typed) or typed
        columns.append(typed)
    return header, columns


def _by_column(width: int, rows: list[Any]) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def read_sqlite(
    path: str | Path, table: str | None = None, query: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[str], list[list[Any]]]:
    """A table (or one SELECT's result) of a SQLite file, opened read-only; ISO date texts as dates."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no SQLite file '{path}'")
    what = f"table '{table}'" if table else "query"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UserError(f"could not open SQLite file '{path}': {exc}") from exc
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        conn.execute("PRAGMA query_only = ON")
        cursor = conn.execute(f"SELECT * FROM {_quote(table)}" if table else str(query))
        header = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        if "interrupted" in str(exc):
            raise UserError(f"reading {what} of '{path}' took longer than {timeout:g} s") from exc
        raise UserError(f"could not read {what} of SQLite file '{path}': {exc}") from exc
    finally:
        conn.close()
    columns = [_iso_dates(values) or values for values in _by_column(len(header), rows)]
    return header, columns


def _safe_url(url: str) -> str:
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def read_postgres(
    url: str, table: str | None = None, query: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[str], list[list[Any]]]:
    """A table (``schema.table`` or ``table``) or one SELECT's result from PostgreSQL, in a
    read-only transaction with a statement timeout; values keep their PostgreSQL types."""
    try:
        import psycopg
        from psycopg import sql as pgsql
    except ImportError:
        raise MissingExtraError("psycopg", "postgres", "Reading PostgreSQL tables") from None
    where = _safe_url(url)
    what = f"table '{table}'" if table else "query"
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=False)
    except psycopg.Error as exc:
        raise SourceError(f"could not connect to PostgreSQL at {where}: {str(exc).strip()}") from exc
    try:
        conn.read_only = True
        conn.execute(pgsql.SQL("SET statement_timeout = {}").format(pgsql.Literal(int(timeout * 1000))))
        statement = pgsql.SQL("SELECT * FROM {}").format(pgsql.Identifier(*table.split("."))) if table else query
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        header = [d.name for d in cursor.description or ()]
        rows = cursor.fetchall()
    except psycopg.errors.QueryCanceled as exc:
        raise UserError(f"reading {what} from PostgreSQL took longer than {timeout:g} s") from exc
    except psycopg.OperationalError as exc:
        raise SourceError(f"PostgreSQL at {where} failed while reading {what}: {str(exc).strip()}") from exc
    except psycopg.Error as exc:
        raise UserError(f"could not read {what} from PostgreSQL: {str(exc).strip()}") from exc
    finally:
        conn.close()
    return header, _by_column(len(header), rows)


def load_table(path: str | Path, name: str = "data") -> DataTable:
    """A CSV/TSV/XLSX/XLS file's first table, typed (numbers as numbers, dates as dates), alone
    in a locked database."""
    header, columns = read_sheet(path)
    database = Database()
    database.add(name, header, columns)
    database.lock()
    return DataTable(database, name)
