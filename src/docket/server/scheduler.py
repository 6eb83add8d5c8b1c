"""Runs what is due: scheduled workflow runs, and periodic jobs registered by code.

``docket serve`` starts one :class:`Scheduler`; every ``server.schedule_check_seconds`` it calls
:meth:`Scheduler.tick`, which queues a run for each workflow schedule whose time has come and calls
each due periodic job (``add_periodic``; connectors register their source syncs this way). Both
kinds are rows of the ``schedules`` table with the same bookkeeping: last run, its result or
error, next run. Cron expressions (five fields: minute hour day month weekday) are read in the
server's local time. A server that was stopped when a schedule was due runs it once on the next
tick, not once per missed time. Servers sharing one accounts database (PostgreSQL) each tick, but
a due time is claimed by one of them (:class:`docket.work.Recurring`, the rows of ``schedules``), so
it runs once. Tests drive it with an injected clock: ``tick(now)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from docket.accounts import Accounts
from docket.errors import DocketError, MissingExtraError, UserError
from docket.work import Recurring, RecurringTable

__all__ = ["SCHEDULES", "Scheduler", "check_cron", "next_time"]

SCHEDULES = RecurringTable("schedules")  # workflow schedules and periodic jobs alike

CRON_HELP = "five fields: minute hour day-of-month month weekday, e.g. '0 7 * * 1' (Mondays at 07:00)"


def _croniter() -> Any:
    try:
        from croniter import croniter
    except ImportError:
        raise MissingExtraError("croniter", "server", "Schedules") from None
    return croniter


def check_cron(cron: str) -> str:
    """``cron``, stripped, or a UserError saying how a cron expression is written."""
    cron = " ".join(cron.split())
    if len(cron.split(" ")) != 5 or not _croniter().is_valid(cron):
        raise UserError(f"'{cron}' is not a cron expression: {CRON_HELP}")
    return cron


def next_time(cron: str, after: float) -> float:
    """The first time strictly after ``after`` (POSIX seconds) that ``cron`` matches, local time."""
    start = datetime.fromtimestamp(after).astimezone()
    return float(_croniter()(cron, start).get_next(float))


@dataclass(frozen=True)
class Periodic:
    name: str
    cron: str
    job: Callable[[], dict[str, Any]]


class Scheduler:
    """Due schedules → queued workflow runs; due periodic jobs → called (in the scheduler's thread).

    ``queue_workflow(schedule)`` queues a run for a workflow schedule's row and returns the run's
    record (the server passes :meth:`WorkflowRunner.submit_schedule`)."""

    def __init__(
        self,
        accounts: Accounts,
        queue_workflow: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        *,
        every: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts, self.queue_workflow = accounts, queue_workflow
        self.every, self.clock = every, clock
        self._periodic: dict[str, Periodic] = {}
        self.due = Recurring(accounts.db, SCHEDULES)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ what to run
    def add_schedule(self, name: str, cron: str, **fields: Any) -> dict[str, Any]:
        """Store a workflow schedule (``workflow``, ``input``, ``params``, ``output``, ``workspace``)."""
        cron = check_cron(cron)
        return self.accounts.schedules.add(name, cron, next_run=next_time(cron, self.clock()), **fields)

    def add_periodic(self, name: str, cron: str, job: Callable[[], dict[str, Any]]) -> None:
        """Call ``job()`` whenever ``cron`` comes due; what it returns (or raises) is recorded as
        the schedule's last result (or error). Registering again replaces the job, keeping its history."""
        cron = check_cron(cron)
        existing = next((s for s in self.accounts.schedules.all() if s["name"] == name), None)
        if existing is not None and existing["kind"] != "periodic":
            raise UserError(f"the schedule '{name}' is a workflow schedule; give the periodic job another name")
        keep = existing is not None and existing["cron"] == cron and existing["next_run"] is not None
        next_run = existing["next_run"] if keep and existing else next_time(cron, self.clock())
        self.accounts.schedules.add(name, cron, kind="periodic", next_run=next_run, replace=True)
        with self._lock:
            self._periodic[name] = Periodic(name, cron, job)

    def listing(self) -> list[dict[str, Any]]:
        """Every schedule with its last run: for a workflow, the run's id, status and error."""
        out = []
        for schedule in self.accounts.schedules.all():
            out.append(describe(self.accounts, schedule) | {"registered": self._registered(schedule)})
        return out

    def _registered(self, schedule: dict[str, Any]) -> bool:
        return schedule["kind"] != "periodic" or schedule["name"] in self._periodic

    # ------------------------------------------------------------------ running
    def tick(self, now: float | None = None) -> list[str]:
        """Run everything due at ``now`` (default: the clock); returns the names that ran."""
        now = self.clock() if now is None else now
        ran = []
        for schedule in self.accounts.schedules.all():
            if schedule["next_run"] is None or schedule["next_run"] > now:
                continue
            if schedule["kind"] == "periodic":
                with self._lock:
                    periodic = self._periodic.get(schedule["name"])
                if periodic is None:
                    continue  # registered by code that is not running in this server
                if not self._record(schedule, now, periodic.job):
                    continue
            else:
                if self.queue_workflow is None:
                    continue
                if not self._record(schedule, now, partial(self._queue, schedule)):
                    continue
            ran.append(schedule["name"])
        return ran

    def _queue(self, schedule: dict[str, Any]) -> dict[str, Any]:
        assert self.queue_workflow is not None
        return {"run": self.queue_workflow(schedule)["id"]}

    def _record(self, schedule: dict[str, Any], now: float, job: Callable[[], dict[str, Any]]) -> bool:
        """Run ``job`` for a due schedule and record how it went; False (nothing run) when another
        server sharing the accounts database took this due time first."""
        after = next_time(schedule["cron"], now)
        return self.due.run(schedule["name"], schedule["next_run"], now, after, job)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="docket-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.tick()
            except Exception:  # a broken tick (a busy database) is retried on the next one
                continue


def describe(accounts: Accounts, schedule: dict[str, Any]) -> dict[str, Any]:
    """A schedule as listed: its definition and last run, with the queued run's outcome."""
    out = dict(schedule)
    result = schedule.get("last_result") or {}
    run_id = result.get("run") if isinstance(result, dict) else None
    if run_id:
        try:
            run = accounts.runs.get(str(run_id))
        except DocketError:
            run = None
        if run is not None:
            summary = run["summary"] or {}
            failures = run["status"] == "done" and summary.get("failed")
            out["last_status"] = "done with failures" if failures else run["status"]
            out["last_result"] = {
                "run": run_id,
                "ok": summary.get("ok"),
                "failed": len(summary.get("failed") or []),
            }
            out["last_error"] = run["error"] or schedule["last_error"]
    return out
