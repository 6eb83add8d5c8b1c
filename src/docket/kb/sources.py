"""Syncing a knowledge base's sources: folders and files, remote sources through their
connectors, and the sources whose schedule says they are due (the server's scheduler runs
:func:`sync_due_job` every minute).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from docket.errors import DocketError
from docket.ingest.sources.sync import next_run, sync_remote
from docket.ingest.sync import FileDone, FolderSource, Progress, sync_source
from docket.kb import documents as kb_documents
from docket.ledger import SourceConfig
from docket.types import SyncReport

if TYPE_CHECKING:
    from docket.kb.parts import Core

__all__ = ["due_sources", "sync_due", "sync_due_job", "sync_folder", "sync_many", "sync_one", "sync_remote_source"]


def _timestamp(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    return now.timestamp() if isinstance(now, datetime) else float(now)


def _before_sync(kb: Core) -> None:
    """Profile the documents indexed before profiles existed, and drop the tables left by an
    interrupted sync or a removed source: one read of the documents for both."""
    documents = list(kb.store.documents())
    kb_documents.profile_missing(kb, documents)
    kb.tables.prune({doc.id for doc in documents}, sources=kb.ledger.sources())


def after_sync(kb: Core, report: SyncReport) -> None:
    """After a change the store brings its search views up to date now, not in a user's query: the
    embedded store builds or refreshes its approximate vector index (docs/storage.md)."""
    if report.added or report.updated or report.deleted:
        getattr(kb.store, "prepare_search", lambda: None)()


def sync_folder(
    kb: Core,
    source: FolderSource,
    progress: Progress | None,
    retry_failed: bool = False,
    only: Collection[str] | None = None,
    on_file: FileDone | None = None,
    rehash: bool = False,
) -> SyncReport:
    """Sync a folder or file source (:func:`docket.ingest.sync.sync_source`) with ``kb``'s settings:
    all its files, or ``only`` those paths of it. The embedder is loaded only if a file changed;
    ``rehash`` hashes the files whose size and time are unchanged too."""
    _before_sync(kb)
    return sync_source(
        kb.store,
        lambda: kb.embedder,
        source,
        max_tokens=kb.settings.chunking.max_tokens,
        overlap_tokens=kb.settings.chunking.overlap_tokens,
        max_file_bytes=int(kb.settings.ingest.max_file_mb * 1024 * 1024),
        ignore=kb.settings.ingest.ignore,
        progress=progress,
        tables=kb.tables,
        retry_failed=retry_failed,
        only=only,
        on_file=on_file,
        rehash=rehash,
        **kb.parse_options(),
    )


def sync_remote_source(
    kb: Core, name: str, config: SourceConfig, progress: Progress | None, retry_failed: bool = False
) -> SyncReport:
    """Sync a website, mailbox or database source through its connector (:func:`sync_remote`)."""
    _before_sync(kb)
    return sync_remote(
        kb.store,
        kb.embedder,
        name,
        None,
        config,
        max_tokens=kb.settings.chunking.max_tokens,
        overlap_tokens=kb.settings.chunking.overlap_tokens,
        max_item_bytes=int(kb.settings.ingest.max_file_mb * 1024 * 1024),
        progress=progress,
        tables=kb.tables,
        max_table_rows=kb.settings.ingest.table_max_rows,
        retry_failed=retry_failed,
        **kb.parse_options(),
    )


def due_sources(kb: Core, now: datetime | float | None = None) -> list[str]:
    """The names of the sources whose schedule says they should sync by ``now``."""
    moment = _timestamp(now)
    due = []
    for name, config in kb.ledger.sources().items():
        when = next_run(config, moment)
        if when is not None and when <= moment:
            due.append(name)
    return due


def sync_due(kb: Core, now: datetime | float | None = None) -> dict[str, SyncReport]:
    """Sync every due source, one after another; one source's failure never stops the others.

    Meant to be called by the server's scheduler (``Scheduler.add_periodic``) every minute.
    """
    reports: dict[str, SyncReport] = {}
    for name in due_sources(kb, now):
        reports[name] = sync_one(kb, name)
    return reports


def sync_due_job(kb: Core) -> Callable[[], dict[str, Any]]:
    """A job for ``Scheduler.add_periodic("sources", "* * * * *", job)``: syncs the due sources and
    returns their reports as JSON (each source's own last result and error are kept in its config)."""

    def job() -> dict[str, Any]:
        return {name: report.to_dict() for name, report in sync_due(kb).items()}

    return job


def sync_one(kb: Core, name: str, retry_failed: bool = False) -> SyncReport:
    """Sync source ``name`` and report; an error of the whole source is a failure in the report.
    ``retry_failed``: parse again the items that failed before, even unchanged."""
    try:
        return kb.sync([name], retry_failed=retry_failed)
    except DocketError as exc:
        report = SyncReport()
        report.failed.append({"path": name, "error": str(exc)})
        return report


def sync_many(kb: Core, names: Iterable[str]) -> dict[str, SyncReport]:
    return {name: sync_one(kb, name) for name in names}
