"""The server's queues of upload jobs and workflow runs on docket.work's lease queue: the same
rows the API lists, claimed once across servers, never taken from a live server."""

from __future__ import annotations

from typing import Any

from docket.accounts import Accounts
from docket.config import load_settings
from docket.records import Records
from docket.server.jobs import JobRunner
from docket.server.runs import WorkflowRunner


def _runner(kind: type[Any], accounts: Accounts, tmp_path: Any) -> Any:
    return kind(None, accounts, load_settings(home=tmp_path / "kb"))  # the queue needs no knowledge base


def test_upload_jobs_are_claimed_in_order_and_a_restart_requeues_them_on_sqlite(tmp_path: Any) -> None:
    accounts = Accounts(tmp_path / "accounts.db")
    runner = _runner(JobRunner, accounts, tmp_path)
    first = accounts.jobs.create("default", None, ["a.txt"])
    second = accounts.jobs.create("default", None, ["b.txt"])
    job = runner.claim()
    assert job["id"] == first and accounts.jobs.get(first)["state"] == "running"
    runner.queue.progress(first, {"done": 1, "total": 1, "file": "a.txt", "eta_seconds": 0})
    assert accounts.jobs.get(first)["progress"]["file"] == "a.txt"
    runner.requeue()  # the server restarted: its own running job goes back to the queue
    assert [runner.claim()["id"], runner.claim()["id"]] == [first, second]
    runner.queue.finish(first, report='{"added": 1}')
    runner.queue.finish(second, "disk full", report=None)
    assert accounts.jobs.get(first)["report"] == {"added": 1} and accounts.jobs.get(first)["state"] == "done"
    assert (accounts.jobs.get(second)["state"], accounts.jobs.get(second)["error"]) == ("failed", "disk full")
    accounts.close()


def test_a_restarting_server_never_takes_a_live_servers_job_or_run(pg_url: str, tmp_path: Any) -> None:
    live, other = Accounts(Records.postgres(pg_url)), Accounts(Records.postgres(pg_url))
    job_id = live.jobs.create("default", None, ["a.txt"])
    live.runs.create("r1", "summarize", None, None, {}, "api", {"text": "a"}, {})
    live_jobs, other_jobs = _runner(JobRunner, live, tmp_path), _runner(JobRunner, other, tmp_path)
    live_runs, other_runs = _runner(WorkflowRunner, live, tmp_path), _runner(WorkflowRunner, other, tmp_path)
    assert live_jobs.claim()["id"] == job_id and live_runs.claim()["id"] == "r1"
    other_jobs.requeue()
    other_runs.requeue()
    assert other_jobs.claim() is None and other_runs.claim() is None
    live.db.execute("UPDATE jobs SET lease_until = lease_until - 3600")  # the live server stopped
    live.db.execute("UPDATE workflow_runs SET lease_until = lease_until - 3600")
    assert other_jobs.claim()["id"] == job_id and other_runs.claim()["id"] == "r1"  # a lapsed lease is taken over
    assert other_jobs.queue.renew(job_id) and other_runs.queue.renew("r1")  # and renewed by its new server
    assert live_jobs.claim() is None and live_runs.claim() is None
    live.close()
    other.close()
