"""Databases: the rows of a table or of one SELECT become documents, through a row template.

- **Databases.** SQLite (``sqlite:///path/to/file.db``), PostgreSQL (``postgresql://`` or
  ``postgresql+psycopg://``, needs the ``postgres`` extra) and MySQL/MariaDB (``mysql://`` or
  ``mysql+pymysql://``), through SQLAlchemy Core (the ``sql`` extra).
- **Read-only.** ``table`` reads ``SELECT * FROM table``; ``query`` must be a single ``SELECT`` (or
  ``WITH ... SELECT``) and is refused otherwise. It runs in a read-only transaction (PostgreSQL,
  MySQL) or on a read-only connection (SQLite), so even a data-modifying CTE cannot write.
- **Keys.** Each row is the document ``<table>/<key>`` (``query/<key>`` for a query), the key being
  the ``key`` column(s) (comma-separated; default: the table's primary key; a query must name one).
- **Versions.** With ``updated_column`` a row's version is that column's value (``updated_at``),
  else a hash of the whole row; only rows whose version changed are rendered and indexed again.
  The listing is complete when the query ran to the end, so deleted rows leave the index.
- **Text.** ``template`` is a Jinja2 template of the row (each column by name, and ``row``,
  ``key``, ``table``), rendered in the same sandbox as the workflows' templates; the default is
  one ``column: value`` line per column. ``title`` is a template too (default ``<table> <key>``).
- **Secrets.** A URL holding a password is refused: the password comes from the environment
  variable ``password_env``, or the whole URL from one (``url = "env:DATABASE_URL"``); both are
  read when a sync starts and are never stored or printed.
- **Failures.** An unreachable or refusing server, a missing table or column, or a failing query
  raise :class:`~docket.errors.SourceError`; a row whose template fails goes in ``Listing.failed``.
- **As a table.** Every row (unchanged ones too) also goes into ``Listing.table`` as plain values
  (numbers stay numbers, dates become ISO text), which the sync engine loads into the SQL tables
  that answer counts and totals (:mod:`docket.index.tables`); a query's table is named after the
  source.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from docket.errors import ConfigError, MissingExtraError, SourceError
from docket.ingest.sources import CONNECTORS
from docket.ingest.sources.base import Fetched, Listing, SourceTable

__all__ = ["SqlConnector", "check_select", "sql_connector"]

_DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mariadb+pymysql": "mariadb+pymysql",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_select(sql: str) -> str:
    """``sql`` without comments and trailing semicolons if it is one SELECT (or WITH) statement;
    :class:`ConfigError` otherwise."""
    text = _strip_comments(sql).strip().rstrip(";").strip()
    if not text:
        raise ConfigError("--query is empty; give one SELECT statement")
    if _outside_quotes(text, ";"):
        raise ConfigError("--query holds several statements; give exactly one SELECT")
    first = text.split(None, 1)[0].lower()
    if first not in ("select", "with"):
        raise ConfigError(
            f"--query must be a single SELECT (or WITH ... SELECT), not {first.upper()}: Docket only reads databases"
        )
    return text


class SqlConnector:
    """Turns the rows of one table or query into documents."""

    type = "sql"

    def __init__(
        self,
        *,
        url: str,
        table: str | None = None,
        query: str | None = None,
        key: str | Sequence[str] | None = None,
        updated_column: str | None = None,
        template: str | None = None,
        title: str | None = None,
        password_env: str | None = None,
        batch_size: int = 500,
        timeout_s: float = 30.0,
    ) -> None:
        if (table is None) == (query is None):
            raise ConfigError("a sql source needs exactly one of --table TABLE or --query 'SELECT ...'")
        if table is not None and not _IDENTIFIER.match(table):
            raise ConfigError(f"--table '{table}' is not a table name; write NAME or SCHEMA.NAME")
        self.query = check_select(query) if query is not None else None
        keys = [k.strip() for k in (key.split(",") if isinstance(key, str) else key or []) if k.strip()]
        if self.query is not None and not keys:
            raise ConfigError("--query needs --key COLUMN: the column (or columns, comma-separated) naming each row")
        self.url = url
        self.password_env = password_env
        self.table = table
        self.name = table or "query"
        self.keys = keys
        self.updated_column = updated_column
        self.template = template
        self.title = title
        self.batch_size = max(1, batch_size)
        self.timeout_s = timeout_s
        if not url.startswith("env:"):
            _checked_url(url)
        for label, text in (("--template", template), ("--title", title)):
            if text is not None:
                _check_template(label, text)

    # ------------------------------------------------------------------ connection

    def _url(self) -> Any:
        raw = self.url
        if raw.startswith("env:"):
            variable = raw[4:]
            raw = os.environ.get(variable, "")
            if not raw:
                raise SourceError(f"sql: the environment variable {variable} holding the database URL is not set")
            url = _checked_url(raw, allow_password=True, where=f"the URL in {variable}")
        else:
            url = _checked_url(raw)
        if self.password_env:
            password = os.environ.get(self.password_env)
            if not password:
                raise SourceError(
                    f"sql {url.render_as_string(hide_password=True)}: the environment variable {self.password_env} "
                    "holding the password is not set; export it before syncing"
                )
            url = url.set(password=password)
        return url

    def _engine(self, url: Any) -> Any:
        from sqlalchemy import create_engine

        if url.get_backend_name() == "sqlite":
            import sqlite3
            from pathlib import Path

            path = url.database or ""
            if not path or path == ":memory:" or not Path(path).is_file():
                raise SourceError(f"sql: the SQLite file '{path}' does not exist; check the path in the URL")
            uri, timeout = Path(path).resolve().as_uri() + "?mode=ro", self.timeout_s

            def read_only() -> sqlite3.Connection:
                return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

            return create_engine("sqlite://", creator=read_only)
        connect_args = {"connect_timeout": max(1, int(self.timeout_s))}
        return create_engine(url, connect_args=connect_args, pool_pre_ping=False)

    # ------------------------------------------------------------------ listing

    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        try:
            import sqlalchemy  # noqa: F401
        except ImportError:
            raise MissingExtraError("sqlalchemy", "sql", "A 'sql' source") from None
        from sqlalchemy import exc as sa_exc

        url = self._url()
        where = url.render_as_string(hide_password=True)
        try:
            engine = self._engine(url)
        except ImportError as exc:  # the database driver
            extra = "postgres" if url.get_backend_name() == "postgresql" else "sql"
            raise MissingExtraError(exc.name or "the database driver", extra, f"A '{url.drivername}' source") from exc
        try:
            conn = engine.connect()
        except sa_exc.SQLAlchemyError as exc:
            engine.dispose()
            raise SourceError(f"sql {where}: cannot connect: {_reason(exc)}") from exc
        try:
            result, keys = self._execute(conn, where)
        except BaseException:
            conn.close()
            engine.dispose()
            raise
        columns = list(result.keys())
        listing = Listing(items=iter(()), checkpoint={"columns": columns})
        listing.table = SourceTable(header=columns, name=self.table.rpartition(".")[2] if self.table else None)
        listing.items = self._rows(conn, engine, result, keys, known, listing, where)
        return listing

    def _execute(self, conn: Any, where: str) -> tuple[Any, list[str]]:
        from sqlalchemy import MetaData, Table, select, text
        from sqlalchemy import exc as sa_exc

        backend = conn.dialect.name
        try:
            if backend == "postgresql":
                conn = conn.execution_options(postgresql_readonly=True)
            elif backend in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
            keys = list(self.keys)
            if self.table is not None:
                schema, _, name = self.table.rpartition(".")
                try:
                    table = Table(name, MetaData(), schema=schema or None, autoload_with=conn)
                except sa_exc.NoSuchTableError:
                    raise SourceError(f"sql {where}: there is no table '{self.table}'; check --table") from None
                if not keys:
                    keys = [c.name for c in table.primary_key.columns]
                if not keys:
                    raise SourceError(
                        f"sql {where}: table '{self.table}' has no primary key; name the column(s) with --key"
                    )
                statement: Any = select(table)
            else:
                statement = text(self.query or "")
            result = conn.execution_options(stream_results=True, yield_per=self.batch_size).execute(statement)
        except SourceError:
            raise
        except sa_exc.SQLAlchemyError as exc:
            raise SourceError(f"sql {where}: the query failed: {_reason(exc)}") from exc
        columns = list(result.keys())
        missing = [c for c in [*keys, *([self.updated_column] if self.updated_column else [])] if c not in columns]
        if missing:
            result.close()
            raise SourceError(
                f"sql {where}: no column {', '.join(missing)} in {self.name}; its columns are {', '.join(columns)}"
            )
        return result, keys

    def _rows(
        self,
        conn: Any,
        engine: Any,
        result: Any,
        keys: list[str],
        known: Mapping[str, str],
        listing: Listing,
        where: str,
    ) -> Iterator[Fetched]:
        from sqlalchemy import exc as sa_exc

        seen: set[str] = set()
        try:
            while True:
                try:
                    batch = result.fetchmany(self.batch_size)
                except sa_exc.SQLAlchemyError as exc:
                    raise SourceError(f"sql {where}: reading rows failed: {_reason(exc)}") from exc
                if not batch:
                    break
                for row in batch:
                    values = dict(row._mapping)
                    if listing.table is not None:
                        listing.table.add([_cell(v) for v in values.values()])
                    row_key = ",".join(_plain(values[k]) for k in keys)
                    key = f"{self.name}/{row_key}"
                    if key in seen:
                        listing.failed[key] = f"another row has the same key ({', '.join(keys)} = {row_key})"
                        continue
                    seen.add(key)
                    version = self._version(values)
                    if known.get(key) == version:
                        listing.unchanged.add(key)
                        continue
                    try:
                        yield self._document(key, row_key, version, values)
                    except _RowError as exc:
                        listing.failed[key] = str(exc)
        finally:
            result.close()
            conn.close()
            engine.dispose()

    def _version(self, values: Mapping[str, Any]) -> str:
        if self.updated_column and values[self.updated_column] is not None:
            return _plain(values[self.updated_column])
        # no updated_column, or NULL in it: the row's content decides
        encoded = json.dumps({k: _plain(v) for k, v in values.items()}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(encoded.encode()).hexdigest()[:16]

    def _document(self, key: str, row_key: str, version: str, values: dict[str, Any]) -> Fetched:
        variables = {
            **{k: v for k, v in values.items() if _NAME.match(k)},
            "row": values,
            "key": row_key,
            "table": self.name,
        }
        if self.template is not None:
            body = _render("--template", self.template, variables)
        else:
            body = "\n".join(f"{column}: {_plain(value)}" for column, value in values.items())
        title = _render("--title", self.title, variables).strip() if self.title else f"{self.name} {row_key}"
        updated = values.get(self.updated_column) if self.updated_column else None
        mtime = updated.timestamp() if isinstance(updated, dt.datetime) else None
        return Fetched(
            key=key,
            title=title or key,
            data=(body.strip() + "\n").encode("utf-8"),
            filetype="md" if self.template is not None else "txt",
            version=version,
            mtime=mtime,
            metadata={"table": self.name, "row_key": row_key},
        )


@CONNECTORS.register("sql")
def sql_connector(
    url: str,
    table: str | None = None,
    query: str | None = None,
    key: str | Sequence[str] | None = None,
    updated_column: str | None = None,
    template: str | None = None,
    title: str | None = None,
    password_env: str | None = None,
    batch_size: int = 500,
    timeout_s: float = 30.0,
) -> SqlConnector:
    """The ``sql`` connector, built from the settings ``docket sources add sql`` stored."""
    return SqlConnector(
        url=url,
        table=table,
        query=query,
        key=key,
        updated_column=updated_column,
        template=template,
        title=title,
        password_env=password_env,
        batch_size=batch_size,
        timeout_s=timeout_s,
    )


class _RowError(Exception):
    pass


def _checked_url(raw: str, *, allow_password: bool = False, where: str = "the URL") -> Any:
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
    except ImportError:
        raise MissingExtraError("sqlalchemy", "sql", "A 'sql' source") from None
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"{where} is not a database URL; write e.g. sqlite:///shop.db, postgresql://user@host/db "
            "or mysql://user@host/db"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(
            f"{where}: database type '{url.drivername}' is not supported; use sqlite, postgresql or mysql/mariadb"
        )
    if url.password and not allow_password:
        raise ConfigError(
            "the database URL holds a password, which would be stored in the knowledge base; leave it out and "
            "give --password-env VAR, or pass the whole URL in an environment variable as env:VAR"
        )
    return url.set(drivername=driver)


@lru_cache(maxsize=1)
def _env() -> Any:
    try:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment
    except ImportError:
        raise MissingExtraError("jinja2", "sql", "Row templates of a 'sql' source") from None
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)
    return env


@lru_cache(maxsize=64)
def _compiled(template: str) -> Any:
    return _env().from_string(template)


def _check_template(label: str, text: str) -> None:
    from jinja2 import TemplateSyntaxError

    try:
        _compiled(text)
    except TemplateSyntaxError as exc:
        raise ConfigError(f"{label}: bad template: {exc.message} (template line {exc.lineno})") from None


def _render(label: str, template: str, variables: Mapping[str, Any]) -> str:
    from jinja2 import TemplateError

    try:
        return str(_compiled(template).render(**variables))
    except TemplateError as exc:
        raise _RowError(f"{label} failed for this row: {exc}") from exc


def _plain(value: Any) -> str:
    """A column value as text: ISO dates, exact decimals, no Python reprs."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


def _cell(value: Any) -> int | float | str | None:
    """A column value for the table store: numbers stay numbers, everything else is text."""
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent == 0 else float(value)
    return _plain(value)


def _reason(exc: Exception) -> str:
    """The driver's own message, first line, without SQLAlchemy's boilerplate."""
    original = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    text = str(original)
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):  # PyMySQL: (code, message)
        text = f"{args[1]} ({args[0]})"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def _strip_comments(sql: str) -> str:
    out: list[str] = []
    i, quote = 0, ""
    while i < len(sql):
        char = sql[i]
        if quote:
            out.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
            out.append(char)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = len(sql) if end < 0 else end + 2
            out.append(" ")
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _outside_quotes(sql: str, needle: str) -> bool:
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == needle:
            return True
    return False
