"""The ingestion queue in PostgreSQL: ``docket enqueue`` plans, ``docket worker`` processes.

``enqueue`` registers a folder as a source and adds one ``jobs`` row per file that changed since it
was indexed (the same size / mtime / hash test as :func:`docket.ingest.sync.sync_source`) and one per
indexed file that disappeared. A file already waiting in the queue is not added twice.

Workers on any number of machines claim batches of rows with ``UPDATE ... WHERE id IN (SELECT ...
FOR UPDATE SKIP LOCKED) RETURNING``: each row gets the worker's name and a lease (``lease_until``,
the database's clock) that a heartbeat thread extends while the worker is alive. A worker that dies
stops extending it; once it has expired the row is claimable again. A row is claimed at most
``max_attempts`` times; after that, or when the file can't be parsed, it is ``failed`` with the
reason. A file that could not be parsed is not queued again while neither it nor Docket changes
(:mod:`docket.ingest.failures`): ``enqueue`` counts it as ``failed_before``. Writing a document
is one transaction that replaces any earlier copy of it (:meth:`PostgresStore.put_document`), so
a file processed twice is still indexed once.

Spreadsheets are loaded as SQL tables into the table store in the same database
(:mod:`docket.index.postgres.tables`), as ``docket ingest`` does: when indexed, when unchanged but
not loaded yet (``enqueue`` queues those too), and dropped with their document.

Every transaction that makes rows claimable (``add``, a retry, a hand-back) sends ``NOTIFY
docket_jobs``, delivered when it commits. An idle worker ``LISTEN``s on a connection of its own and
claims at once when notified; its poll interval stays as the fallback, so a lost notification
(a dropped connection, a lease that expired) only delays work.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docket.errors import ConfigError, DocketError, ParseError, ParseWorkerError
from docket.ingest.failures import FailedBefore, remembered, tried_with, tried_with_settings
from docket.ingest.sync import FolderSource, Indexer, _walk, source_for_path
from docket.types import Document, ParseAttempt, SyncReport

if TYPE_CHECKING:
    from docket.config import Settings
    from docket.index.tables import TableStore
    from docket.ingest.limits import ParseLimits
    from docket.ingest.sandbox import Sandbox
    from docket.protocols import Embedder, Store

__all__ = ["CHANNEL", "Job", "JobQueue", "Worker", "enqueue", "queue_status", "require_postgres"]

CHANNEL = "docket_jobs"  # NOTIFY channel: rows became claimable
_ENQUEUE_LOCK = 0x646F636B6571  # serialises enqueuers so a waiting file is added once ("docketq")
_JOB_COLUMNS = "id, source, path, action, workspace, tags, access, attempts"


def require_postgres(settings: Settings, command: str) -> str:
    """The database URL, or a one-line error saying how to configure it."""
    if not settings.store.url:
        raise ConfigError(
            f"{command} needs a PostgreSQL store shared by every machine; this knowledge base uses the embedded "
            "SQLite file. Set DOCKET_DATABASE_URL=postgresql://USER:PASSWORD@HOST/DB (see docs/storage.md)"
        )
    return settings.store.url


@dataclass(frozen=True)
class Job:
    """One claimed task: index (or delete) one file of a source."""

    id: int
    source: str
    path: str
    action: str
    workspace: str
    tags: tuple[str, ...]
    access: tuple[str, ...]
    attempts: int


class JobQueue:
    """The ``jobs`` table. Every method is one short transaction on a small pool of its own."""

    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        from docket.config import redact_url

        self._psycopg = psycopg
        self._url = url
        self.where = redact_url(url)
        self._timeout = connect_timeout
        self._pool = ConnectionPool(
            url, min_size=1, max_size=3, kwargs={"connect_timeout": max(1, round(connect_timeout))}, open=False
        )
        self._pool.open(wait=False)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        from docket.index.postgres.sql import pooled

        with pooled(self._pool, self.where, self._timeout, "the job queue in PostgreSQL") as conn:
            yield conn

    def add(self, source: FolderSource, tasks: Sequence[tuple[str, str]]) -> int:
        """Queue (path, action) tasks of ``source``; a path already queued is skipped. Returns how many were added."""
        added = 0
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ENQUEUE_LOCK,))
            for path, action in tasks:
                cur = conn.execute(
                    "INSERT INTO jobs (source, path, action, workspace, tags, access) "
                    "SELECT %s, %s, %s, %s, %s::jsonb, %s::jsonb WHERE NOT EXISTS "
                    "(SELECT 1 FROM jobs WHERE source = %s AND path = %s AND action = %s AND status = 'queued')",
                    (
                        source.name,
                        path,
                        action,
                        source.workspace,
                        json.dumps(list(source.tags)),
                        json.dumps(list(source.access)),
                        source.name,
                        path,
                        action,
                    ),
                )
                added += cur.rowcount
            if added:
                _notify(conn)
        return added

    def claim(self, owner: str, limit: int, lease_seconds: float, max_attempts: int) -> list[Job]:
        """Lease up to ``limit`` queued tasks (or ones whose lease expired) to ``owner``."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'failed', lease_owner = NULL, updated = now(), "
                "error = 'its worker stopped before finishing it ' || attempts || ' time(s) (lease expired)' "
                "WHERE status = 'leased' AND lease_until < now() AND attempts >= %s",
                (max_attempts,),
            )
            rows = conn.execute(
                f"UPDATE jobs SET status = 'leased', lease_owner = %s, attempts = attempts + 1, updated = now(), "
                f"lease_until = now() + make_interval(secs => %s) WHERE id IN (SELECT id FROM jobs "
                f"WHERE status = 'queued' OR (status = 'leased' AND lease_until < now()) "
                f"ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING {_JOB_COLUMNS}",
                (owner, lease_seconds, limit),
            ).fetchall()
        jobs = [Job(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), tuple(r[6]), r[7]) for r in rows]
        return sorted(jobs, key=lambda j: j.id)

    def heartbeat(self, owner: str, ids: Sequence[int], lease_seconds: float) -> int:
        """Extend the leases ``owner`` still holds; returns how many it holds."""
        if not ids:
            return 0
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_until = now() + make_interval(secs => %s) "
                "WHERE id = ANY(%s) AND lease_owner = %s AND status = 'leased'",
                (lease_seconds, list(ids), owner),
            )
            return int(cur.rowcount)

    def done(self, owner: str, ids: Sequence[int]) -> None:
        """Mark tasks finished; ``lease_owner`` keeps the name of the worker that did them."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'done', lease_until = NULL, error = NULL, "
                "updated = now() WHERE id = ANY(%s) AND lease_owner = %s AND status = 'leased'",
                (list(ids), owner),
            )

    def failed(self, owner: str, job: Job, error: str, max_attempts: int, retry: bool = True) -> str:
        """Give the task back for another try, or fail it (no retry, or the attempts are used up)."""
        status = "queued" if retry and job.attempts < max_attempts else "failed"
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET status = %s, error = %s, lease_owner = NULL, lease_until = NULL, updated = now() "
                "WHERE id = %s AND lease_owner = %s AND status = 'leased'",
                (status, error, job.id, owner),
            )
            if status == "queued":
                _notify(conn)
        return status

    def release(self, owner: str, ids: Sequence[int]) -> None:
        """Hand back tasks not started (a worker asked to stop); the claim does not count as an attempt."""
        if not ids:
            return
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL, "
                "updated = now() WHERE id = ANY(%s) AND lease_owner = %s AND status = 'leased'",
                (list(ids), owner),
            )
            _notify(conn)

    def listen(self, wake: Callable[[], None], stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Call ``wake`` on each ``NOTIFY docket_jobs`` until ``stop`` is set (run it in a thread).

        Uses a connection of its own; when it is lost, ``ready`` is cleared and it reconnects,
        calling ``wake`` once more (a notification may have been missed meanwhile)."""
        psycopg = self._psycopg
        pause = 0.5
        while not stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=max(1, round(self._timeout))) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
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
                stop.wait(pause)  # the database is unreachable: polling goes on meanwhile
                pause = min(pause * 2, 30.0)

    def unfinished(self) -> int:
        """Tasks queued or leased (a leased one may come back when its lease expires)."""
        with self._tx() as conn:
            row = conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'leased')").fetchone()
        return int(row[0])

    def status(self) -> dict[str, Any]:
        with self._tx() as conn:
            return queue_status(conn)

    def close(self) -> None:
        self._pool.close()


def _notify(conn: Any) -> None:
    """Wake idle workers when this transaction commits (``LISTEN docket_jobs``)."""
    conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))


def queue_status(conn: Any, latest: int = 5) -> dict[str, Any]:
    """Jobs by status, expired leases and the latest failures (``docket db status``)."""
    counts = {"queued": 0, "leased": 0, "done": 0, "failed": 0}
    for status, n in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall():
        counts[str(status)] = int(n)
    expired = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'leased' AND lease_until < now()").fetchone()[0]
    errors = conn.execute(
        "SELECT source, path, error, attempts FROM jobs WHERE status = 'failed' ORDER BY updated DESC, id DESC "
        "LIMIT %s",
        (latest,),
    ).fetchall()
    return {
        **counts,
        "expired_leases": int(expired),
        "latest_failures": [{"source": s, "path": p, "error": e, "attempts": a} for s, p, e, a in errors],
    }


# ---------------------------------------------------------------------------------------------- enqueue
def _plan(
    store: Store,
    source: FolderSource,
    ignore: Sequence[str],
    tables: TableStore | None = None,
    failed: FailedBefore | None = None,
) -> tuple[list[tuple[str, str]], int, int]:
    """(path, action) tasks for what changed in ``source`` since it was indexed (or is a spreadsheet
    not loaded as a table yet), the unchanged count, and how many files are left out because they
    failed to parse before and have not changed since (``failed``)."""
    indexed = {doc.path: doc for doc in store.documents(source.name)}
    tasks: list[tuple[str, str]] = []
    unchanged = failed_before = 0
    seen: set[str] = set()
    for shown, full in _walk(source, ignore):
        seen.add(shown)
        existing = indexed.get(shown)
        try:
            stat = full.stat()
        except OSError:
            tasks.append((shown, "index"))  # the worker reports why it can't be read
            continue
        if existing is not None:
            if (existing.workspace, existing.access, existing.tags) != (source.workspace, source.access, source.tags):
                store.update_document(existing.id, workspace=source.workspace, access=source.access, tags=source.tags)
            untabled = tables is not None and tables.missing(existing)
            if existing.size == stat.st_size and existing.mtime == stat.st_mtime and not untabled:
                unchanged += 1
                continue
            try:
                digest = hashlib.sha256(full.read_bytes()).hexdigest()
            except OSError:
                digest = ""
            if digest == existing.content_hash and not untabled:
                store.update_document(existing.id, mtime=stat.st_mtime, size=stat.st_size)
                unchanged += 1
                continue
        if failed is not None and failed.unchanged(shown, stat.st_size, stat.st_mtime) is not None:
            failed_before += 1
            continue
        tasks.append((shown, "index"))
    tasks.extend((path, "delete") for path in sorted(set(indexed) - seen))
    return tasks, unchanged, failed_before


def enqueue(
    settings: Settings,
    paths: Sequence[str],
    workspace: str = "default",
    tags: Sequence[str] = (),
    access: Sequence[str] = (),
    retry_failed: bool = False,
) -> dict[str, Any]:
    """Register ``paths`` as sources and queue a task per changed or deleted file (and per file
    that failed to parse before only if it changed since, or with ``retry_failed``)."""
    from docket.index import open_store
    from docket.index.tables import TableStore

    url = require_postgres(settings, "docket enqueue")
    sources = [source_for_path(p, workspace, tags, access) for p in paths]  # validate all first
    counts = {"planned": 0, "queued": 0, "deletions": 0, "unchanged": 0, "failed_before": 0}
    store = open_store(settings)
    tables = TableStore.open(settings)
    queue = JobQueue(url, settings.store.connect_timeout)
    try:
        tables.prune({doc.id for doc in store.documents()}, sources=store.sources())  # left by removed documents
        for source in sources:
            store.add_source(source.name, source.config())
            if retry_failed:  # forget what the failed files were, so that the workers parse them again
                for failure in store.failures(source.name):
                    if failure["attempt"] is not None:
                        store.record_failure(source.name, failure["path"], failure["error"])
            failed = FailedBefore(store, source.name, tried_with_settings(settings.ingest), retry=retry_failed)
            tasks, unchanged, failed_before = _plan(store, source, settings.ingest.ignore, tables, failed)
            counts["planned"] += len(tasks)
            counts["queued"] += queue.add(source, tasks)
            counts["deletions"] += sum(1 for _, action in tasks if action == "delete")
            counts["unchanged"] += unchanged
            counts["failed_before"] += failed_before
        counts["waiting"] = queue.unfinished()
    finally:
        queue.close()
        tables.close()
        store.close()
    return {"sources": [s.name for s in sources], **counts}


# ---------------------------------------------------------------------------------------------- worker
@dataclass
class WorkerReport:
    done: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)  # e.g. a spreadsheet not loaded as a table
    # tasks not parsed: the file failed to parse before and has not changed (done, with the old reason)
    failed_before: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "failed": self.failed,
            "failed_before": self.failed_before,
            "retried": self.retried,
            "released": self.released,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
            "errors": self.errors,
            "warnings": self.warnings,
        }


class Worker:
    """Claims tasks, indexes their files and marks them done, in ``concurrency`` threads.

    ``stop`` (an event; ``docket worker`` sets it on SIGTERM) makes each thread finish the file it is
    on, hand back the tasks it has not started and return. ``once``: return when nothing is queued
    or leased any more (waiting for the leases of dead workers to expire) instead of polling.

    Spreadsheets go into ``tables`` (by default the table store the settings name, opened by
    :meth:`run`). An idle thread waits for a ``NOTIFY docket_jobs`` (``listen``), or at most
    ``poll_seconds`` before it looks again. ``listening`` is set while the notifications are
    listened to, ``idle`` while a thread waits for work.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        queue: JobQueue,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
        batch: int = 8,
        poll_seconds: float = 10.0,
        sandbox: Sandbox | None = None,
        limits: ParseLimits | None = None,
        stop: threading.Event | None = None,
        on_done: Callable[[Job, str], None] | None = None,
        tables: TableStore | None = None,
        listen: bool = True,
    ) -> None:
        self.settings, self.store, self.embedder, self.queue = settings, store, embedder, queue
        self.lease_seconds, self.max_attempts, self.batch = lease_seconds, max_attempts, batch
        self.poll_seconds, self.sandbox, self.limits = poll_seconds, sandbox, limits
        self.stop = stop or threading.Event()
        self.on_done = on_done
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.report = WorkerReport()
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._sources: dict[str, dict[str, Any]] = {}
        self.tables = tables
        self.listen = listen
        self.listening = threading.Event()
        self.idle = threading.Event()
        self._wake = threading.Condition()
        self._signals = 0  # notifications received so far
        self._idle_threads = 0

    # ------------------------------------------------------------------ bookkeeping
    def _hold(self, ids: Sequence[int], held: bool) -> None:
        with self._lock:
            if held:
                self._held.update(ids)
            else:
                self._held.difference_update(ids)

    def _heartbeat(self, finished: threading.Event) -> None:
        while not finished.wait(max(0.2, self.lease_seconds / 3)):
            with self._lock:
                ids = sorted(self._held)
            try:
                self.queue.heartbeat(self.owner, ids, self.lease_seconds)
            except DocketError:
                continue  # the database is unreachable: the next beat tries again

    def _wakeup(self) -> None:
        with self._wake:
            self._signals += 1
            self._wake.notify_all()

    def _wait(self, seen: int, seconds: float) -> None:
        """Sleep up to ``seconds``, until a notification newer than ``seen`` arrives or ``stop`` is set."""
        deadline = time.monotonic() + seconds
        with self._wake:
            self._idle_threads += 1
            self.idle.set()
            try:
                while self._signals == seen and not self.stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(min(left, 0.5))  # short slices: ``stop`` is an event of its own
            finally:
                self._idle_threads -= 1
                if not self._idle_threads:
                    self.idle.clear()

    def _load_tables(self, doc: Document, data: bytes) -> None:
        if self.tables is None:
            return
        notes = self.tables.load(doc, data)
        with self._lock:
            self.report.warnings.extend({"source": doc.source, "path": doc.path, "warning": n} for n in notes)

    def _source(self, name: str) -> dict[str, Any] | None:
        if name not in self._sources:
            self._sources = self.store.sources()
        return self._sources.get(name)

    # ------------------------------------------------------------------ running
    def run(self, concurrency: int = 1, once: bool = False) -> WorkerReport:
        from docket.index.tables import TableStore

        started = time.perf_counter()
        owned = self.tables is None
        if self.tables is None:
            self.tables = TableStore.open(self.settings)
        finished = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(finished,), name="docket-heartbeat", daemon=True)
        beat.start()
        listener = None
        if self.listen and not once:
            listener = threading.Thread(
                target=self.queue.listen,
                args=(self._wakeup, finished, self.listening),
                name="docket-listen",
                daemon=True,
            )
            listener.start()
        errors: list[BaseException] = []

        def loop() -> None:
            try:
                self._loop(once)
            except BaseException as exc:
                errors.append(exc)
                self.stop.set()

        threads = [threading.Thread(target=loop, name=f"docket-worker-{i}") for i in range(max(1, concurrency) - 1)]
        for thread in threads:
            thread.start()
        loop()
        for thread in threads:
            thread.join()
        finished.set()
        beat.join()
        if listener is not None:
            listener.join()
            self.listening.clear()
        if owned and self.tables is not None:
            self.tables.close()
            self.tables = None
        self.report.seconds = time.perf_counter() - started
        if errors:
            raise errors[0]
        return self.report

    def _loop(self, once: bool) -> None:
        while not self.stop.is_set():
            seen = self._signals
            jobs = self.queue.claim(self.owner, self.batch, self.lease_seconds, self.max_attempts)
            if not jobs:
                if once and self.queue.unfinished() == 0:
                    return
                # --once waits only for leases of dead workers to expire: look again soon
                self._wait(seen, min(self.poll_seconds, 1.0) if once else self.poll_seconds)
                continue
            self._hold([j.id for j in jobs], True)
            try:
                self._process(jobs)
            finally:
                self._hold([j.id for j in jobs], False)

    def _process(self, jobs: list[Job]) -> None:
        sync = SyncReport()
        indexer = Indexer(
            self.store,
            self.embedder,
            sync,
            self.settings.chunking.max_tokens,
            self.settings.chunking.overlap_tokens,
        )
        written: list[Job] = []
        failed: dict[str, FailedBefore] = {}  # by source, read once per batch
        attempts: dict[int, ParseAttempt] = {}  # by job: the file as far as it was read
        for n, job in enumerate(jobs):
            if self.stop.is_set():
                rest = jobs[n:]
                self.queue.release(self.owner, [j.id for j in rest])
                with self._lock:
                    self.report.released += len(rest)
                break
            try:
                if job.source not in failed:
                    failed[job.source] = FailedBefore(self.store, job.source, self._tried_with)
                self._one(job, indexer, failed[job.source], attempts)
                written.append(job)
            except ParseWorkerError as exc:  # the parse worker did not start: not the file's fault
                self._fail(job, str(exc), retry=True)
            except (ParseError, ConfigError) as exc:  # the file itself is the problem: trying again won't help
                attempt = attempts.get(job.id) if remembered(exc) else None
                self.store.record_failure(job.source, job.path, str(exc), attempt)
                self._fail(job, str(exc), retry=False)
            except (DocketError, OSError) as exc:
                reason = f"cannot read the file: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
                self._fail(job, reason, retry=True)
            except Exception as exc:  # a bug in a parser must not stop the worker; the task is tried again
                self._fail(job, f"{type(exc).__name__}: {exc}", retry=True)
        try:
            indexer.flush()
        except DocketError as exc:
            for job in written:
                self._fail(job, str(exc), retry=True)
            return
        self.queue.done(self.owner, [j.id for j in written])
        with self._lock:
            self.report.done += len(written)
            self.report.chunks_embedded += sync.chunks_embedded
        for job in written:
            if self.on_done is not None:
                self.on_done(job, "done")

    def _failed_before(self, job: Job, reason: str) -> None:
        with self._lock:
            self.report.failed_before.append({"source": job.source, "path": job.path, "error": reason})

    def _fail(self, job: Job, reason: str, retry: bool) -> None:
        status = self.queue.failed(self.owner, job, reason, self.max_attempts, retry=retry)
        with self._lock:
            if status == "failed":
                self.report.failed += 1
                self.report.errors.append({"source": job.source, "path": job.path, "error": reason})
            else:
                self.report.retried += 1
        if self.on_done is not None:
            self.on_done(job, status)

    @property
    def _tried_with(self) -> str:
        max_bytes = int(self.settings.ingest.max_file_mb * 1024 * 1024)
        return tried_with(max_bytes, self.limits, self.sandbox)

    def _one(self, job: Job, indexer: Indexer, failed: FailedBefore, attempts: dict[int, ParseAttempt]) -> None:
        """Index (or remove) one file; the document is written when ``indexer`` flushes. What is
        learnt of the file goes into ``attempts`` (recorded if it fails to parse); one that failed
        before and is unchanged is not parsed again."""
        config = self._source(job.source)
        existing = self.store.get_document(job.source, job.path)
        if config is None:  # the source was removed after the task was queued
            return
        source = FolderSource.from_config(job.source, config)
        full = source.root if source.is_file else source.root / job.path
        if not full.is_file():  # deleted (or gone since it was queued)
            if existing is not None:
                self.store.delete_document(existing.id)
                if self.tables is not None:
                    self.tables.drop(existing.id)
            return
        if job.action == "delete":  # the file is back; the next `docket enqueue` queues it
            return
        meta = (job.workspace, job.access, job.tags)
        if existing is not None and (existing.workspace, existing.access, existing.tags) != meta:
            self.store.update_document(existing.id, workspace=job.workspace, access=job.access, tags=job.tags)
        stat = full.stat()
        untabled = existing is not None and self.tables is not None and self.tables.missing(existing)
        if existing is not None and existing.size == stat.st_size and existing.mtime == stat.st_mtime and not untabled:
            return  # already indexed: by an earlier attempt, or by another worker
        attempts[job.id] = failed.attempt(stat.st_size, stat.st_mtime)
        before = failed.unchanged(job.path, stat.st_size, stat.st_mtime)
        if before is not None:  # failed before (queued by an older enqueue, or another worker did it)
            self._failed_before(job, before)
            return
        max_bytes = int(self.settings.ingest.max_file_mb * 1024 * 1024)
        if stat.st_size > max_bytes:
            raise ParseError(
                f"file too large ({stat.st_size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit); "
                "raise ingest.max_file_mb to index it"
            )
        data = full.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        attempts[job.id] = failed.attempt(stat.st_size, stat.st_mtime, digest)
        if existing is not None and existing.content_hash == digest:
            self.store.update_document(existing.id, mtime=stat.st_mtime, size=stat.st_size)
            if untabled:  # indexed before tables were loaded (or by an older worker): load them now
                self._load_tables(existing, data)
            return
        before = failed.same_content(job.path, stat.st_size, digest)
        if before is not None:  # touched or written again, the same bytes: remember the new time
            self.store.record_failure(job.source, job.path, before, attempts[job.id])
            self._failed_before(job, before)
            return
        from docket.ingest.sandbox import parse_with

        parsed = parse_with(self.sandbox, data, full.name, self.limits)
        title = str(parsed.title or full.stem).strip() or full.stem
        doc = Document(
            id=existing.id if existing else uuid.uuid4().hex,
            source=job.source,
            path=job.path,
            title=title,
            filetype=full.suffix.lower().lstrip(".") or "unknown",
            content_hash=digest,
            size=stat.st_size,
            mtime=stat.st_mtime,
            workspace=job.workspace,
            access=job.access,
            tags=job.tags,
            metadata=dict(parsed.metadata),
        )
        indexer.add(doc, parsed, is_new=existing is None)
        self._load_tables(doc, data)
