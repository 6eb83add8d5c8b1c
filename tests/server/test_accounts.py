"""The server's accounts on both record backends (a SQLite file, a real PostgreSQL): the same
behaviour on each, plus the job queue several servers share on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("argon2", reason="the server extra is not installed (pip install 'docket[server]')")

from docket.errors import NotFoundError, UserError
from docket.records import Records
from docket.server.accounts import Accounts


@pytest.fixture
def accounts(records: Records) -> Iterator[Accounts]:
    acc = Accounts(records)
    yield acc
    acc.close()


def test_users_sign_in_by_email_in_any_case(accounts: Accounts) -> None:
    owner = accounts.create_user("Owner@Example.com", "owner-password", "owner", name="Olga")
    assert accounts.user_count() == 1
    assert accounts.user_by_email("owner@example.com").id == owner.id
    assert accounts.verify_password("OWNER@example.com", "owner-password") == owner
    assert accounts.verify_password("owner@example.com", "wrong-password") is None
    with pytest.raises(UserError, match="exists already"):
        accounts.create_user("owner@EXAMPLE.com", "other-password")
    accounts.update_user(owner.id, disabled=True)
    assert accounts.verify_password("owner@example.com", "owner-password") is None


def test_sessions_keys_and_their_revocation(accounts: Accounts) -> None:
    ann = accounts.create_user("ann@example.com", "ann-password")
    token, csrf = accounts.create_session(ann.id)
    found = accounts.session(token)
    assert found is not None and found[0].id == ann.id and found[1] == csrf
    accounts.end_session(token)
    assert accounts.session(token) is None

    accounts.create_workspace("support")
    key_id, key = accounts.create_key(ann.id, ["support"], name="bot")
    owner = accounts.key_owner(key)
    assert owner is not None and owner[0].id == ann.id and owner[1] == ("support",) and owner[2] == key_id
    assert [k["name"] for k in accounts.keys(ann.id)] == ["bot"]
    accounts.revoke_key(key_id)
    assert accounts.key_owner(key) is None


def test_workspaces_groups_and_members(accounts: Accounts) -> None:
    ann = accounts.create_user("ann@example.com", "ann-password")
    accounts.create_workspace("support", public=True, settings={"model": "m"})
    accounts.create_workspace("hr")
    accounts.add_member("support", ann.id, "member")
    accounts.add_member("support", ann.id, "editor")  # a second time changes the role
    accounts.create_group("leads")
    accounts.create_group("leads")  # creating again is harmless
    accounts.add_to_group("leads", ann.id)
    accounts.add_to_group("leads", ann.id)
    assert accounts.memberships(ann.id) == {"support": "editor"}
    assert accounts.public_workspaces() == ["support"]
    assert accounts.workspace("support")["settings"] == {"model": "m"}
    assert accounts.groups() == {"leads": ["ann@example.com"]}
    assert accounts.groups_of(ann.id) == ("leads",)
    accounts.delete_workspace("support")
    assert accounts.memberships(ann.id) == {} and accounts.workspace_names() == ["hr"]
    with pytest.raises(NotFoundError):
        accounts.workspace("support")


def test_answers_and_conversations_belong_to_a_user_or_to_nobody(accounts: Accounts) -> None:
    ann = accounts.create_user("ann@example.com", "ann-password")
    accounts.record_answer(1, ann.id, ["support"], "api")
    accounts.record_answer(2, None, None, "widget")
    accounts.record_answer(1, ann.id, ["hr"], "api")  # recorded again: replaced
    assert accounts.answer_owner(1) == (ann.id, ["hr"])
    assert accounts.answers_of(ann.id) == [1] and accounts.answers_of(None) == [2]
    accounts.claim_conversation("c1", ann.id, "support")
    accounts.claim_conversation("c1", None, None)  # the first claim stays
    accounts.claim_conversation("c2", None, None)
    assert accounts.conversation_owner("c1") == (ann.id, "support")
    assert accounts.conversations_of(ann.id) == ["c1"] and accounts.conversations_of(None) == ["c2"]
    assert accounts.add_feedback(ann.id, 1, -1, "wrong") > 0
    assert [f["rating"] for f in accounts.feedback([1])] == [-1]
    accounts.audit("ann@example.com", "signed in")
    assert accounts.audit_log()[0]["action"] == "signed in"


def test_jobs_runs_and_hooks(accounts: Accounts) -> None:
    accounts.create_workspace("support")
    first = accounts.create_job("support", None, ["a.txt"])
    second = accounts.create_job("support", None, ["b.txt"])
    assert second > first
    job = accounts.next_job()
    assert job is not None and job["id"] == first and job["state"] == "running"
    accounts.finish_job(first, {"added": 1})
    assert accounts.job(first)["report"] == {"added": 1}
    assert [j["id"] for j in accounts.jobs(["support"])] == [second, first]

    accounts.create_run("r1", "summarize", "support", None, {}, "api", {"text": "hi"}, {})
    accounts.create_run("r2", "summarize", None, None, {}, "api", {"text": "ho"}, {})
    run = accounts.next_run()
    assert run is not None and run["id"] == "r1" and run["status"] == "running"
    assert {r["id"] for r in accounts.runs(None)} == {"r1", "r2"}

    hook_id, token = accounts.create_hook("summarize", "support", "crm")
    assert accounts.hook_by_token(token)["id"] == hook_id  # type: ignore[index]
    accounts.remove_hook(hook_id)
    with pytest.raises(NotFoundError):
        accounts.remove_hook(hook_id)


def test_a_restarted_sqlite_server_requeues_its_running_jobs(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "accounts.db")
    job_id = accounts.create_job("default", None, ["a.txt"])
    assert accounts.next_job() is not None
    assert accounts.requeue_interrupted() == 1
    assert accounts.job(job_id)["state"] == "queued"
    accounts.close()


# ---------------------------------------------------------------------- several servers, one PostgreSQL


def test_servers_sharing_postgres_claim_each_job_exactly_once(pg_url: str) -> None:
    servers = [Accounts(Records.postgres(pg_url)) for _ in range(2)]
    ids = [servers[0].create_job("default", None, [f"{n}.txt"]) for n in range(30)]
    claimed: list[list[int]] = [[], [], [], []]

    def drain(accounts: Accounts, into: list[int]) -> None:
        while (job := accounts.next_job()) is not None:
            into.append(job["id"])
            accounts.finish_job(job["id"], {})

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
    job_id = live.create_job("default", None, ["a.txt"])
    assert live.next_job() is not None
    assert other.requeue_interrupted() == 0  # a live server's job is left alone on another's start
    assert other.next_job() is None
    live.db.execute("UPDATE jobs SET lease_until = lease_until - 3600 WHERE id = ?", (job_id,))  # it stopped
    taken = other.next_job()
    assert taken is not None and taken["id"] == job_id
    other.renew_job(job_id)
    assert live.next_job() is None
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
    live.create_run("now", "summarize", None, None, {}, "api", {"text": "a"}, {}, status="running")  # ?wait=true
    live.create_run("queued", "summarize", None, None, {}, "api", {"text": "b"}, {})
    taken = live.next_run()
    assert taken is not None and taken["id"] == "queued"
    assert other.requeue_interrupted_runs() == 0 and other.next_run() is None
    live.db.execute("UPDATE workflow_runs SET lease_until = lease_until - 3600")  # the live server stopped
    assert other.requeue_interrupted_runs() == 2
    assert {other.next_run()["id"], other.next_run()["id"]} == {"now", "queued"}  # type: ignore[index]
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
