"""A lease queue over a table of :class:`~docket.records.Records`.

SQLite (one server's file): a claim is one ``BEGIN IMMEDIATE`` transaction that takes the oldest
queued item and marks it running; items left running are this server's own, so on start every
one of them is queued again (:meth:`LeaseQueue.requeue_interrupted`).

PostgreSQL (any number of servers on one database): a claim is one ``UPDATE ... WHERE key = (SELECT
... FOR UPDATE SKIP LOCKED) RETURNING key``, so no item is claimed twice, and the claimed item is
leased until ``lease_seconds`` from now on the database's clock (the same for every server). The
worker renews the lease while it works (:func:`renewing`); an item whose lease ran out (its
server stopped) is claimable again, and a restarting server requeues only such items, never
those a live server is working on.

A table with an ``attempts`` column counts claims: an item claimed ``max_attempts`` times that
lapses again is failed, and :meth:`LeaseQueue.fail` with ``retry`` queues it again after a
backoff (the lease column holds the time before which a queued item is not claimed). Tables
without one are claimed until they finish, as the server's jobs and runs always were.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from docket.records import Records

__all__ = ["NOW", "LeaseQueue", "Table", "renewing"]

NOW = "extract(epoch FROM clock_timestamp())"  # PostgreSQL's clock, in POSIX seconds


@dataclass(frozen=True)
class Table:
    """Where one kind of work keeps its items: the table and the names of its columns.

    ``order`` is the claim order on (SQLite, PostgreSQL). ``leased_on_sqlite``: the SQLite table
    has the lease column too (several processes on one file; the server's tables do not)."""

    name: str
    key: str = "id"
    status: str = "status"
    order: tuple[str, str] = ("id", "id")
    started: str | None = "started"
    finished: str | None = "finished"
    error: str | None = "error"
    progress: str | None = None
    lease: str = "lease_until"
    attempts: str | None = None
    leased_on_sqlite: bool = False
    queued: str = "queued"
    running: str = "running"
    done: str = "done"
    failed: str = "failed"


@contextmanager
def renewing(renew: Callable[[], Any] | None, every: float) -> Iterator[None]:
    """Call ``renew()`` every ``every`` seconds in a thread while the block runs (a lease's
    heartbeat); nothing when ``renew`` is None."""
    if renew is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            try:
                renew()
            except Exception:  # a missed beat is retried; the lease outlives a few of them
                continue

    thread = threading.Thread(target=beat, name="docket-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def backoff(attempts: int, base: float = 5.0, cap: float = 600.0) -> float:
    """Seconds before a failed item is tried again: doubling from ``base`` up to ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


class LeaseQueue:
    """Claim, lease, renew, progress, finish and fail the items of one :class:`Table`."""

    def __init__(
        self,
        records: Records,
        table: Table,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records, self.table = records, table
        self.lease_seconds, self.max_attempts, self.clock = lease_seconds, max_attempts, clock

    @property
    def shared(self) -> bool:
        """Whether the records are PostgreSQL's, shared by every server on the database."""
        return self.records.dialect == "postgres"

    @property
    def leased(self) -> bool:
        return self.shared or self.table.leased_on_sqlite

    def _now(self) -> tuple[str, tuple[Any, ...]]:
        """The current time as SQL: the database's clock on PostgreSQL, this machine's on SQLite."""
        return (NOW, ()) if self.shared else ("?", (self.clock(),))

    def _claimable(self) -> tuple[str, tuple[Any, ...]]:
        t = self.table
        if not self.leased:
            return f"{t.status} = ?", (t.queued,)
        now, p = self._now()
        return (
            f"(({t.status} = ? AND ({t.lease} IS NULL OR {t.lease} <= {now})) "
            f"OR ({t.status} = ? AND {t.lease} < {now}))",
            (t.queued, *p, t.running, *p),
        )

    # ------------------------------------------------------------------ claiming
    def claim(self) -> Any | None:
        """Take the next item (marking it running, leased where leases are kept); its key, or None."""
        t = self.table
        self._fail_exhausted()
        where, params = self._claimable()
        sets, values = [f"{t.status} = ?"], list[Any]([t.running])
        if t.started:
            sets.append(f"{t.started} = ?")
            values.append(self.clock())
        if t.attempts:
            sets.append(f"{t.attempts} = COALESCE({t.attempts}, 0) + 1")
        if self.leased:
            now, p = self._now()
            sets.append(f"{t.lease} = {now} + ?")
            values.extend([*p, self.lease_seconds])
        if self.shared:
            row = self.records.one(
                f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.key} = (SELECT {t.key} FROM {t.name} WHERE {where} "
                f"ORDER BY {t.order[1]} LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {t.key}",
                (*values, *params),
            )
            return None if row is None else row[0]
        with self.records.tx() as tx:  # BEGIN IMMEDIATE: no other claim in between
            row = tx.execute(
                f"SELECT {t.key} FROM {t.name} WHERE {where} ORDER BY {t.order[0]} LIMIT 1", params
            ).fetchone()
            if row is None:
                return None
            tx.execute(f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.key} = ?", (*values, row[0]))
        return row[0]

    def _fail_exhausted(self) -> None:
        """Items whose lease ran out after their last allowed attempt are failed, not claimed again."""
        t = self.table
        if not (self.leased and t.attempts and self.max_attempts):
            return
        now, p = self._now()
        sets, values = [f"{t.status} = ?"], list[Any]([t.failed])
        if t.error:
            sets.append(f"{t.error} = ?")
            values.append(f"its worker stopped before finishing it {self.max_attempts} time(s) (lease expired)")
        if t.finished:
            sets.append(f"{t.finished} = ?")
            values.append(self.clock())
        self.records.execute(
            f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.status} = ? AND {t.lease} < {now} AND {t.attempts} >= ?",
            (*values, t.running, *p, self.max_attempts),
        )

    def lease(self, key: Any) -> bool:
        """(Re)lease a running item for ``lease_seconds`` from now: the heartbeat of the worker on it,
        and the start of an item created running. False when it is not running any more. Without
        leases (one server's SQLite file) nothing to do: True while it runs."""
        t = self.table
        if not self.leased:
            row = self.records.one(f"SELECT {t.status} FROM {t.name} WHERE {t.key} = ?", (key,))
            return row is not None and row[0] == t.running
        now, p = self._now()
        sql = f"UPDATE {t.name} SET {t.lease} = {now} + ? WHERE {t.key} = ? AND {t.status} = ?"
        return self.records.execute(sql, (*p, self.lease_seconds, key, t.running)).rowcount == 1

    renew = lease

    def renewing(self, key: Any) -> Any:
        """A context in which ``key``'s lease is renewed every third of ``lease_seconds``."""
        return renewing(lambda: self.lease(key) if self.leased else None, self.lease_seconds / 3)

    def requeue_interrupted(self) -> int:
        """On start: items left running by a stopped worker are queued again. With leases only those
        whose lease ran out: a live server on the same database may be working on the rest."""
        t = self.table
        where, params = f"{t.status} = ?", (t.running,)
        if self.leased:
            now, p = self._now()
            where += f" AND ({t.lease} IS NULL OR {t.lease} < {now})"
            params = (*params, *p)
        return self.records.execute(f"UPDATE {t.name} SET {t.status} = ? WHERE {where}", (t.queued, *params)).rowcount

    # ------------------------------------------------------------------ working
    def progress(self, key: Any, progress: dict[str, Any]) -> None:
        """Record how far the item is (shown while it runs)."""
        if self.table.progress:
            t = self.table
            self.records.execute(f"UPDATE {t.name} SET {t.progress} = ? WHERE {t.key} = ?", (json.dumps(progress), key))

    def finish(self, key: Any, error: str | None = None, **columns: Any) -> str:
        """The item ended: ``done``, or ``failed`` with ``error``; ``columns`` are stored with it
        (values as the table holds them: JSON text is the caller's). Returns the status."""
        t = self.table
        status = t.failed if error else t.done
        sets, values = [f"{t.status} = ?"], list[Any]([status])
        if t.finished:
            sets.append(f"{t.finished} = ?")
            values.append(self.clock())
        for name, value in columns.items():
            sets.append(f"{name} = ?")
            values.append(value)
        if t.error:
            sets.append(f"{t.error} = ?")
            values.append(error)
        with self.records.tx() as tx:
            tx.execute(f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.key} = ?", (*values, key))
        return status

    def fail(self, key: Any, error: str, *, retry: bool = True) -> str:
        """A try failed: with ``retry`` and attempts left, queue the item again after a backoff (it is
        not claimed before); else fail it for good. Returns the new status."""
        t = self.table
        attempts = 0
        if t.attempts:
            row = self.records.one(f"SELECT {t.attempts} FROM {t.name} WHERE {t.key} = ?", (key,))
            attempts = int(row[0] or 0) if row is not None else 0
        if not (retry and self.leased and t.attempts and (self.max_attempts is None or attempts < self.max_attempts)):
            return self.finish(key, error)
        now, p = self._now()
        sets = f"{t.status} = ?, {t.lease} = {now} + ?" + (f", {t.error} = ?" if t.error else "")
        values = (t.queued, *p, backoff(attempts), *((error,) if t.error else ()))
        self.records.execute(f"UPDATE {t.name} SET {sets} WHERE {t.key} = ?", (*values, key))
        return t.queued
