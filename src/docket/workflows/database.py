"""An in-memory DuckDB database of business data, for the read-only SQL of a workflow's compute step.

Tables are handed to DuckDB from Python (:mod:`docket.workflows.readers` reads them from CSV/XLSX
files, SQLite and PostgreSQL): no DuckDB extension is installed or loaded. Each column is typed by
its values. Once loaded, :meth:`Database.lock` turns off file access and further configuration, so
a query reads those tables and nothing else; each query is one SELECT, stopped after a time limit,
with a cap on the rows it returns. DuckDB runs in process, on one thread, so the same data gives
the same figures.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import threading
import uuid
from typing import Any

from docket.errors import MissingExtraError, UserError

__all__ = ["DEFAULT_MAX_ROWS", "DEFAULT_TIMEOUT", "DataTable", "Database", "duckdb_module"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ROWS = 10_000
_LOAD = "__docket_load"


def duckdb_module() -> Any:
    try:
        import duckdb
    except ImportError:
        raise MissingExtraError("duckdb", "workflows", "The compute step") from None
    return duckdb


class Database:
    """Tables in an in-memory DuckDB database, for read-only SQL from a workflow.

    Add tables with :meth:`add` (columns of Python values, typed here), then :meth:`lock`; after
    that a query can read these tables and nothing else: no files, no other databases, no
    extensions, no settings changed.
    """

    def __init__(self) -> None:
        self._duckdb = duckdb_module()
        self.db = self._duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,  # no files, no ATTACH, no extension install/load
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
                "python_enable_replacements": False,  # FROM name never finds a Python variable
                "threads": 1,  # one thread: the same data always gives the same float sums and row order
                "default_null_order": "nulls_first_on_asc_last_on_desc",  # as SQLite sorts NULLs
            },
        )
        # ROUND of a float's 15 significant digits, half away from zero: 0.285 → 0.29 and a sum that
        # is 246097.175 in decimal → 246097.18 (DuckDB's ROUND gives .28 and .17, from the binary value)
        self.db.execute(
            "CREATE MACRO docket_round(x, n) AS "
            "COALESCE(CAST(ROUND(TRY_CAST(printf('%.15g', x) AS DECIMAL(38, 12)), n) AS DOUBLE), ROUND(x, n))"
        )
        self.tables: dict[str, list[str]] = {}
        self.types: dict[str, list[str]] = {}

    def add(self, name: str, header: list[str], columns: list[list[Any]]) -> None:
        """Table ``name`` from its header and column values (None for empty), each column typed
        by its values: BIGINT, DOUBLE, DECIMAL, BOOLEAN, DATE, TIMESTAMP, TIME, BLOB or VARCHAR."""
        import numpy as np

        if name in self.tables:
            raise UserError(f"two tables are named '{name}': give each source its own name")
        header = _unique(header)
        typed = [_duck_column(values) for values in columns]
        definition = ", ".join(f"{_quote(h)} {kind}" for h, (kind, _) in zip(header, typed, strict=True))
        self.db.execute(f"CREATE TABLE {_quote(name)} ({definition})")
        if columns and columns[0]:
            # handed over as numpy arrays (numbers as such, with a mask for the empty cells; the rest
            # as text, then cast: exact for every type), scanned in one INSERT rather than row by row
            arrays: dict[str, Any] = {}
            selects = []
            for i, (kind, values) in enumerate(typed):
                if kind in ("BIGINT", "DOUBLE"):
                    mask = [v is None for v in values]
                    fill: Any = 0 if kind == "BIGINT" else 0.0
                    arrays[f"c{i}"] = np.array([fill if v is None else v for v in values], dtype=_NUMPY[kind])
                    if any(mask):
                        arrays[f"m{i}"] = np.array(mask, dtype=bool)
                        selects.append(f"CASE WHEN m{i} THEN NULL ELSE c{i} END")
                    else:
                        selects.append(f"c{i}")
                else:
                    arrays[f"c{i}"] = np.array(values, dtype=object)
                    selects.append(f"unhex(c{i})" if kind == "BLOB" else f"CAST(c{i} AS {kind})")
            self.db.register(_LOAD, arrays)
            try:
                self.db.execute(f"INSERT INTO {_quote(name)} SELECT {', '.join(selects)} FROM {_LOAD}")
            finally:
                self.db.unregister(_LOAD)
        self.tables[name] = header
        self.types[name] = [kind for kind, _ in typed]

    def lock(self) -> None:
        """No file or network access, no extensions, no further settings: only the tables added."""
        self.db.execute("SET enable_external_access = false")
        self.db.execute("SET lock_configuration = true")

    def close(self) -> None:
        self.db.close()

    def query(
        self, sql: str, title: str = "query", timeout: float = DEFAULT_TIMEOUT, max_rows: int = DEFAULT_MAX_ROWS
    ) -> dict[str, Any]:
        """``{"columns", "rows", "sql"}`` of one SELECT; errors name the query's title."""
        duckdb = self._duckdb
        try:
            statements = self.db.extract_statements(sql)
        except duckdb.Error as exc:
            raise UserError(f"SQL error in query '{title}': {exc}\nin: {sql}") from exc
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise UserError(f"query '{title}': compute runs one read-only SELECT (or WITH ... SELECT), not: {sql[:80]}")
        timer = threading.Timer(timeout, self.db.interrupt)
        timer.start()
        try:
            cursor = self.db.execute(sql)
            rows = cursor.fetchmany(max_rows + 1)
        except duckdb.InterruptException:
            raise UserError(
                f"query '{title}' ran longer than {timeout:g} s and was stopped: make it cheaper "
                "(filter, aggregate, avoid cross joins) or raise the step's timeout"
            ) from None
        except duckdb.Error as exc:
            raise UserError(f"SQL error in query '{title}': {exc}\nin: {sql}") from exc
        finally:
            timer.cancel()
        if len(rows) > max_rows:
            raise UserError(
                f"query '{title}' returns more than {max_rows:,} rows: aggregate it, add a LIMIT "
                "or raise the step's max_rows"
            )
        columns = [d[0] for d in cursor.description or ()]
        return {"columns": columns, "rows": [[_plain(v) for v in row] for row in rows], "sql": sql}


class DataTable:
    """One table of a :class:`Database` as a report spec sees it: its name, columns and their types."""

    def __init__(self, database: Database, name: str) -> None:
        if name not in database.tables:
            raise UserError(f"no table '{name}'. Tables: {', '.join(database.tables) or '(none)'}")
        self.database, self.name = database, name
        self.columns = database.tables[name]
        self.types = dict(zip(self.columns, database.types[name], strict=True))

    def column(self, wanted: str) -> str:
        """The column a spec names: exactly, else ignoring case, spaces and punctuation."""
        if wanted in self.columns:
            return wanted
        key = _key(wanted)
        for column in self.columns:
            if _key(column) == key:
                return column
        raise UserError(f"no column '{wanted}' in table '{self.name}'. Columns: {', '.join(self.columns)}")

    def query(self, sql: str, title: str = "query") -> dict[str, Any]:
        return self.database.query(sql, title)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _unique(header: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, name in enumerate(header):
        name = name or f"column_{i + 1}"
        candidate, n = name, 1
        while candidate.lower() in seen:  # DuckDB column names are case-insensitive
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _duck_column(values: list[Any]) -> tuple[str, list[Any]]:
    """(DuckDB type, the values: ints or floats for BIGINT and DOUBLE, else text that casts
    exactly to the type) for one column's values."""
    present = [v for v in values if v is not None]
    if not present:
        return "VARCHAR", [None] * len(values)
    kinds = {_KINDS.get(type(v)) or _kind(v) for v in present}
    if kinds == {"text"}:
        return "VARCHAR", values
    if kinds == {"bool"}:
        return "BOOLEAN", [None if v is None else ("true" if v else "false") for v in values]
    if kinds == {"int"}:
        if min(present) >= -(2**63) and max(present) < 2**63:
            return "BIGINT", values
        kinds = {"float"}
    if kinds <= {"int", "float"}:
        return "DOUBLE", [None if v is None else float(v) for v in values]
    if kinds <= {"int", "decimal"}:
        exact = [decimal.Decimal(v) for v in present]
        scale = max((-int(d.as_tuple().exponent) for d in exact if d.is_finite()), default=0)
        digits = max((d.adjusted() + 1 for d in exact if d.is_finite()), default=0)
        scale = max(scale, 0)
        if scale <= 18 and digits + scale <= 38 and all(d.is_finite() for d in exact):
            return f"DECIMAL(38, {scale})", [None if v is None else format(decimal.Decimal(v), "f") for v in values]
        return "DOUBLE", [None if v is None else float(v) for v in values]
    if kinds == {"date"}:
        return "DATE", [None if v is None else v.isoformat() for v in values]
    if kinds <= {"date", "datetime"}:
        return "TIMESTAMP", [None if v is None else _naive(v).isoformat(sep=" ") for v in values]
    if kinds == {"time"}:
        return "TIME", [None if v is None else v.replace(tzinfo=None).isoformat() for v in values]
    if kinds == {"bytes"}:
        return "BLOB", [None if v is None else bytes(v).hex() for v in values]
    return "VARCHAR", [None if v is None else _text(v) for v in values]


_KINDS: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "text",
    decimal.Decimal: "decimal",
    dt.datetime: "datetime",
    dt.date: "date",
    dt.time: "time",
    bytes: "bytes",
}
_NUMPY = {"BIGINT": "int64", "DOUBLE": "float64"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    return "text"


def _naive(value: dt.date) -> dt.datetime:
    """A date or date-time as a naive date-time; aware ones in UTC."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _plain(value: Any) -> Any:
    """A result value as JSON-friendly Python: dates as ISO text, decimals as floats."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.microsecond else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    return str(value)
