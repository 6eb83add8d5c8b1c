"""The server's accounts on both record backends (a SQLite file, a real PostgreSQL): the same
behaviour on each, plus the job queue several servers share on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("argon2", reason="the server extra is not installed (pip install 'docket[server]')")

from docket.accounts import Accounts
from docket.errors import NotFoundError, UserError
from docket.records import Records


@pytest.fixture
def accounts(records: Records) -> Iterator[Accounts]:
    acc = Accounts(records)
    yield acc
    acc.close()


def test_users_sign_in_by_email_in_any_case(accounts: Accounts) -> None:
    owner = accounts.users.create("Owner@Example.com", "owner-password", "owner", name="Olga")
    assert accounts.users.count() == 1
    assert accounts.users.by_email("owner@example.com").id == owner.id
    assert accounts.users.verify_password("OWNER@example.com", "owner-password") == owner
    assert accounts.users.verify_password("owner@example.com", "wrong-password") is None
    with pytest.raises(UserError, match="exists already"):
        accounts.users.create("owner@EXAMPLE.com", "other-password")
    accounts.users.update(owner.id, disabled=True)
    assert accounts.users.verify_password("owner@example.com", "owner-password") is None


def test_sessions_keys_and_their_revocation(accounts: Accounts) -> None:
    ann = accounts.users.create("ann@example.com", "ann-password")
    token, csrf = accounts.users.create_session(ann.id)
    found = accounts.users.session(token)
    assert found is not None and found[0].id == ann.id and found[1] == csrf
    accounts.users.end_session(token)
    assert accounts.users.session(token) is None

    accounts.workspaces.create("support")
    key_id, key = accounts.keys.create(ann.id, ["support"], name="bot")
    owner = accounts.keys.owner(key)
    assert owner is not None and owner[0].id == ann.id and owner[1] == ("support",) and owner[2] == key_id
    assert [k["name"] for k in accounts.keys.all(ann.id)] == ["bot"]
    accounts.keys.revoke(key_id)
    assert accounts.keys.owner(key) is None


def test_workspaces_groups_and_members(accounts: Accounts) -> None:
    ann = accounts.users.create("ann@example.com", "ann-password")
    accounts.workspaces.create("support", public=True, settings={"model": "m"})
    accounts.workspaces.create("hr")
    accounts.workspaces.add_member("support", ann.id, "member")
    accounts.workspaces.add_member("support", ann.id, "editor")  # a second time changes the role
    accounts.groups.create("leads")
    accounts.groups.create("leads")  # creating again is harmless
    accounts.groups.add("leads", ann.id)
    accounts.groups.add("leads", ann.id)
    assert accounts.workspaces.memberships(ann.id) == {"support": "editor"}
    assert accounts.workspaces.public() == ["support"]
    assert accounts.workspaces.get("support")["settings"] == {"model": "m"}
    assert accounts.groups.all() == {"leads": ["ann@example.com"]}
    assert accounts.groups.of(ann.id) == ("leads",)
    accounts.workspaces.delete("support")
    assert accounts.workspaces.memberships(ann.id) == {} and accounts.workspaces.names() == ["hr"]
    with pytest.raises(NotFoundError):
        accounts.workspaces.get("support")


def test_answers_and_conversations_belong_to_a_user_or_to_nobody(accounts: Accounts) -> None:
    ann = accounts.users.create("ann@example.com", "ann-password")
    accounts.answers.record(1, ann.id, ["support"], "api")
    accounts.answers.record(2, None, None, "widget")
    accounts.answers.record(1, ann.id, ["hr"], "api")  # recorded again: replaced
    assert accounts.answers.owner(1) == (ann.id, ["hr"])
    assert accounts.answers.of(ann.id) == [1] and accounts.answers.of(None) == [2]
    accounts.answers.claim_conversation("c1", ann.id, "support")
    accounts.answers.claim_conversation("c1", None, None)  # the first claim stays
    accounts.answers.claim_conversation("c2", None, None)
    assert accounts.answers.conversation_owner("c1") == (ann.id, "support")
    assert accounts.answers.conversations_of(ann.id) == ["c1"] and accounts.answers.conversations_of(None) == ["c2"]
    assert accounts.answers.add_feedback(ann.id, 1, -1, "wrong") > 0
    assert [f["rating"] for f in accounts.answers.feedback([1])] == [-1]
    accounts.audit.record("ann@example.com", "signed in")
    assert accounts.audit.log()[0]["action"] == "signed in"


def test_jobs_runs_and_hooks(accounts: Accounts) -> None:
    accounts.workspaces.create("support")
    first = accounts.jobs.create("support", None, ["a.txt"])
    second = accounts.jobs.create("support", None, ["b.txt"])
    assert second > first
    job = accounts.jobs.claim_next()
    assert job is not None and job["id"] == first and job["state"] == "running"
    accounts.jobs.finish(first, {"added": 1})
    assert accounts.jobs.get(first)["report"] == {"added": 1}
    assert [j["id"] for j in accounts.jobs.recent(["support"])] == [second, first]

    accounts.runs.create("r1", "summarize", "support", None, {}, "api", {"text": "hi"}, {})
    accounts.runs.create("r2", "summarize", None, None, {}, "api", {"text": "ho"}, {})
    run = accounts.runs.claim_next()
    assert run is not None and run["id"] == "r1" and run["status"] == "running"
    assert {r["id"] for r in accounts.runs.recent(None)} == {"r1", "r2"}

    hook_id, token = accounts.hooks.create("summarize", "support", "crm")
    assert accounts.hooks.by_token(token)["id"] == hook_id  # type: ignore[index]
    accounts.hooks.remove(hook_id)
    with pytest.raises(NotFoundError):
        accounts.hooks.remove(hook_id)


def test_a_restarted_sqlite_server_requeues_its_running_jobs(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "accounts.db")
    job_id = accounts.jobs.create("default", None, ["a.txt"])
    assert accounts.jobs.claim_next() is not None
    assert accounts.jobs.requeue_interrupted() == 1
    assert accounts.jobs.get(job_id)["state"] == "queued"
    accounts.close()


# ---------------------------------------------------------------------- several servers, one PostgreSQL


def test_servers_sharing_postgres_claim_each_job_exactly_once(pg_url: str) -> None:
    servers = [Accounts(Records.postgres(pg_url)) for _ in range(2)]
    ids = [servers[0].jobs.create("default", None, [f"{n}.txt"]) for n in range(30)]
    claimed: list[list[int]] = [[], [], [], []]

    def drain(accounts: Accounts, into: list[int]) -> None:
        while (job := accounts.jobs.claim_next()) is not None:
            into.append(job["id"])
            accounts.jobs.finish(job["id"], {})

    threads = [threading.Thread(target=drain, args=(servers[n % 2], claimed[n])) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [job_id for part in claimed for job_id in part]
    assert sorted(everything) == ids  # each exactly once
    for accounts in servers:
        accounts.close()


def test_a_job_whose_server_stopped_is_taken_over_once_its_lease_ran_out(pg_url: str) -> None:
    live, other = Accounts(Records.postgres(pg_url)), Accounts(Records.postgres(pg_url))
    job_id = live.jobs.create("default", None, ["a.txt"])
    assert live.jobs.claim_next() is not None
    assert other.jobs.requeue_interrupted() == 0  # a live server's job is left alone on another's start
    assert other.jobs.claim_next() is None
    live.db.execute("UPDATE jobs SET lease_until = lease_until - 3600 WHERE id = ?", (job_id,))  # it stopped
    taken = other.jobs.claim_next()
    assert taken is not None and taken["id"] == job_id
    other.jobs.renew(job_id)
    assert live.jobs.claim_next() is None
    live.close()
    other.close()


def test_the_postgres_records_live_in_their_own_schema(pg_url: str) -> None:
    import psycopg

    Accounts(Records.postgres(pg_url)).close()
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'docket_server'")}
        version = conn.execute("SELECT value FROM docket_server.meta WHERE key = 'accounts_version'").fetchone()
        public = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"users", "sessions", "api_keys", "jobs", "workflow_runs", "conversations"} <= tables
    assert version == ("1",)
    assert "jobs" not in public and "users" not in public


def test_a_run_another_server_is_doing_is_not_requeued_or_taken(pg_url: str) -> None:
    live, other = Accounts(Records.postgres(pg_url)), Accounts(Records.postgres(pg_url))
    live.runs.create("now", "summarize", None, None, {}, "api", {"text": "a"}, {}, status="running")  # ?wait=true
    live.runs.create("queued", "summarize", None, None, {}, "api", {"text": "b"}, {})
    taken = live.runs.claim_next()
    assert taken is not None and taken["id"] == "queued"
    assert other.runs.requeue_interrupted() == 0 and other.runs.claim_next() is None
    live.db.execute("UPDATE workflow_runs SET lease_until = lease_until - 3600")  # the live server stopped
    assert other.runs.requeue_interrupted() == 2
    assert {other.runs.claim_next()["id"], other.runs.claim_next()["id"]} == {"now", "queued"}  # type: ignore[index]
    live.close()
    other.close()


def test_a_lease_is_renewed_while_the_work_runs_and_no_longer_after() -> None:
    from docket.server.background import renewing

    beats = threading.Semaphore(0)
    with renewing(beats.release, 0.01):
        assert beats.acquire(timeout=10) and beats.acquire(timeout=10)  # it beats, again and again
    while beats.acquire(blocking=False):
        pass
    assert not beats.acquire(timeout=0.05)  # stopped with the block
    with renewing(None, 0.01):
        pass  # nothing to renew on one server's SQLite file


def test_a_budget_check_reads_only_the_days_total_while_it_is_under_the_budget(tmp_path: Path) -> None:
    from docket.errors import BudgetExceededError

    accounts = Accounts(tmp_path / "accounts.db")
    accounts.workspaces.create("hr", settings={"daily_budget": 1.0})
    accounts.workspaces.create("sales")

    class Log:
        def __init__(self, records: list[dict[str, Any]]) -> None:
            self.records, self.pages = records, 0

        def spent_since(self, timestamp: float) -> float:
            return sum(r["cost"] for r in self.records if r["at"] >= timestamp)

        def answer_logs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
            self.pages += 1
            return self.records[offset : offset + limit]

    now = time.time()
    cheap = Log([{"id": 1, "at": now, "cost": 0.5}])
    accounts.budgets.check("hr", cheap)
    assert cheap.pages == 0  # under the budget in all: no answer was read
    accounts.budgets.check("sales", cheap)  # no budget at all
    spent_elsewhere = Log([{"id": 2, "at": now, "cost": 5.0}, {"id": 1, "at": now, "cost": 0.5}])
    accounts.answers.record(2, None, ["sales"], "api")
    accounts.answers.record(1, None, ["hr"], "api")
    accounts.budgets.check("hr", spent_elsewhere)  # another workspace's spending does not count
    accounts.answers.record(2, None, ["hr"], "api")
    with pytest.raises(BudgetExceededError, match=r"daily model budget of \$1\.00"):
        accounts.budgets.check("hr", spent_elsewhere)
    accounts.close()
