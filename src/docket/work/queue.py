"""A lease queue over a table of :class:`~docket.records.Records`.

SQLite (one server's file): a claim is one ``BEGIN IMMEDIATE`` transaction that takes the oldest
queued items and marks them running; items left running are this server's own, so on start every
one of them is queued again (:meth:`LeaseQueue.requeue_interrupted`).

PostgreSQL (any number of servers or workers on one database): a claim is one transaction that
selects the oldest claimable items ``FOR UPDATE SKIP LOCKED`` and marks them running, so no item
is claimed twice, and each is leased until ``lease_seconds`` from now on the database's clock (the
same for every machine). The worker renews the lease while it works (:func:`renewing`); an item
whose lease ran out (its worker stopped) is claimable again, and a restarting server requeues only
such items, never those a live server is working on. :meth:`LeaseQueue.claim` takes one item,
:meth:`LeaseQueue.claim_batch` up to ``n`` at once with the columns the worker needs.

A table with an ``attempts`` column counts claims: an item claimed ``max_attempts`` times that
lapses again is failed, and :meth:`LeaseQueue.fail` with ``retry`` queues it again after
``retry_after(attempts)`` seconds (the lease column holds the time before which a queued item is
not claimed; none when that is 0). Tables without one are claimed until they finish, as the
server's jobs and runs always were. A finished item's lease is cleared, so one queued again by
hand (the server's job retry) is claimable at once.

What the index schema's ``jobs`` table of ``docket worker`` (:mod:`docket.ingest.queue`) adds, each
optional in :class:`Table`: an ``owner`` column (the worker holding the lease: only it renews,
finishes, fails or hands back the item, and a worker whose lease was taken over cannot finish it;
owner and lease are cleared when the item is handed back), an
``updated`` column stamped at every change, ``timestamps`` (lease and ``updated`` are
``timestamptz`` on PostgreSQL, not POSIX seconds), and a ``channel``: each transaction that makes
items claimable sends ``NOTIFY channel`` on PostgreSQL, which :meth:`LeaseQueue.listen` delivers
to idle workers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from docket.records import Records, Transaction

__all__ = ["NOW", "LeaseQueue", "Table", "backoff", "renewing"]

NOW = "extract(epoch FROM clock_timestamp())"  # PostgreSQL's clock, in POSIX seconds
_NOW_TIMESTAMP = "clock_timestamp()"  # the same, for timestamptz columns


@dataclass(frozen=True)
class Table:
    """Where one kind of work keeps its items: the table and the names of its columns.

    ``order`` is the claim order on (SQLite, PostgreSQL). ``leased_on_sqlite``: the SQLite table
    has the lease column too (several processes on one file; the server's tables do not).
    ``owner``, ``updated``, ``timestamps`` and ``channel``: see the module's docstring."""

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
    owner: str | None = None
    updated: str | None = None
    timestamps: bool = False
    channel: str | None = None
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


def _marks(keys: Sequence[Any]) -> str:
    return ", ".join("?" for _ in keys)


class LeaseQueue:
    """Claim, lease, renew, progress, finish, fail and hand back the items of one :class:`Table`.

    ``owner`` names this worker in the table's owner column (where it has one)."""

    def __init__(
        self,
        records: Records,
        table: Table,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        retry_after: Callable[[int], float] = backoff,
    ) -> None:
        self.records, self.table = records, table
        self.lease_seconds, self.max_attempts, self.clock = lease_seconds, max_attempts, clock
        self.owner, self.retry_after = owner, retry_after

    @property
    def shared(self) -> bool:
        """Whether the records are PostgreSQL's, shared by every server on the database."""
        return self.records.dialect == "postgres"

    @property
    def leased(self) -> bool:
        return self.shared or self.table.leased_on_sqlite

    def _now(self) -> tuple[str, tuple[Any, ...]]:
        """The current time as SQL: the database's clock on PostgreSQL, this machine's on SQLite."""
        if not self.shared:
            return "?", (self.clock(),)
        return (_NOW_TIMESTAMP if self.table.timestamps else NOW), ()

    def _later(self, seconds: float) -> tuple[str, tuple[Any, ...]]:
        """``seconds`` from now, as SQL of the lease column's type."""
        now, p = self._now()
        if self.shared and self.table.timestamps:
            return f"{now} + make_interval(secs => ?)", (*p, float(seconds))
        return f"{now} + ?", (*p, seconds)

    def _stamped(self, sets: list[str], values: list[Any]) -> None:
        """Add the ``updated`` column's new value to an UPDATE's ``sets``."""
        if self.table.updated:
            now, p = self._now()
            sets.append(f"{self.table.updated} = {now}")
            values.extend(p)

    def _mine(self, keys: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """WHERE ``keys``, and with an owner column: still running and leased to this worker."""
        t = self.table
        where, params = f"{t.key} IN ({_marks(keys)})", tuple(keys)
        if t.owner:
            where += f" AND {t.owner} = ? AND {t.status} = ?"
            params = (*params, self.owner, t.running)
        return where, params

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

    def notify(self, tx: Transaction) -> None:
        """Wake the workers listening (:meth:`listen`) when ``tx`` commits: items became claimable.
        Nothing on SQLite or for a table without a ``channel``."""
        if self.shared and self.table.channel:
            tx.execute("SELECT pg_notify(?, '')", (self.table.channel,))

    def listen(self, wake: Callable[[], None], stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Call ``wake`` whenever items became claimable, until ``stop`` is set (run it in a thread);
        ``ready`` is set while notifications arrive. Returns at once where none are sent."""
        if self.shared and self.table.channel:
            self.records.listen(self.table.channel, wake, stop, ready)

    # ------------------------------------------------------------------ claiming
    def claim(self) -> Any | None:
        """Take the next item (marking it running, leased where leases are kept); its key, or None."""
        rows = self.claim_batch(1)
        return rows[0][0] if rows else None

    def claim_batch(self, limit: int, columns: Sequence[str] = ()) -> list[tuple[Any, ...]]:
        """Take up to ``limit`` items at once, in claim order: a row ``(key, *columns)`` for each."""
        t = self.table
        self._fail_exhausted()
        where, params = self._claimable()
        sets, values = [f"{t.status} = ?"], list[Any]([t.running])
        if t.started:
            sets.append(f"{t.started} = ?")
            values.append(self.clock())
        if t.attempts:
            sets.append(f"{t.attempts} = COALESCE({t.attempts}, 0) + 1")
        if t.owner:
            sets.append(f"{t.owner} = ?")
            values.append(self.owner)
        if self.leased:
            later, p = self._later(self.lease_seconds)
            sets.append(f"{t.lease} = {later}")
            values.extend(p)
        self._stamped(sets, values)
        order, lock = (t.order[1], " FOR UPDATE SKIP LOCKED") if self.shared else (t.order[0], "")
        with self.records.tx() as tx:  # SQLite: BEGIN IMMEDIATE, no other claim in between
            keys = [
                row[0]
                for row in tx.execute(
                    f"SELECT {t.key} FROM {t.name} WHERE {where} ORDER BY {order} LIMIT ?{lock}", (*params, limit)
                ).fetchall()
            ]
            if not keys:
                return []
            tx.execute(f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.key} IN ({_marks(keys)})", (*values, *keys))
            if not columns:
                return [(key,) for key in keys]
            rows = tx.execute(
                f"SELECT {', '.join((t.key, *columns))} FROM {t.name} WHERE {t.key} IN ({_marks(keys)})", keys
            ).fetchall()
        rank = {key: n for n, key in enumerate(keys)}
        return sorted((tuple(row) for row in rows), key=lambda row: rank[row[0]])

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
        if t.owner:
            sets.append(f"{t.owner} = NULL")
        self._stamped(sets, values)
        self.records.execute(
            f"UPDATE {t.name} SET {', '.join(sets)} WHERE {t.status} = ? AND {t.lease} < {now} AND {t.attempts} >= ?",
            (*values, t.running, *p, self.max_attempts),
        )

    def lease(self, key: Any) -> bool:
        """(Re)lease a running item for ``lease_seconds`` from now: the heartbeat of the worker on it,
        and the start of an item created running. False when it is not running any more (or, with
        an owner column, not this worker's). Without leases (one server's SQLite file) nothing to
        do: True while it runs."""
        t = self.table
        if not self.leased:
            row = self.records.one(f"SELECT {t.status} FROM {t.name} WHERE {t.key} = ?", (key,))
            return row is not None and row[0] == t.running
        return self.renew_batch([key]) == 1

    renew = lease

    def renew_batch(self, keys: Sequence[Any]) -> int:
        """Renew the leases of the running items ``keys`` (with an owner column: those this worker
        still holds); how many were renewed. Nothing to do without leases."""
        t = self.table
        if not (keys and self.leased):
            return 0
        later, p = self._later(self.lease_seconds)
        where, params = self._mine(keys)
        if not t.owner:
            where, params = f"{where} AND {t.status} = ?", (*params, t.running)
        return self.records.execute(f"UPDATE {t.name} SET {t.lease} = {later} WHERE {where}", (*p, *params)).rowcount

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
        with self.records.tx() as tx:
            count = tx.execute(f"UPDATE {t.name} SET {t.status} = ? WHERE {where}", (t.queued, *params)).rowcount
            if count:
                self.notify(tx)
        return count

    def release(self, keys: Sequence[Any]) -> int:
        """Hand back running items not started (their worker was asked to stop): queued again at
        once, the claim not counted as an attempt. How many were handed back."""
        t = self.table
        if not keys:
            return 0
        sets, values = [f"{t.status} = ?"], list[Any]([t.queued])
        if t.attempts:
            sets.append(f"{t.attempts} = {t.attempts} - 1")
        if t.owner:
            sets.append(f"{t.owner} = NULL")
        if self.leased:
            sets.append(f"{t.lease} = NULL")
        self._stamped(sets, values)
        where, params = self._mine(keys)
        with self.records.tx() as tx:
            count = tx.execute(f"UPDATE {t.name} SET {', '.join(sets)} WHERE {where}", (*values, *params)).rowcount
            self.notify(tx)
        return count

    def unfinished(self) -> int:
        """Items queued or running (a running one may come back when its lease runs out)."""
        t = self.table
        row = self.records.one(f"SELECT COUNT(*) FROM {t.name} WHERE {t.status} IN (?, ?)", (t.queued, t.running))
        return int(row[0])

    # ------------------------------------------------------------------ working
    def progress(self, key: Any, progress: dict[str, Any]) -> None:
        """Record how far the item is (shown while it runs)."""
        if self.table.progress:
            t = self.table
            self.records.execute(f"UPDATE {t.name} SET {t.progress} = ? WHERE {t.key} = ?", (json.dumps(progress), key))

    def finish(self, key: Any, error: str | None = None, **columns: Any) -> str:
        """The item ended: ``done``, or ``failed`` with ``error``; ``columns`` are stored with it
        (values as the table holds them: JSON text is the caller's). Returns the status."""
        return self._finish([key], error, columns)

    def finish_batch(self, keys: Sequence[Any]) -> None:
        """The items ``keys`` are done."""
        if keys:
            self._finish(keys, None, {})

    def _finish(self, keys: Sequence[Any], error: str | None, columns: dict[str, Any]) -> str:
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
        if self.leased:  # the lease ends with the item: one queued again by hand is claimable at once
            sets.append(f"{t.lease} = NULL")
        if t.owner and error:  # the owner of a done item stays: the worker that did it
            sets.append(f"{t.owner} = NULL")
        self._stamped(sets, values)
        where, params = self._mine(keys)
        with self.records.tx() as tx:
            tx.execute(f"UPDATE {t.name} SET {', '.join(sets)} WHERE {where}", (*values, *params))
        return status

    def fail(self, key: Any, error: str, *, retry: bool = True) -> str:
        """A try failed: with ``retry`` and attempts left, queue the item again after
        ``retry_after(attempts)`` seconds (it is not claimed before); else fail it for good.
        Returns the new status."""
        t = self.table
        attempts = 0
        if t.attempts:
            row = self.records.one(f"SELECT {t.attempts} FROM {t.name} WHERE {t.key} = ?", (key,))
            attempts = int(row[0] or 0) if row is not None else 0
        if not (retry and self.leased and t.attempts and (self.max_attempts is None or attempts < self.max_attempts)):
            return self.finish(key, error)
        sets, values = [f"{t.status} = ?"], list[Any]([t.queued])
        delay = self.retry_after(attempts)
        if delay > 0:
            later, p = self._later(delay)
            sets.append(f"{t.lease} = {later}")
            values.extend(p)
        else:
            sets.append(f"{t.lease} = NULL")
        if t.error:
            sets.append(f"{t.error} = ?")
            values.append(error)
        if t.owner:
            sets.append(f"{t.owner} = NULL")
        self._stamped(sets, values)
        where, params = self._mine([key])
        with self.records.tx() as tx:
            tx.execute(f"UPDATE {t.name} SET {', '.join(sets)} WHERE {where}", (*values, *params))
            self.notify(tx)
        return t.queued
