"""The ingestion queue in PostgreSQL: ``docket enqueue`` plans, ``docket worker`` processes
(:mod:`docket.ingest.worker`).

``enqueue`` registers a folder as a source and adds one ``jobs`` row per file that changed since it
was indexed (the same size / mtime / hash test as :func:`docket.ingest.sync.sync_source`) and one per
indexed file that disappeared. A file already waiting in the queue is not added twice.

Workers on any number of machines claim batches of rows through :class:`docket.work.LeaseQueue`
(the one lease queue of Docket, here over the index schema's ``jobs`` table, :data:`JOBS`): each
row gets the worker's name (``lease_owner``) and a lease (``lease_until``, the database's clock)
that a heartbeat thread extends while the worker is alive. A worker that dies stops extending it;
once it has expired the row is claimable again. A row is claimed at most ``max_attempts`` times;
after that, or when the file can't be parsed, it is ``failed`` with the reason; a try that failed
otherwise is queued again at once. A file that could not be parsed is not queued again while
neither it nor Docket changes (:mod:`docket.ingest.failures`): ``enqueue`` counts it as
``failed_before``. Writing a document is one transaction that replaces any earlier copy of it
(:meth:`PostgresStore.put_document`), so a file processed twice is still indexed once.

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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docket.errors import ConfigError
from docket.ingest.failures import FailedBefore, tried_with_settings
from docket.ingest.sync import FolderSource, _walk, source_for_path
from docket.records import Records
from docket.types import DEFAULT_WORKSPACE
from docket.work import LeaseQueue, Table

if TYPE_CHECKING:
    from docket.config import Settings
    from docket.index.tables import TableStore
    from docket.ledger import Store

__all__ = ["CHANNEL", "JOBS", "Job", "JobQueue", "claim_jobs", "enqueue", "require_postgres"]

CHANNEL = "docket_jobs"  # NOTIFY channel: rows became claimable
_ENQUEUE_LOCK = 0x646F636B6571  # serialises enqueuers so a waiting file is added once ("docketq")

# The index schema's jobs table (migration 2 of docket.index.postgres.schema) as docket.work sees it.
JOBS = Table(
    "jobs",
    started=None,
    finished=None,
    attempts="attempts",
    owner="lease_owner",
    updated="updated",
    timestamps=True,
    channel=CHANNEL,
    running="leased",
)


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


_JOB_COLUMNS = ("source", "path", "action", "workspace", "tags", "access", "attempts")  # after id


def claim_jobs(leases: LeaseQueue, limit: int) -> list[Job]:
    """Lease up to ``limit`` queued tasks (or ones whose lease expired) to ``leases.owner``."""
    rows = leases.claim_batch(limit, _JOB_COLUMNS)
    return [Job(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), tuple(r[6]), r[7]) for r in rows]


class JobQueue:
    """The ``jobs`` table, on a small pool of its own (in the database's own ``search_path``)."""

    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        self.records = Records.postgres(
            url, pool_size=3, connect_timeout=connect_timeout, schema=None, what="the job queue in PostgreSQL"
        )
        self.where = self.records.where
        self._jobs = LeaseQueue(self.records, JOBS)

    def leases(self, owner: str, *, lease_seconds: float, max_attempts: int) -> LeaseQueue:
        """The queue as the worker ``owner`` claims, renews, finishes, fails and hands back tasks:
        leased for ``lease_seconds``, claimed at most ``max_attempts`` times, a failed try queued
        again at once."""
        return LeaseQueue(
            self.records,
            JOBS,
            owner=owner,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            retry_after=lambda attempts: 0.0,
        )

    def add(self, source: FolderSource, tasks: Sequence[tuple[str, str]]) -> int:
        """Queue (path, action) tasks of ``source``; a path already queued is skipped. Returns how many were added."""
        added = 0
        with self.records.tx() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_ENQUEUE_LOCK,))
            for path, action in tasks:
                added += tx.execute(
                    "INSERT INTO jobs (source, path, action, workspace, tags, access) "
                    "SELECT ?, ?, ?, ?, ?::jsonb, ?::jsonb WHERE NOT EXISTS "
                    "(SELECT 1 FROM jobs WHERE source = ? AND path = ? AND action = ? AND status = 'queued')",
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
                ).rowcount
            if added:
                self._jobs.notify(tx)
        return added

    def listen(self, wake: Callable[[], None], stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Call ``wake`` on each ``NOTIFY docket_jobs`` until ``stop`` is set (run it in a thread)."""
        self._jobs.listen(wake, stop, ready)

    def unfinished(self) -> int:
        """Tasks queued or leased (a leased one may come back when its lease expires)."""
        return self._jobs.unfinished()

    def close(self) -> None:
        self.records.close()


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
    workspace: str = DEFAULT_WORKSPACE,
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
        tables.prune({doc.id for doc in store.documents()}, sources=store.ledger.sources())  # left by removed documents
        for source in sources:
            store.ledger.add_source(source.name, source.config())
            if retry_failed:  # forget what the failed files were, so that the workers parse them again
                for failure in store.ledger.failures(source.name):
                    if failure["attempt"] is not None:
                        store.ledger.record_failure(source.name, failure["path"], failure["error"])
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
