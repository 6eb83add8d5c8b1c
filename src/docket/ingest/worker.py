"""``docket worker``: claims tasks of the ingestion queue (:mod:`docket.ingest.queue`), indexes
their files and marks them done, on as many machines as share the PostgreSQL store.

Tasks are claimed, leased, renewed, finished, failed and handed back through
:class:`docket.work.LeaseQueue` (:meth:`JobQueue.leases`). A claim is a lease that a heartbeat
thread renews while the worker lives; a worker that dies stops renewing it and the task becomes
claimable again. A task that fails is given back for another try until its attempts are used up,
except when the file itself is the problem (it can't be parsed): then it fails at once and the
failure is remembered (:mod:`docket.ingest.failures`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docket.errors import ConfigError, DocketError, ParseError, ParseWorkerError
from docket.index import get_document
from docket.ingest.failures import FailedBefore, remembered, tried_with
from docket.ingest.queue import Job, JobQueue, claim_jobs
from docket.ingest.sync import FolderSource, Indexer
from docket.ledger import SourceConfig
from docket.types import Document, ParseAttempt, SyncReport
from docket.work import renewing

if TYPE_CHECKING:
    from docket.config import Settings
    from docket.index.tables import TableStore
    from docket.ingest.limits import ParseLimits
    from docket.ingest.sandbox import Sandbox
    from docket.ledger import Store
    from docket.protocols import Embedder

__all__ = ["Worker", "WorkerReport"]


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
        self.leases = queue.leases(self.owner, lease_seconds=lease_seconds, max_attempts=max_attempts)
        self.report = WorkerReport()
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._sources: dict[str, SourceConfig] = {}
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

    def _heartbeat(self) -> None:
        """Renew the leases of the tasks being worked on (a missed beat is retried by the next)."""
        with self._lock:
            ids = sorted(self._held)
        self.leases.renew_batch(ids)

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

    def _source(self, name: str) -> SourceConfig | None:
        if name not in self._sources:
            self._sources = self.store.ledger.sources()
        return self._sources.get(name)

    # ------------------------------------------------------------------ running
    def run(self, concurrency: int = 1, once: bool = False) -> WorkerReport:
        from docket.index.tables import TableStore

        started = time.perf_counter()
        owned = self.tables is None
        if self.tables is None:
            self.tables = TableStore.open(self.settings)
        finished = threading.Event()
        listener = None
        if self.listen and not once:
            listener = threading.Thread(
                target=self.leases.listen,
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
        with renewing(self._heartbeat, max(0.2, self.lease_seconds / 3)):
            for thread in threads:
                thread.start()
            loop()
            for thread in threads:
                thread.join()
        finished.set()
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
            jobs = claim_jobs(self.leases, self.batch)
            if not jobs:
                if once and self.leases.unfinished() == 0:
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
                self.leases.release([j.id for j in rest])
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
                self.store.ledger.record_failure(job.source, job.path, str(exc), attempt)
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
        self.leases.finish_batch([j.id for j in written])
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
        status = self.leases.fail(job.id, reason, retry=retry)
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
        existing = get_document(self.store, job.source, job.path)
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
            self.store.ledger.record_failure(job.source, job.path, before, attempts[job.id])
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
