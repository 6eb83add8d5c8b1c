"""The scheduler, driven by an injected clock (``tick(now)``) over a real accounts database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

pytest.importorskip("croniter", reason="the server extra is not installed (pip install 'docket[server]')")

from docket.accounts import Accounts
from docket.errors import UserError
from docket.records import Records
from docket.server.scheduler import Scheduler, next_time

MONDAY_7 = datetime(2026, 11, 30, 7, 0).timestamp()  # a Monday, server local time
SUNDAY = datetime(2026, 11, 29, 12, 0).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def accounts(records: Records) -> Iterator[Accounts]:
    """Accounts on a SQLite file and on PostgreSQL: the scheduler behaves the same on both."""
    acc = Accounts(records)
    yield acc
    acc.close()


def _scheduler(accounts: Accounts, queued: list[dict[str, Any]], clock: Clock) -> Scheduler:
    def queue(schedule: dict[str, Any]) -> dict[str, Any]:
        queued.append(schedule)
        return {"id": f"run-{len(queued)}"}

    return Scheduler(accounts, queue, clock=clock)


def test_a_schedule_queues_one_run_when_due_and_not_before(accounts: Accounts) -> None:
    clock, queued = Clock(SUNDAY), []  # type: ignore[var-annotated]
    scheduler = _scheduler(accounts, queued, clock)
    added = scheduler.add_schedule("weekly", "0 7 * * 1", workflow="report", input="/data/sales.csv")
    assert added["next_run"] == MONDAY_7
    assert scheduler.tick(MONDAY_7 - 1) == [] and queued == []
    assert scheduler.tick(MONDAY_7) == ["weekly"]
    assert [q["name"] for q in queued] == ["weekly"] and queued[0]["input"] == "/data/sales.csv"
    stored = accounts.schedules.get("weekly")
    assert stored["last_run"] == MONDAY_7 and stored["last_status"] == "ok"
    assert stored["last_result"] == {"run": "run-1"} and stored["next_run"] == MONDAY_7 + 7 * 86400
    assert scheduler.tick(MONDAY_7 + 60) == []  # done for this week


def test_missed_times_run_once_not_once_each(accounts: Accounts) -> None:
    clock, queued = Clock(SUNDAY), []  # type: ignore[var-annotated]
    scheduler = _scheduler(accounts, queued, clock)
    scheduler.add_schedule("hourly", "0 * * * *", workflow="report", input="x")
    later = SUNDAY + 5 * 3600 + 60  # the server was down for five hours
    assert scheduler.tick(later) == ["hourly"] and len(queued) == 1
    assert accounts.schedules.get("hourly")["next_run"] == next_time("0 * * * *", later)


def test_a_failure_to_queue_is_recorded_as_the_last_error(accounts: Accounts) -> None:
    def broken(schedule: dict[str, Any]) -> dict[str, Any]:
        raise UserError("no input '/data/gone.csv': give a file or folder on the server")

    scheduler = Scheduler(accounts, broken, clock=Clock(SUNDAY))
    scheduler.add_schedule("weekly", "0 7 * * 1", workflow="report", input="/data/gone.csv")
    assert scheduler.tick(MONDAY_7) == ["weekly"]
    stored = accounts.schedules.get("weekly")
    assert stored["last_status"] == "failed" and "gone.csv" in stored["last_error"]
    assert stored["next_run"] == MONDAY_7 + 7 * 86400  # it is tried again next week


def test_periodic_jobs_have_the_same_bookkeeping(accounts: Accounts) -> None:
    calls: list[str] = []

    def sync() -> dict[str, Any]:
        calls.append("sync")
        if len(calls) == 2:
            raise RuntimeError("mailbox unreachable")
        return {"added": 3}

    scheduler = Scheduler(accounts, clock=Clock(SUNDAY))
    scheduler.add_periodic("mail-sync", "*/15 * * * *", sync)
    first = accounts.schedules.get("mail-sync")["next_run"]
    assert first == next_time("*/15 * * * *", SUNDAY)
    assert scheduler.tick(first) == ["mail-sync"]
    stored = accounts.schedules.get("mail-sync")
    assert stored["kind"] == "periodic" and stored["last_result"] == {"added": 3} and stored["last_error"] is None
    assert scheduler.tick(first + 15 * 60) == ["mail-sync"]
    stored = accounts.schedules.get("mail-sync")
    assert stored["last_status"] == "failed" and stored["last_error"] == "RuntimeError: mailbox unreachable"
    assert stored["next_run"] == first + 30 * 60
    assert calls == ["sync", "sync"]


def test_registering_a_periodic_job_again_keeps_its_history(accounts: Accounts) -> None:
    first = Scheduler(accounts, clock=Clock(SUNDAY))
    first.add_periodic("mail-sync", "0 * * * *", lambda: {"added": 1})
    first.tick(SUNDAY + 3600)
    again = Scheduler(accounts, clock=Clock(SUNDAY + 3700))  # the server restarted
    again.add_periodic("mail-sync", "0 * * * *", lambda: {"added": 2})
    stored = accounts.schedules.get("mail-sync")
    assert stored["last_result"] == {"added": 1} and stored["next_run"] == SUNDAY + 2 * 3600
    listed = {s["name"]: s for s in again.listing()}
    assert listed["mail-sync"]["registered"] is True


def test_a_periodic_job_not_registered_in_this_server_is_left_alone(accounts: Accounts) -> None:
    Scheduler(accounts, clock=Clock(SUNDAY)).add_periodic("old-sync", "0 * * * *", lambda: {})
    other = Scheduler(accounts, clock=Clock(SUNDAY))
    assert other.tick(SUNDAY + 7200) == []
    assert other.listing()[0]["registered"] is False


@pytest.mark.parametrize("cron", ["every monday", "0 7 * *", "61 * * * *", "0 7 * * 1 2024"])
def test_a_bad_cron_expression_says_how_to_write_one(accounts: Accounts, cron: str) -> None:
    scheduler = Scheduler(accounts, clock=Clock(SUNDAY))
    with pytest.raises(UserError, match="minute hour day-of-month month weekday"):
        scheduler.add_schedule("bad", cron, workflow="report", input="x")
    with pytest.raises(UserError, match="is not a cron expression"):
        scheduler.add_periodic("bad", cron, lambda: {})


def test_a_schedule_name_is_unique(accounts: Accounts) -> None:
    scheduler = Scheduler(accounts, clock=Clock(SUNDAY))
    scheduler.add_schedule("weekly", "0 7 * * 1", workflow="report", input="x")
    with pytest.raises(UserError, match="exists already"):
        scheduler.add_schedule("weekly", "0 8 * * 1", workflow="report", input="x")
    with pytest.raises(UserError, match="workflow schedule"):
        scheduler.add_periodic("weekly", "0 8 * * 1", lambda: {})


def test_two_servers_on_one_database_run_a_due_schedule_once(records: Records) -> None:
    first, second = Accounts(records), Accounts(records)
    queued: list[dict[str, Any]] = []
    clock = Clock(SUNDAY)
    _scheduler(first, queued, clock).add_schedule("weekly", "0 7 * * 1", workflow="summarize", input="/in")
    a, b = _scheduler(first, queued, clock), _scheduler(second, queued, clock)
    stale = second.schedules.all()  # what the second server read before the first one ran it
    a.tick(MONDAY_7)
    assert b._record(stale[0], MONDAY_7, lambda: {"ran": True}) is False
    assert len(queued) == 1 and b.tick(MONDAY_7) == []
