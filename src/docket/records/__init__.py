"""The small SQL layer: the server's records (accounts, jobs, workflow runs, the review queue) and
the ledger of each knowledge base (:mod:`docket.ledger`).

Two backends behind one small interface (``execute``, ``one``, ``all``, ``tx``):

- a SQLite file in the knowledge base's home (``accounts.db``, ``reviews.db``): one connection,
  one lock, WAL, ``BEGIN IMMEDIATE`` transactions — what a single ``docket serve`` has always used;
- the PostgreSQL database of the store (``store.url``), in a schema of its own (``docket_server``,
  so its ``jobs`` or ``conversations`` never meet the store's tables of the same name): a small
  connection pool shared by the threads, so any number of servers share one set of records.
  ``schema=None`` reaches the tables of the database's own ``search_path`` instead: the store's,
  where ``docket worker``'s ``jobs`` are (:mod:`docket.ingest.queue`).

SQL is written once, with ``?`` placeholders; on PostgreSQL :func:`to_pyformat` turns them into
``%s`` (outside string literals) and doubles a literal ``%``. Statements that differ (the DDL,
``FOR UPDATE SKIP LOCKED``) check :attr:`Records.dialect`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from docket.errors import DatabaseError, MissingExtraError

__all__ = ["SCHEMA", "Records", "Result", "Transaction", "to_pyformat"]

SCHEMA = "docket_server"  # the PostgreSQL schema holding the server's records
_CREATE_LOCK = f"SELECT pg_advisory_xact_lock(hashtext('{SCHEMA}.create'))"


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s``: a ``?`` inside a quoted string or
    identifier stays as it is, and every ``%`` is doubled (psycopg reads ``%`` everywhere)."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if char == "%":
            out.append("%%")
        elif quote is not None:
            out.append(char)
            if char == quote:
                quote = None  # a doubled quote ('it''s') closes and reopens: same result
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


@dataclass
class Result:
    """What a statement returned: its rows (fetched at once) and how many rows it changed."""

    rows: list[Any] = field(default_factory=list)
    rowcount: int = 0

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


class Transaction:
    """Statements inside one transaction (:meth:`Records.tx`)."""

    def __init__(self, run: Any) -> None:
        self._run = run

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return self._run(sql, params)


class Records:
    """A SQLite file or a PostgreSQL schema; thread-safe. ``dialect`` is ``sqlite`` or ``postgres``."""

    def __init__(self, dialect: str, where: str) -> None:
        self.dialect, self.where = dialect, where
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._pool: Any = None
        self._timeout = 10.0
        self._created: set[str] = set()
        self._what: str = "the server's records in PostgreSQL"
        self._url: str | None = None
        self._dsn: str | None = None  # where :meth:`listen` connects (the password included)
        self._owns_pool = True

    # ------------------------------------------------------------------ opening
    @classmethod
    def sqlite(cls, path: str | Path) -> Records:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        records = cls("sqlite", str(path))
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        records._db = db
        return records

    @classmethod
    def postgres(
        cls,
        url: str,
        *,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        schema: str | None = SCHEMA,
        what: str = "the server's records in PostgreSQL",
    ) -> Records:
        """A pool on ``url`` whose connections use ``schema`` (created here when missing), or, with
        ``schema=None``, the database's own ``search_path``. Errors name ``what``."""
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise MissingExtraError("psycopg", "postgres", "Server records in PostgreSQL (store.url)") from exc
        from docket.config import redact_url

        records = cls("postgres", redact_url(url))
        records._timeout, records._what, records._dsn = connect_timeout, what, url
        timeout = max(1, round(connect_timeout))
        if schema is not None:
            try:
                with psycopg.connect(url, connect_timeout=timeout) as conn, conn.transaction():
                    conn.execute(_CREATE_LOCK)  # several servers starting at once: one creates, the others wait
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            except psycopg.Error as exc:
                from docket.records.postgres import first_line

                raise DatabaseError(f"{what} at {records.where}: {first_line(exc, url)}") from exc
        records._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"connect_timeout": timeout},
            configure=None if schema is None else partial(_set_search_path, schema),
            open=False,
            name="docket-records",
        )
        records._pool.open(wait=False)
        return records

    @classmethod
    def over_pool(cls, pool: Any, where: str, *, timeout: float, what: str, url: str | None = None) -> Records:
        """Statements on the connections of ``pool`` (a psycopg_pool ``ConnectionPool`` someone else
        opened and closes, with its own ``search_path``): how a PostgreSQL store gives its
        :class:`docket.ledger.Ledger` its database. Errors name ``what`` at ``where``, ``url``'s
        password hidden."""
        records = cls("postgres", where)
        records._pool, records._timeout, records._what, records._url = pool, timeout, what, url
        records._dsn = url
        records._owns_pool = False
        return records

    @classmethod
    def for_settings(cls, settings: Any, filename: str) -> Records:
        """PostgreSQL when ``settings.store.url`` is set, else ``<home>/<filename>``."""
        store = getattr(settings, "store", None)  # a bare object with a home (tests, scripts): the file
        if store is not None and store.url:
            return cls.postgres(
                store.url,
                pool_size=max(2, store.pool_size),
                connect_timeout=store.connect_timeout,
            )
        return cls.sqlite(Path(settings.home) / filename)

    def create(self, sqlite_ddl: str, postgres_ddl: str) -> None:
        """Create the tables (``IF NOT EXISTS``) with the DDL of this dialect (once per DDL)."""
        if sqlite_ddl in self._created:
            return
        if self._db is not None:
            with self._lock:
                self._db.executescript(sqlite_ddl)
        else:
            with self._connection() as conn:
                conn.execute(_CREATE_LOCK)  # servers starting together
                for statement in (s.strip() for s in postgres_ddl.split(";")):
                    if statement:
                        conn.execute(statement)
        self._created.add(sqlite_ddl)

    def add_column(self, table: str, column: str, sql_type: str) -> None:
        """Add ``column`` to ``table`` unless it is there already: how a table made by an older
        version migrates (SQLite has no ``ADD COLUMN IF NOT EXISTS``; existing rows get NULL)."""
        if self._db is not None:
            with self._lock:
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    try:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
                    except sqlite3.OperationalError as exc:  # another connection added it since the check
                        if "duplicate column name" not in str(exc):
                            raise
            return
        with self._connection() as conn:
            conn.execute(_CREATE_LOCK)  # servers starting together
            conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {sql_type}")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._pool is not None and self._owns_pool:
            self._pool.close()

    # ------------------------------------------------------------------ statements
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """One statement in a transaction of its own (SQLite: autocommit, no write lock for a read)."""
        if self._db is not None:
            with self._lock:
                return _sqlite_result(self._db.execute(sql, params))
        with self.tx() as tx:
            return tx.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``sql`` once for each of ``rows``, all in one transaction (bulk copies: ``docket db copy``)."""
        if self._db is not None:
            db = self._db
            with self._lock:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(sql, rows)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            return
        with self._connection() as conn:
            conn.cursor().executemany(to_pyformat(sql), rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    @contextmanager
    def tx(self) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back when it raises. On SQLite it
        takes the write lock at once (``BEGIN IMMEDIATE``), so read-then-write never races."""
        if self._db is not None:
            db = self._db
            with self._lock:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield Transaction(lambda sql, params: _sqlite_result(db.execute(sql, params)))
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            return
        with self._connection() as conn:
            yield Transaction(lambda sql, params: _postgres_result(conn.execute(to_pyformat(sql), params)))

    def listen(
        self,
        channel: str,
        wake: Callable[[], None],
        stop: threading.Event,
        ready: threading.Event | None = None,
    ) -> None:
        """PostgreSQL: call ``wake`` on each ``NOTIFY channel`` until ``stop`` is set (run it in a
        thread), on a connection of its own (see :func:`docket.records.postgres.listen`)."""
        if self._dsn is None:
            raise DatabaseError(f"{self._what} at {self.where}: no connection to listen on")
        from docket.records.postgres import listen

        listen(self._dsn, channel, self._timeout, wake, stop, ready)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        from docket.records.postgres import pooled

        with pooled(self._pool, self.where, self._timeout, self._what, self._url) as conn:
            yield conn


def _set_search_path(schema: str, conn: Any) -> None:
    conn.execute(f"SET search_path TO {schema}")
    conn.commit()


def _sqlite_result(cur: sqlite3.Cursor) -> Result:
    rows = cur.fetchall() if cur.description else []
    return Result(rows, cur.rowcount)


def _postgres_result(cur: Any) -> Result:
    rows = cur.fetchall() if cur.description else []
    return Result(rows, cur.rowcount)
