"""Sync a remote source (website, mailbox, database) into the index, and decide when it is due.

A remote source is stored like a folder source (``ledger.add_source``), a :class:`~docket.ledger.SourceConfig`
whose JSON is::
    {"type": "web", "settings": {...connector options...}, "schedule": "0 * * * *" | None,
     "workspace": "default", "tags": [...], "access": [...],
     "checkpoint": {...}, "last_result": {...SyncReport.to_dict()...} | None,
     "last_error": "reason" | None, "last_run": 1700000000.0 | None}

:func:`sync_remote` gives the connector what the index holds from the source (``known``: document
path -> version) and the stored checkpoint, indexes each fetched item through the same
:class:`~docket.ingest.sync.Indexer` as folder sync (document path = the item's key), and removes
the known keys that a *complete* listing no longer mentions. A :class:`~docket.errors.SourceError`
(unreachable host, TLS error, 404 start page, login refused) becomes that source's error: nothing
is deleted and the checkpoint is kept. The new checkpoint is saved only after the documents are
written, so a sync that stops half-way starts again from the old one.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.accounts.principal import check_access_list
from docket.errors import ConfigError, DocketError, MissingExtraError, SourceError, UserError
from docket.ingest.failures import FailedBefore, remembered, tried_with
from docket.ingest.limits import ParseLimits
from docket.ingest.quality import QUALITY_KEY, page_counts
from docket.ingest.sandbox import parse_with
from docket.ingest.sources import CONNECTORS
from docket.ingest.sources.base import Connector, Fetched, SourceTable
from docket.ingest.sync import Indexer, Progress, close_stages
from docket.ledger import SourceConfig, Store
from docket.protocols import Embedder
from docket.types import DEFAULT_WORKSPACE, Document, ParseAttempt, SyncReport, check_workspace_name

if TYPE_CHECKING:
    from docket.index.tables import TableStore
    from docket.ingest.sandbox import Sandbox

__all__ = [
    "LOCAL_TYPES",
    "add_remote_source",
    "build_connector",
    "check_secret_references",
    "describe_sources",
    "is_remote",
    "next_run",
    "redact_secrets",
    "remote_config",
    "sync_remote",
    "validate_schedule",
]

LOCAL_TYPES = ("folder", "file")

# Built-in connector modules, imported when a source of that type is first used; each registers
# its factory in CONNECTORS. The extra to install when one of their libraries is missing.
_BUILTIN: dict[str, tuple[str, str]] = {
    "web": ("docket.ingest.sources.web", "web"),
    "imap": ("docket.ingest.sources.imap", "imap"),
    "sql": ("docket.ingest.sources.sql", "sql"),
    "zendesk": ("docket.ingest.sources.helpdesk", "server"),
    "freshdesk": ("docket.ingest.sources.helpdesk", "server"),
    "json-http": ("docket.ingest.sources.helpdesk_json", "server"),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$")


def is_remote(config: SourceConfig) -> bool:
    return not config.is_local


def build_connector(type_: str, settings: Mapping[str, Any]) -> Connector:
    """The connector of ``type_`` built from its settings; a missing extra names what to install."""
    builtin = _BUILTIN.get(type_)
    if builtin is not None and type_ not in CONNECTORS.names():
        module, extra = builtin
        try:
            importlib.import_module(module)
        except ImportError as exc:
            if exc.name == module:  # the connector itself is not part of this install
                raise UserError(f"source type '{type_}' is not available in this version of Docket") from None
            raise MissingExtraError(exc.name or extra, extra, f"A '{type_}' source") from None
    return CONNECTORS.create(type_, **dict(settings))


def validate_schedule(schedule: str | None) -> str | None:
    """A cron expression (``*/30 * * * *``), checked; None or empty means "only when asked"."""
    if not schedule:
        return None
    try:
        from croniter import croniter
    except ImportError:
        raise MissingExtraError("croniter", "server", "Scheduled syncs") from None
    schedule = " ".join(schedule.split())
    if len(schedule.split(" ")) != 5 or not croniter.is_valid(schedule):
        raise ConfigError(
            f"schedule '{schedule}' is not a cron expression; write five fields, e.g. '0 * * * *' (hourly) "
            "or '30 6 * * 1-5' (weekdays at 06:30)"
        )
    return schedule


def remote_config(
    type_: str,
    settings: Mapping[str, Any],
    *,
    schedule: str | None = None,
    workspace: str = DEFAULT_WORKSPACE,
    tags: Sequence[str] = (),
    access: Sequence[str] = (),
) -> SourceConfig:
    check_workspace_name(workspace)
    return SourceConfig(
        type=type_,
        settings=dict(settings),
        schedule=validate_schedule(schedule),
        workspace=workspace,
        tags=tuple(tags),
        access=tuple(access),
    )


def add_remote_source(
    store: Store,
    name: str,
    type_: str,
    settings: Mapping[str, Any],
    *,
    schedule: str | None = None,
    workspace: str = DEFAULT_WORKSPACE,
    tags: Sequence[str] = (),
    access: Sequence[str] = (),
) -> SourceConfig:
    """Register a remote source (nothing is fetched yet); returns its config.

    The settings are checked by building the connector, so unknown options and bad values are
    refused here rather than at the first sync.
    """
    if not _NAME.match(name):
        raise UserError(f"source name '{name}': use letters, digits and . _ - @ : (at most 100), e.g. --name intranet")
    if type_ in LOCAL_TYPES:
        raise UserError("folders and files are added with `docket ingest PATH`")
    existing = store.ledger.sources()
    if name in existing:
        raise UserError(
            f"a source named '{name}' already exists; choose another with --name, or remove it first "
            f"(docket sources remove {name})"
        )
    check_access_list(access)
    build_connector(type_, settings)
    config = remote_config(type_, settings, schedule=schedule, workspace=workspace, tags=tags, access=access)
    store.ledger.add_source(name, config)
    return config


_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.I)


def secret_references(settings: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(option, "env" or "file", variable or path) for each secret a connector's settings read:
    ``*_env`` options, ``*_file`` options and ``env:VAR`` values (a database URL from the environment)."""
    found = []
    for key, value in settings.items():
        if not isinstance(value, str) or not value:
            continue
        if key.endswith("_env"):
            found.append((key, "env", value))
        elif key.endswith("_file"):
            found.append((key, "file", value))
        elif value.startswith("env:"):
            found.append((key, "env", value[4:]))
    return found


def check_secret_references(settings: Mapping[str, Any], env_prefix: str, secrets_dir: Path) -> None:
    """Refuse settings (from the server's API) that read environment variables without
    ``env_prefix`` or files outside ``secrets_dir``: an admin of the server's web API must not be
    able to send the server's own secrets (its database URL, model keys, any file) to a host."""
    root = secrets_dir.expanduser().resolve()
    for key, kind, where in secret_references(settings):
        if kind == "env" and not where.startswith(env_prefix):
            raise UserError(
                f"settings.{key}: a source added over the API reads passwords only from environment variables "
                f"whose names start with {env_prefix} (server.secret_env_prefix); set {env_prefix}... on the server"
            )
        if kind == "file" and not Path(where).expanduser().resolve().is_relative_to(root):
            raise UserError(
                f"settings.{key}: a source added over the API reads password files only under {root} "
                "(server.secrets_dir)"
            )


def redact_secrets(text: str, settings: Mapping[str, Any]) -> str:
    """``text`` (a connector's error) without the secrets its settings read, nor a URL's password."""
    values: list[str] = []
    for _key, kind, where in secret_references(settings):
        try:
            value = os.environ.get(where, "") if kind == "env" else Path(where).expanduser().read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        values.append(value)
        match = _URL_PASSWORD.search(value)
        if match:  # a URL from the environment: its password alone may show
            values.append(value[match.end("head") : match.end() - 1])
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, "[secret]")
    return _URL_PASSWORD.sub(r"\g<head>****@", text)


def sync_remote(
    store: Store,
    embedder: Embedder,
    name: str,
    connector: Connector | None,
    config: SourceConfig,
    *,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
    max_item_bytes: int = 100 * 1024 * 1024,
    progress: Progress | None = None,
    tables: TableStore | None = None,
    max_table_rows: int = 100_000,
    sandbox: Sandbox | None = None,
    limits: ParseLimits | None = None,
    retry_failed: bool = False,
) -> SyncReport:
    """Bring the index in line with remote source ``name`` and report what changed.

    Items are parsed in ``sandbox``'s workers when given, else in this process, under ``limits``.
    An item that failed to parse before is fetched (the connector cannot tell) but not parsed
    again while its bytes are the same (``failed_before``), unless ``retry_failed``.

    ``connector`` None builds it from ``config``. Errors of the whole source (the connector cannot
    be built, or raises :class:`~docket.errors.SourceError`) are reported as one failure whose path
    is the source's name, and saved as its ``last_error``; nothing indexed is removed.
    A database source's rows (``Listing.table``) are loaded into ``tables`` after a complete
    listing, when there are at most ``max_table_rows`` of them.
    """
    started = time.perf_counter()
    report = SyncReport()
    workspace, tags, access = config.workspace, config.tags, config.access
    store.bind_embedder(embedder.name, embedder.dim)
    indexed = {doc.path: doc for doc in store.documents(name)}
    known = {path: str(doc.metadata.get("version") or doc.content_hash) for path, doc in indexed.items()}
    indexer = Indexer(store, embedder, report, max_tokens, overlap_tokens)
    failed = FailedBefore(
        store, name, functools.partial(tried_with, max_item_bytes, limits, sandbox), retry=retry_failed
    )
    seen: set[str] = set()

    secrets_of = config.settings

    def fail(key: str, reason: str, attempt: ParseAttempt | None = None) -> None:
        reason = redact_secrets(reason, secrets_of)
        report.failed.append({"path": key, "error": reason})
        store.ledger.record_failure(name, key, reason, attempt)

    def index(item: Fetched) -> None:
        existing = indexed.get(item.key)
        acl = access if item.access is None else item.access  # a ticket's group may narrow it
        if existing and (existing.workspace, existing.access, existing.tags) != (workspace, acl, tags):
            store.update_document(existing.id, workspace=workspace, access=acl, tags=tags)
        if len(item.data) > max_item_bytes:
            raise SourceError(
                f"too large ({len(item.data) / 1e6:.1f} MB > {max_item_bytes / 1e6:.0f} MB limit); "
                "raise ingest.max_file_mb to index it"
            )
        digest = hashlib.sha256(item.data).hexdigest()
        if existing and existing.content_hash == digest:  # a new version string, the same content
            # metadata may change without the content (a mail's flags): keep it current
            current = {**existing.metadata, **item.metadata, "version": item.version}
            store.update_document(existing.id, metadata=current)
            report.unchanged += 1
            return
        before = failed.same_content(item.key, len(item.data), digest)
        if before is not None:
            report.failed_before.append({"path": item.key, "error": before})
            return
        try:
            parsed = parse_with(sandbox, item.data, f"item.{item.filetype}", limits)
        except DocketError as exc:
            attempt = failed.attempt(len(item.data), item.mtime, digest) if remembered(exc) else None
            fail(item.key, str(exc), attempt)
            return
        title = (item.title or str(parsed.title or "")).strip() or item.key
        metadata: dict[str, Any] = {**parsed.metadata, **item.metadata, "version": item.version}
        if item.url:
            metadata["url"] = item.url
        doc = Document(
            id=existing.id if existing else uuid.uuid4().hex,
            source=name,
            path=item.key,
            title=title,
            filetype=item.filetype,
            content_hash=digest,
            size=len(item.data),
            mtime=item.mtime if item.mtime is not None else time.time(),
            workspace=workspace,
            access=acl,
            tags=tags,
            metadata=metadata,
        )
        for warning in parsed.warnings:
            report.warnings.append({"path": item.key, "warning": warning})
        ocr, unreadable = page_counts(parsed.metadata.get(QUALITY_KEY))
        report.pages_ocr, report.pages_unreadable = report.pages_ocr + ocr, report.pages_unreadable + unreadable
        indexer.add(doc, parsed, is_new=existing is None)

    try:
        if connector is None:
            connector = build_connector(config.type, config.settings)
        listing = connector.fetch(known, dict(config.checkpoint))
        if listing.table is not None:
            listing.table.limit = max_table_rows
        for done, item in enumerate(listing.items, start=1):
            seen.add(item.key)
            try:
                index(item)
            except DocketError as exc:
                fail(item.key, str(exc))
            if progress is not None:
                progress(done, 0, item.key)
        indexer.flush()
    except Exception as exc:  # a connector's failure (or bug) is this source's error, never the others'
        indexer.flush()  # what was fetched before the failure is kept; nothing is deleted
        reason = str(exc) if isinstance(exc, DocketError) else f"{type(exc).__name__}: {exc}"
        reason = redact_secrets(reason, secrets_of)  # a server's answer may quote what it was sent
        report.failed.append({"path": name, "error": reason})
        report.seconds = time.perf_counter() - started
        close_stages(report)
        failed_run = replace(config, last_error=reason, last_result=report.to_dict(), last_run=time.time())
        store.ledger.add_source(name, failed_run)
        return report
    for key in listing.unchanged:
        if key in indexed:
            report.unchanged += 1
    for key, reason in listing.failed.items():
        fail(key, reason)
    if listing.complete and listing.table is not None and tables is not None:
        _load_table(tables, name, listing.table, max_table_rows, report)
    if listing.complete:
        keep = seen | set(listing.unchanged) | set(listing.failed)
        for path, doc in indexed.items():
            if path not in keep:
                store.delete_document(doc.id)
                report.deleted += 1
    report.seconds = time.perf_counter() - started
    close_stages(report)
    synced = replace(
        config, checkpoint=dict(listing.checkpoint), last_error=None, last_result=report.to_dict(), last_run=time.time()
    )
    store.ledger.add_source(name, synced)
    store.ledger.mark_synced(name)
    return report


def _load_table(tables: TableStore, name: str, table: SourceTable, limit: int, report: SyncReport) -> None:
    """Load (or replace, or drop) source ``name``'s rows as its SQL table; a note in the report when not."""
    rows = [] if table.overflow else table.rows
    notes = tables.load_rows(name, table.name or name, table.header, rows)
    if table.overflow:
        notes.append(
            f"not loaded as a table: {table.seen:,} rows, more than ingest.table_max_rows ({limit:,}); "
            "raise it to answer counts and totals from this source"
        )
    report.warnings.extend({"path": name, "warning": note} for note in notes)


def describe_sources(store: Store, now: float | None = None) -> list[dict[str, Any]]:
    """Every source with its document count, stored config, last result and next scheduled run
    (what ``docket sources list`` and the server's sources page show)."""
    moment = time.time() if now is None else now
    counts: dict[str, int] = {}
    for doc in store.documents():
        counts[doc.source] = counts.get(doc.source, 0) + 1
    return [
        {
            "name": name,
            "documents": counts.get(name, 0),
            **config.to_dict(),
            "next_run": next_run(config, moment) if config.schedule else None,
        }
        for name, config in store.ledger.sources().items()
    ]


# ------------------------------------------------------------------ scheduling
def _timestamp(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    return now.timestamp() if isinstance(now, datetime) else float(now)


def next_run(config: SourceConfig, now: datetime | float | None = None) -> float | None:
    """When a scheduled source is next due (POSIX time, the server's local time zone for the cron
    fields); None when it has no schedule. A source never synced is due at once."""
    schedule = config.schedule
    if not schedule:
        return None
    try:
        from croniter import croniter
    except ImportError:
        raise MissingExtraError("croniter", "server", "Scheduled syncs") from None

    last = config.last_run or config.last_sync
    if not last:
        return _timestamp(now)
    base = datetime.fromtimestamp(float(last)).astimezone()
    return float(croniter(schedule, base).get_next(float))
