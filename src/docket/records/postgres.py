r"""What every PostgreSQL user of Docket shares: pooled transactions whose errors become one-line
:class:`~docket.errors.DatabaseError`\ s, connection errors that say what to do, and text made safe
for PostgreSQL. psycopg is imported only inside the functions that need it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from docket.config import redact_url
from docket.errors import DatabaseError

__all__ = ["explain_connect_error", "first_line", "listen", "one_row", "pg_text", "pooled"]


def pg_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters (some PDFs yield them); they are dropped."""
    return value.replace("\x00", "")


def one_row(cur: Any) -> tuple[Any, ...]:
    """The one row a query that always returns one returned."""
    row = cur.fetchone()
    if row is None:  # pragma: no cover - the queries passed here always return a row
        raise DatabaseError("PostgreSQL returned no row where one was expected")
    return tuple(row)


def first_line(exc: BaseException, url: str | None = None) -> str:
    """The first line of an error's message, with ``url`` and its password (if given) hidden."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    if url:
        from urllib.parse import urlsplit

        text = text.replace(url, redact_url(url))
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "****")
    return text


@contextmanager
def pooled(pool: Any, where: str, timeout: float, what: str, url: str | None = None) -> Iterator[Any]:
    """One transaction on a connection of ``pool`` (a psycopg_pool ``ConnectionPool``); the pool's
    and psycopg's errors become one-line DatabaseErrors naming ``what`` (e.g. "the job queue in
    PostgreSQL") and ``where`` (the redacted URL), with ``url``'s password hidden."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except PoolTimeout as exc:
        raise DatabaseError(
            f"no connection to PostgreSQL at {where} within {timeout:g} s; check that the server is running, "
            "or raise store.pool_size if many requests run at once"
        ) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"lost the connection to {what} at {where}: {first_line(exc, url)}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"{what} at {where}: {first_line(exc, url)}") from exc


def listen(
    url: str,
    channel: str,
    timeout: float,
    wake: Callable[[], None],
    stop: threading.Event,
    ready: threading.Event | None = None,
) -> None:
    """Call ``wake`` on each ``NOTIFY channel`` until ``stop`` is set (run it in a thread).

    Uses a connection of its own (``LISTEN`` needs one outside any pool); when it is lost,
    ``ready`` is cleared and it reconnects, calling ``wake`` once more (a notification may have
    been missed meanwhile). ``ready`` is set while it listens."""
    import psycopg

    pause = 0.5
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout))) as conn:
                conn.execute(f"LISTEN {channel}")
                wake()
                if ready is not None:
                    ready.set()
                pause = 0.5
                while not stop.is_set():
                    for _ in conn.notifies(timeout=0.5, stop_after=1):
                        wake()
        except psycopg.Error:
            if ready is not None:
                ready.clear()
            stop.wait(pause)  # the database is unreachable: whoever listens polls meanwhile
            pause = min(pause * 2, 30.0)


def explain_connect_error(exc: Exception, url: str) -> DatabaseError:
    """A one-line message saying what to do about a failed connection to ``url`` (never shown whole)."""
    where = redact_url(url)
    text = first_line(exc, url)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        hint = "wrong user name or password; check the credentials in store.url / DOCKET_DATABASE_URL"
    elif "role" in low and "does not exist" in low:
        hint = "that user does not exist on the server; check the user name in store.url / DOCKET_DATABASE_URL"
    elif "database" in low and "does not exist" in low:
        hint = "that database does not exist; create it (createdb NAME) or fix the name in DOCKET_DATABASE_URL"
    elif "timeout" in low or "refused" in low or "could not" in low or "no such file" in low or "translate" in low:
        hint = "the server is not reachable; check the host and port and that PostgreSQL is running"
    else:
        hint = "check store.url / DOCKET_DATABASE_URL"
    return DatabaseError(f"cannot connect to PostgreSQL at {where}: {hint} ({text})")
