"""`docket enqueue` / `docket worker`: the ingestion queue in a real PostgreSQL, workers killed mid-run."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.config import load_settings
from docket.index.postgres.queue import queue_status
from docket.ingest.queue import Job, JobQueue, claim_jobs, enqueue
from docket.ingest.worker import WorkerReport
from tests.cli.conftest import docket
from tests.postgres import PgServer

WORDS = (
    "leave policy travel expense laptop security onboarding review salary benefit remote office holiday "
    "training budget vendor contract privacy incident backup password meeting report quarterly team"
).split()


@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")  # the queue is under test, not the model


def _corpus(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        paragraphs = [
            " ".join(WORDS[(i * 7 + p * 3 + w) % len(WORDS)] for w in range(40 + (i % 5) * 30)) + f" (file {i}, {p})."
            for p in range(1 + i % 4)
        ]
        (folder / f"part-{i // 50}" / f"note-{i:03d}.md").parent.mkdir(exist_ok=True)
        (folder / f"part-{i // 50}" / f"note-{i:03d}.md").write_text(
            f"# Note {i}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8"
        )
    return folder


def _until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout  # generous: a limit on waiting, not a speed assertion
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _worker(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "docket", "worker", "--home", str(home), "--lease-seconds", "2", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _chunk_counts(pg_server: PgServer, database: str) -> dict[str, int]:
    rows = pg_server.sql(
        "SELECT d.path, COUNT(c.id) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.path", database
    )
    return {path: int(n) for path, n in rows}


@pytest.fixture
def other_database(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database()
    try:
        yield name
    finally:
        pg_server.drop_database(name)


def test_three_workers_one_killed_index_every_file_exactly_once(
    pg_server: PgServer, pg_database: str, other_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _corpus(tmp_path / "corpus", 200)
    # The reference: an uninterrupted single-process ingest of the same corpus into another database.
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_server.url(other_database))
    docket("ingest", str(corpus), "--home", str(tmp_path / "reference"), "--json")
    expected = _chunk_counts(pg_server, other_database)
    assert len(expected) == 200

    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_server.url(pg_database))
    home = tmp_path / "kb"
    queued = json.loads(docket("enqueue", str(corpus), "--home", str(home), "--json").stdout)
    assert queued["queued"] == 200 and queued["waiting"] == 200

    def status(sql: str) -> int:
        return int(pg_server.sql(sql, pg_database)[0][0])

    victim = _worker(home, "--batch", "20")
    others = [_worker(home, "--batch", "4"), _worker(home, "--batch", "4")]
    try:

        def working(proc: subprocess.Popen[str], state: str) -> bool:
            return status(f"SELECT COUNT(*) FROM jobs WHERE {state} AND lease_owner LIKE '%:{proc.pid}:%'") > 0

        _until(lambda: all(working(p, "TRUE") for p in others), "the other workers to start")
        _until(lambda: working(victim, "status = 'leased'"), "the victim to hold leases")
        victim.send_signal(signal.SIGKILL)  # mid-job: its leases stay until they expire
        victim.communicate(timeout=60)
        held = status(f"SELECT COUNT(*) FROM jobs WHERE status = 'leased' AND lease_owner LIKE '%:{victim.pid}:%'")
        assert held > 0
        for proc in others:  # SIGTERM: finish the current file, hand back the rest, exit
            proc.send_signal(signal.SIGTERM)
        for proc in others:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert json.loads(out)["failed"] == 0
    finally:
        for proc in (victim, *others):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    drain = _worker(home, "--once")  # waits for the dead worker's leases to expire, then takes them over
    out, err = drain.communicate(timeout=300)
    assert drain.returncode == 0, err
    assert json.loads(out)["failed"] == 0

    assert status("SELECT COUNT(*) FROM documents") == 200
    assert status("SELECT COUNT(*) FROM (SELECT doc_id, ordinal FROM chunks GROUP BY 1, 2 HAVING COUNT(*) > 1) d") == 0
    assert _chunk_counts(pg_server, pg_database) == expected
    assert status("SELECT COUNT(*) FROM jobs WHERE status <> 'done'") == 0
    assert status("SELECT COUNT(*) FROM jobs WHERE attempts = 2") >= held  # the dead worker's tasks, taken over
    hits = json.loads(docket("search", "quarterly incident report", "--home", str(home), "--json").stdout)
    assert hits
    db = json.loads(docket("db", "status", "--home", str(home), "--json").stdout)
    assert db["queue"]["done"] == 200 and db["queue"]["leased"] == 0 and db["queue"]["queued"] == 0


def _queue_with_files(tmp_path: Path, url: str, n: int) -> tuple[JobQueue, dict[str, object]]:
    settings = load_settings(home=tmp_path / "kb", overrides={"store": {"url": url}})
    report = enqueue(settings, [str(_corpus(tmp_path / "docs", n))])
    return JobQueue(url), report


def _status(url: str) -> dict[str, Any]:
    """The queue as `docket db status` reports it."""
    import psycopg

    with psycopg.connect(url) as conn:
        return queue_status(conn)


def _claim(queue: JobQueue, owner: str, lease_seconds: float, max_attempts: int) -> list[Job]:
    return claim_jobs(queue.leases(owner, lease_seconds=lease_seconds, max_attempts=max_attempts), 10)


def test_an_expired_lease_makes_the_task_claimable_again(pg_url: str, tmp_path: Path) -> None:
    queue, _ = _queue_with_files(tmp_path, pg_url, 1)
    try:
        first = _claim(queue, "dead-worker", lease_seconds=0, max_attempts=3)  # expires at once
        assert len(first) == 1
        assert _claim(queue, "live-worker", lease_seconds=60, max_attempts=3) == [
            dataclasses.replace(first[0], attempts=2)
        ]
        assert _claim(queue, "third-worker", lease_seconds=60, max_attempts=3) == []  # a live lease is kept
        dead = queue.leases("dead-worker", lease_seconds=60, max_attempts=3)
        dead.finish_batch([first[0].id])  # the old owner can't finish it any more ...
        assert not dead.renew(first[0].id) and dead.release([first[0].id]) == 0  # ... renew or hand it back
        assert _status(pg_url)["leased"] == 1
    finally:
        queue.close()


def test_a_task_is_failed_with_the_reason_after_max_attempts(pg_url: str, tmp_path: Path) -> None:
    queue, _ = _queue_with_files(tmp_path, pg_url, 1)
    try:
        for attempt in (1, 2):
            (job,) = _claim(queue, f"worker-{attempt}", lease_seconds=0, max_attempts=2)
            assert job.attempts == attempt
        assert _claim(queue, "worker-3", lease_seconds=60, max_attempts=2) == []
        status = _status(pg_url)
        assert status["failed"] == 1 and status["leased"] == 0
        assert "lease expired" in status["latest_failures"][0]["error"]
    finally:
        queue.close()


def test_a_file_that_keeps_failing_is_failed_with_its_error(pg_url: str, tmp_path: Path) -> None:
    queue, _ = _queue_with_files(tmp_path, pg_url, 1)
    try:
        leases = queue.leases("w", lease_seconds=60, max_attempts=2)
        (job,) = claim_jobs(leases, 10)
        assert leases.fail(job.id, "cannot read the file: Permission denied") == "queued"
        (job,) = claim_jobs(leases, 10)  # at once: no backoff for the ingestion queue
        assert leases.fail(job.id, "cannot read the file: Permission denied") == "failed"
        assert _status(pg_url)["latest_failures"][0]["error"] == "cannot read the file: Permission denied"
    finally:
        queue.close()


def test_a_stopping_worker_hands_back_its_batch_without_spending_an_attempt(pg_url: str, tmp_path: Path) -> None:
    queue, _ = _queue_with_files(tmp_path, pg_url, 3)
    try:
        leases = queue.leases("w", lease_seconds=60, max_attempts=3)
        jobs = claim_jobs(leases, 10)
        assert [j.id for j in jobs] == sorted(j.id for j in jobs) and len(jobs) == 3  # one batch, oldest first
        assert leases.renew_batch([j.id for j in jobs]) == 3
        leases.finish_batch([jobs[0].id])
        assert leases.release([j.id for j in jobs[1:]]) == 2
        assert (_status(pg_url)["done"], _status(pg_url)["queued"]) == (1, 2)
        again = claim_jobs(queue.leases("v", lease_seconds=60, max_attempts=3), 10)
        assert [(j.id, j.attempts) for j in again] == [(j.id, 1) for j in jobs[1:]]
    finally:
        queue.close()


def test_enqueueing_twice_does_not_duplicate_tasks(pg_url: str, tmp_path: Path) -> None:
    queue, first = _queue_with_files(tmp_path, pg_url, 5)
    try:
        settings = load_settings(home=tmp_path / "kb", overrides={"store": {"url": pg_url}})
        second = enqueue(settings, [str(tmp_path / "docs")])
        assert first["queued"] == 5 and second["queued"] == 0 and second["waiting"] == 5
        assert _status(pg_url)["queued"] == 5
    finally:
        queue.close()


def test_a_worker_indexes_changes_and_deletions_and_unchanged_files_are_not_queued(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    docs, home = _corpus(tmp_path / "docs", 3), tmp_path / "kb"
    docket("enqueue", str(docs), "--home", str(home))
    done = json.loads(docket("worker", "--once", "--concurrency", "2", "--home", str(home), "--json").stdout)
    assert done["done"] == 3
    (docs / "part-0" / "note-000.md").unlink()
    (docs / "part-0" / "note-001.md").write_text("# Changed\n\nA new text about parental leave.\n", encoding="utf-8")
    queued = json.loads(docket("enqueue", str(docs), "--home", str(home), "--json").stdout)
    assert (queued["queued"], queued["deletions"], queued["unchanged"]) == (2, 1, 1)
    assert json.loads(docket("worker", "--once", "--home", str(home), "--json").stdout)["done"] == 2
    hits = json.loads(docket("search", "parental leave", "--home", str(home), "--json").stdout)
    assert [h["path"] for h in hits][:1] == ["part-0/note-001.md"]
    status = json.loads(docket("status", "--home", str(home), "--json").stdout)
    assert status["documents"] == 2


def test_an_unparsable_file_fails_its_task_with_the_reason(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    docs, home = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    docket("enqueue", str(docs), "--home", str(home))
    report = json.loads(docket("worker", "--once", "--home", str(home), "--json").stdout)
    assert report["failed"] == 1 and report["errors"][0]["path"] == "broken.pdf"
    db = docket("db", "status", "--home", str(home)).stdout
    assert "1 failed" in db and "broken.pdf" in db


def test_a_file_that_failed_is_not_queued_or_parsed_again_until_it_changes(pg_url: str, tmp_path: Path) -> None:
    from docket.ingest.sandbox import Sandbox, limits_from_settings
    from docket.ingest.worker import Worker
    from docket.kb import KnowledgeBase

    settings = load_settings(home=tmp_path / "kb", overrides={"store": {"url": pg_url}})
    limits = limits_from_settings(settings.ingest)
    docs = tmp_path / "docs"
    docs.mkdir()
    broken = docs / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 broken")
    (docs / "notes.md").write_text("# Notes\n\nShipping is free above fifty euros.\n", encoding="utf-8")
    sandbox = Sandbox(timeout=settings.ingest.parse_timeout, memory_mb=settings.ingest.parse_memory_mb, limits=limits)
    with KnowledgeBase(settings) as kb, sandbox:
        queue = JobQueue(pg_url)

        def work() -> WorkerReport:
            worker = Worker(settings, kb.store, kb.embedder, queue, sandbox=sandbox, limits=limits, listen=False)
            return worker.run(once=True)

        try:
            assert enqueue(settings, [str(docs)])["queued"] == 2
            first = work()
            assert first.done == 1 and [e["path"] for e in first.errors] == ["broken.pdf"] and sandbox.parsed == 2
            reason = first.errors[0]["error"]
            again = enqueue(settings, [str(docs)])  # the same settings as the worker's: not queued at all
            assert (again["queued"], again["unchanged"], again["failed_before"]) == (0, 1, 1)

            later = time.time() + 60
            os.utime(broken, (later, later))  # touched: queued (only reading it tells), not parsed
            assert enqueue(settings, [str(docs)])["queued"] == 1
            touched = work()
            assert [(f["path"], f["error"]) for f in touched.failed_before] == [("broken.pdf", reason)]
            assert sandbox.parsed == 2 and [f["path"] for f in kb.ledger.failures()] == ["broken.pdf"]
            assert enqueue(settings, [str(docs)])["failed_before"] == 1  # its new time is remembered

            assert enqueue(settings, [str(docs)], retry_failed=True)["queued"] == 1  # asked for: parsed again
            assert work().failed == 1 and sandbox.parsed == 3

            broken.write_bytes(b"%PDF-1.7 changed, still broken")
            assert enqueue(settings, [str(docs)])["queued"] == 1
            assert work().failed == 1 and sandbox.parsed == 4
        finally:
            queue.close()


def test_the_queue_needs_a_postgresql_store(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for args in (("enqueue", str(tmp_path / "docs")), ("worker", "--once")):
        proc = docket(*args, "--home", str(tmp_path / "kb"), check=False)
        assert proc.returncode == 2
        message = " ".join(proc.stderr.split())
        assert "needs a PostgreSQL store" in message and "DOCKET_DATABASE_URL" in message
    assert not (tmp_path / "kb" / "docket.db").exists()  # nothing was indexed on the way


def test_a_version_1_database_gets_the_queue_from_db_upgrade(
    pg_server: PgServer, pg_database: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    home = tmp_path / "kb"
    docket("db", "status", "--home", str(home))
    pg_server.sql(
        "DROP TABLE jobs; DROP TABLE sentences; UPDATE meta SET value = '1' WHERE key = 'schema_version'; "
        "ALTER TABLE failures DROP COLUMN size, DROP COLUMN mtime, DROP COLUMN content_hash, "
        "DROP COLUMN docket_version, DROP COLUMN tried_with; "
        "INSERT INTO failures VALUES ('src', 'bad.pdf', 'encrypted PDF', 1.0)",
        pg_database,
    )
    proc = docket("worker", "--once", "--home", str(home), check=False)
    assert proc.returncode == 1 and "docket db upgrade" in proc.stderr
    upgraded = json.loads(docket("db", "upgrade", "--home", str(home), "--json").stdout)
    assert upgraded == {"backend": "postgres", "from_version": 1, "to_version": 6}
    status = json.loads(docket("status", "--home", str(home), "--json").stdout)
    assert [(f["path"], f["attempt"]) for f in status["failed"]] == [("bad.pdf", None)]  # kept, tried again
    assert json.loads(docket("worker", "--once", "--home", str(home), "--json").stdout)["done"] == 0


# ---------------------------------------------------------------------------------------------- tables
def test_a_worker_loads_spreadsheets_as_tables_that_every_machine_queries(
    pg_server: PgServer, pg_database: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docket.kb import KnowledgeBase
    from tests.scripted_model import scripted_model_server

    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    docs, home = tmp_path / "docs", tmp_path / "worker-machine"
    docs.mkdir()
    (docs / "stock.csv").write_text('Item,Category,Units\nbolt,hardware,"1,200"\nnut,hardware,800\nglue,supplies,15\n')
    (docs / "notes.md").write_text("# Notes\n\nNothing tabular here.\n")
    docket("enqueue", str(docs), "--home", str(home))
    report = json.loads(docket("worker", "--once", "--home", str(home), "--json").stdout)
    assert report["done"] == 2 and report["warnings"] == []
    assert not (home / "tables.db").exists()

    other = tmp_path / "api-machine"  # a fresh home: nothing local, the same database
    with scripted_model_server() as model, KnowledgeBase(load_settings(home=other)) as kb:
        (table,) = kb.tables.visible(kb.store.documents())
        assert (table.name, table.path, table.row_count) == ("stock", "stock.csv", 3)
        assert kb.tables.query("SELECT SUM(units) FROM stock", ["stock"]).rows == ((2015,),)
        model.replies[:] = ["```sql\nSELECT SUM(units) AS total_units FROM stock WHERE category = 'hardware'\n```"]
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        kb.settings = kb.settings.model_copy(
            update={"model": kb.settings.model.model_copy(update={"base_url": model.url})}
        )
        answer = kb.ask("How many units of hardware do we hold?", model="openai:m")
        assert answer.method == "sql" and answer.table is not None and answer.table.rows == ((2000,),)
        assert answer.text == "Total units: 2,000 [1]" and answer.citations[0].path == "stock.csv"
        assert "CREATE TABLE stock" in model.prompts[0]

    (docs / "stock.csv").unlink()
    docket("enqueue", str(docs), "--home", str(home))
    assert json.loads(docket("worker", "--once", "--home", str(home), "--json").stdout)["done"] == 1
    assert pg_server.sql("SELECT COUNT(*) FROM docket_tables.catalog", pg_database) == [(0,)]


def test_spreadsheets_indexed_without_tables_are_queued_and_loaded(
    pg_server: PgServer, pg_database: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    docs, home = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    (docs / "budget.csv").write_text("team,budget\nops,10\ndev,20\n")
    docket("enqueue", str(docs), "--home", str(home))
    docket("worker", "--once", "--home", str(home))
    pg_server.sql("DELETE FROM docket_tables.catalog; DELETE FROM docket_tables.loads", pg_database)  # an older worker
    queued = json.loads(docket("enqueue", str(docs), "--home", str(home), "--json").stdout)
    assert (queued["queued"], queued["unchanged"]) == (1, 0)
    report = json.loads(docket("worker", "--once", "--home", str(home), "--json").stdout)
    assert report["done"] == 1 and report["chunks_embedded"] == 0  # the tables only: nothing re-embedded
    assert pg_server.sql("SELECT name FROM docket_tables.catalog", pg_database) == [("budget",)]
    assert json.loads(docket("enqueue", str(docs), "--home", str(home), "--json").stdout)["queued"] == 0


# ---------------------------------------------------------------------------------------------- LISTEN/NOTIFY
def test_enqueue_notifies_listeners_when_it_commits(pg_url: str, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as listener:
        listener.execute("LISTEN docket_jobs")
        queue, report = _queue_with_files(tmp_path, pg_url, 2)
        queue.close()
        assert report["queued"] == 2
        assert [n.channel for n in listener.notifies(timeout=20, stop_after=1)] == ["docket_jobs"]


def test_an_idle_worker_wakes_on_notify_instead_of_waiting_for_its_poll(pg_url: str, tmp_path: Path) -> None:
    import threading

    from docket.ingest.worker import Worker
    from docket.kb import KnowledgeBase

    settings = load_settings(home=tmp_path / "kb", overrides={"store": {"url": pg_url}})
    docs = _corpus(tmp_path / "docs", 1)
    handled = threading.Event()
    stop = threading.Event()
    with KnowledgeBase(settings) as kb:
        queue = JobQueue(pg_url)
        worker = Worker(
            settings, kb.store, kb.embedder, queue, poll_seconds=30, stop=stop, on_done=lambda *_: handled.set()
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            _until(lambda: worker.listening.is_set() and worker.idle.is_set(), "the worker to be idle", 20)
            enqueue(settings, [str(docs)])
            assert handled.wait(20), "the worker did not wake for the queued task"  # a hang guard, not a speed test
        finally:
            stop.set()
            thread.join(60)
            queue.close()
    assert not thread.is_alive()
    assert worker.report.done == 1
