"""The server's accounts on both record backends (a SQLite file, a real PostgreSQL): the same
behaviour on each; their jobs and runs claimed through docket.work's lease queue as the server's
runners do, and on PostgreSQL a run another server is doing left alone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytest.importorskip("argon2", reason="the server extra is not installed (pip install 'docket[server]')")

from docket.accounts import Accounts
from docket.errors import NotFoundError, UserError
from docket.records import Records
from docket.server.jobs import JOBS
from docket.server.runs import RUNS
from docket.work import LeaseQueue, Table


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


def _queue(accounts: Accounts, table: Table) -> LeaseQueue:
    """The lease queue a server's runner claims ``table``'s items from (docket.server.background)."""
    return LeaseQueue(accounts.db, table, lease_seconds=accounts.lease_seconds)


def test_jobs_runs_and_hooks(accounts: Accounts) -> None:
    accounts.workspaces.create("support")
    jobs = _queue(accounts, JOBS)
    first = accounts.jobs.create("support", None, ["a.txt"])
    second = accounts.jobs.create("support", None, ["b.txt"])
    assert second > first
    assert jobs.claim() == first  # oldest first
    assert accounts.jobs.get(first)["state"] == "running"
    jobs.finish(first, "disk full", report=None)
    assert (accounts.jobs.get(first)["state"], accounts.jobs.get(first)["error"]) == ("failed", "disk full")
    accounts.jobs.retry(first)  # queued again by hand, still older than the second
    assert jobs.claim() == first
    jobs.finish(first, report=json.dumps({"added": 1}))
    assert accounts.jobs.get(first)["report"] == {"added": 1} and accounts.jobs.get(first)["error"] is None
    assert [j["id"] for j in accounts.jobs.recent(["support"])] == [second, first]

    runs = _queue(accounts, RUNS)
    accounts.runs.create("r1", "summarize", "support", None, {}, "api", {"text": "hi"}, {})
    accounts.runs.create("r2", "summarize", None, None, {}, "api", {"text": "ho"}, {})
    assert runs.claim() == "r1" and accounts.runs.get("r1")["status"] == "running"  # in creation order
    assert runs.claim() == "r2"
    assert {r["id"] for r in accounts.runs.recent(None)} == {"r1", "r2"}

    hook_id, token = accounts.hooks.create("summarize", "support", "crm")
    assert accounts.hooks.by_token(token)["id"] == hook_id  # type: ignore[index]
    accounts.hooks.remove(hook_id)
    with pytest.raises(NotFoundError):
        accounts.hooks.remove(hook_id)


# ---------------------------------------------------------------------- several servers, one PostgreSQL
# (a job claimed once across servers, a live server's job never taken on another's start and a lapsed
# one taken over: tests/server/test_background.py and tests/work/test_queue.py)


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
    live_runs, other_runs = _queue(live, RUNS), _queue(other, RUNS)
    live.runs.create("now", "summarize", None, None, {}, "api", {"text": "a"}, {}, status="running")  # ?wait=true
    assert live_runs.lease("now")  # as WorkflowRunner.submit leases it from the start
    live.runs.create("queued", "summarize", None, None, {}, "api", {"text": "b"}, {})
    assert live_runs.claim() == "queued"
    assert other_runs.requeue_interrupted() == 0 and other_runs.claim() is None
    live.db.execute("UPDATE workflow_runs SET lease_until = lease_until - 3600")  # the live server stopped
    assert other_runs.requeue_interrupted() == 2
    assert [other_runs.claim(), other_runs.claim()] == ["now", "queued"]  # in creation order
    live.close()
    other.close()


def test_a_keys_last_use_is_written_once_a_minute_not_on_every_request(accounts: Accounts) -> None:
    from docket.accounts.keys import LAST_USED_EVERY

    ann = accounts.users.create("ann@example.com", "ann-password")
    key_id, key = accounts.keys.create(ann.id)

    def last_used() -> float | None:
        return next(k["last_used"] for k in accounts.keys.all() if k["id"] == key_id)

    assert last_used() is None
    accounts.principal_for_key(key)
    first = last_used()
    assert first is not None
    accounts.principal_for_key(key)
    assert last_used() == first  # a second request within the minute writes nothing
    accounts.db.execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (first - LAST_USED_EVERY, key_id))
    accounts.principal_for_key(key)
    assert last_used() is not None and last_used() >= first  # a minute on: written again
