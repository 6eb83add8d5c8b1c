"""Incremental sync of a folder (or single file) into a store.

For each file: if its size and modification time match the indexed document it is unchanged and
is not even read (``rehash=True`` reads and hashes it all the same, for copies that keep the
modification time of changed content). Otherwise its bytes are hashed; the same hash means unchanged (the new mtime is
recorded), a hash that matches a document whose file has disappeared means a rename (the path is
updated, nothing is re-embedded). Changed and new files are parsed and chunked; chunks whose
content hash already has a vector in the store reuse it, the rest are embedded in batches. Each
document is written in its own transaction, so an interrupted sync leaves a consistent index and
the next run picks up where it stopped. Files that disappeared are removed from the index.
The embedder can be given as a function that loads it: it is called on the first file that needs
chunking, so a sync where nothing changed never loads the model.

A file that fails to parse is reported with a one-line reason and the batch goes on; if an older
version of it was indexed, that version stays searchable. It is not parsed again while neither it
nor Docket changes (:mod:`docket.ingest.failures`): later syncs report it in ``failed_before``.
Given a :class:`~docket.ingest.sandbox.Sandbox`, files are parsed in its worker processes under a
time and memory limit (``ingest.sandbox``); the :class:`~docket.ingest.limits.ParseLimits` (pages,
unzipped size, attachments) apply either way.

With a ``tables`` store, spreadsheets are also loaded as SQL tables (:mod:`docket.index.tables`):
when indexed, when unchanged but not loaded yet, and dropped when their file disappears.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

import docket.ingest.sheet_tables  # noqa: F401  (registers the spreadsheet reader the table stores load files with)
from docket.errors import DocketError, ParseError, PathNotFoundError, UserError
from docket.index import get_document
from docket.ingest.chunking import chunk_document, estimate_tokens
from docket.ingest.failures import FailedBefore, remembered, tried_with
from docket.ingest.limits import ParseLimits, applied_limits
from docket.ingest.ocr import ocr_available
from docket.ingest.parsers import parse_bytes
from docket.ingest.profiles import PROFILE_KEY, extract_profile, merge_edits
from docket.ingest.quality import QUALITY_KEY, page_counts, unread_scan
from docket.ledger import SourceConfig, Store
from docket.protocols import Embedder
from docket.sentences import unit_spans
from docket.types import (
    DEFAULT_WORKSPACE,
    Chunk,
    Document,
    ParseAttempt,
    ParsedDocument,
    SentenceVectors,
    SyncReport,
    check_workspace_name,
)

if TYPE_CHECKING:
    from docket.index.tables import TableStore
    from docket.ingest.sandbox import Sandbox

__all__ = [
    "STAGES",
    "FileDone",
    "FolderSource",
    "Indexer",
    "Progress",
    "close_stages",
    "source_for_path",
    "sync_source",
]

# progress(done, total, current_path): called after each file is handled.
Progress = Callable[[int, int, str], None]
FileDone = Callable[[str, str | None], None]  # a file was processed: its path, the error (None: indexed or unchanged)

# Chunks gathered before embedding. The embedder sorts them by length before cutting its own
# batches (MiniLM: 32), so a wider window pads less: 256 instead of 64 embeds ~15% more chunks/s
# (bench/RESULTS.md, "Ingest: where the time goes"); memory stays that of one 32-text batch.
EMBED_BATCH = 256

# The stages of SyncReport.stages, in pipeline order. "embed_tokenize" and "embed_model" are the
# embedder's own split where it keeps one (MiniLM); otherwise the whole call is "embed_model".
# "embed_pool" is the rest of the embedding call: mean pooling and sentence-span vectors.
# "keywords" is the store's keyword analysis (where it keeps the figure), the rest of a document's
# write (its SQLite transaction and commit) "write". "other" is what no stage covers.
STAGES = (
    "walk",  # listing the files and the indexed documents
    "read",  # stat, reading, hashing, the unchanged/renamed/failed-before bookkeeping
    "parse",  # parsing, in the sandbox worker when there is one (its start included)
    "profile",  # the document profile (organisations, dates)
    "embed_load",  # loading the embedder, on the first file to chunk (0 when given loaded)
    "chunk",  # chunking, token counting included
    "reuse",  # looking up vectors the store already has
    "embed_tokenize",
    "embed_model",
    "embed_pool",
    "sentences",  # writing the sentence vectors
    "keywords",
    "write",
    "tables",  # loading spreadsheets as SQL tables
    "finish",  # removing vanished files, pruning, marking the source synced
    "other",
)


@contextmanager
def _timed(stages: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started


def _counter(owner: object, name: str) -> float:
    """A seconds counter some embedders and stores keep in ``timings`` (0 where none)."""
    return float(getattr(owner, "timings", {}).get(name, 0.0))


@dataclass(frozen=True)
class FolderSource:
    """A folder (or one file) on this machine, indexed under ``name``."""

    name: str
    root: Path
    is_file: bool = False
    display: str = ""
    workspace: str = DEFAULT_WORKSPACE
    tags: tuple[str, ...] = ()
    access: tuple[str, ...] = ()

    def config(self) -> SourceConfig:
        return SourceConfig(
            type="file" if self.is_file else "folder",
            path=str(self.root),
            display=self.display,
            workspace=self.workspace,
            tags=self.tags,
            access=self.access,
        )

    @classmethod
    def from_config(cls, name: str, config: SourceConfig) -> FolderSource:
        return cls(
            name=name,
            root=Path(config.path or ""),
            is_file=config.type == "file",
            display=config.display,
            workspace=config.workspace,
            tags=config.tags,
            access=config.access,
        )


def source_for_path(
    given: str, workspace: str = DEFAULT_WORKSPACE, tags: Sequence[str] = (), access: Sequence[str] = ()
) -> FolderSource:
    """The source for a path typed by the user; a clear error when it does not exist."""
    check_workspace_name(workspace)
    path = Path(given).expanduser()
    if not path.exists():
        raise PathNotFoundError(f"{given}: no such file or folder. Check the path and try again.")
    resolved = path.resolve()
    if path.is_dir():
        if not os.access(resolved, os.R_OK | os.X_OK):
            raise UserError(f"{given}: the folder is not readable; check its permissions.")
        return FolderSource(str(resolved), resolved, False, given, workspace, tuple(tags), tuple(access))
    display = given if not os.path.isabs(given) else resolved.name
    return FolderSource(str(resolved), resolved, True, display, workspace, tuple(tags), tuple(access))


def _ignored(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _walk(source: FolderSource, ignore: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """(path as shown to users, absolute path) of every file of the source, sorted."""
    if source.is_file:
        if source.root.is_file():
            yield source.display or source.root.name, source.root
        return
    for dirpath, dirnames, filenames in os.walk(source.root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d, ignore))
        for filename in sorted(filenames):
            if _ignored(filename, ignore):
                continue
            full = Path(dirpath) / filename
            if full.is_symlink() and not full.is_file():
                continue
            yield full.relative_to(source.root).as_posix(), full


@dataclass
class _Pending:
    """A chunked document waiting for its chunks' vectors."""

    doc: Document
    chunks: list[Chunk]
    text: str
    is_new: bool
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


class Indexer:
    """Chunks parsed documents, embeds their new chunks in batches, and writes each document.

    Vectors of chunks whose content hash the store already knows are reused, not recomputed.
    Call :meth:`flush` at the end; documents are written (each atomically) as batches fill.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        report: SyncReport,
        max_tokens: int = 256,
        overlap_tokens: int = 32,
    ) -> None:
        self.store, self.embedder, self.report = store, embedder, report
        self.max_tokens, self.overlap_tokens = max_tokens, overlap_tokens
        self.count_tokens = getattr(embedder, "count_tokens", None) or estimate_tokens
        self.pending: list[_Pending] = []
        self.to_embed: dict[str, str] = {}
        self.units: dict[str, tuple[int, list[tuple[int, int]]]] = {}  # hash -> (text offset, unit spans)
        # embedders that can pool token vectors per span give every sentence a vector at no extra cost
        self.embed_with_spans = getattr(embedder, "embed_with_spans", None)

    def add(self, doc: Document, parsed: ParsedDocument, is_new: bool = True) -> None:
        stages = self.report.stages
        with _timed(stages, "profile"):
            doc = with_profile(doc, parsed, None if is_new else get_document(self.store, doc.source, doc.path))
        with _timed(stages, "chunk"):
            chunks = chunk_document(parsed, doc.title, self.max_tokens, self.overlap_tokens, self.count_tokens)
        item = _Pending(doc, chunks, parsed.text, is_new)
        with _timed(stages, "reuse"):
            known = self.store.vectors_for(c.hash for c in item.chunks)
        item.vectors.update(known)
        for chunk in item.chunks:
            if chunk.hash in known:
                self.report.chunks_reused += 1
            elif chunk.hash not in self.to_embed:
                self.to_embed[chunk.hash] = chunk.indexed_text
                if self.embed_with_spans is not None:
                    self.units[chunk.hash] = (len(chunk.indexed_text) - len(chunk.text), unit_spans(chunk.text))
        self.pending.append(item)
        if len(self.to_embed) >= EMBED_BATCH:
            self.flush()

    def _embed(self, texts: list[str], spans: list[list[tuple[int, int]]] | None) -> tuple[np.ndarray, list]:
        """The embedding call, its time split into tokenising, the model and pooling."""
        tokenize, model = _counter(self.embedder, "tokenize"), _counter(self.embedder, "model")
        started = time.perf_counter()
        if spans is not None and self.embed_with_spans is not None:
            vectors, parts = self.embed_with_spans(texts, spans)
        else:
            vectors, parts = self.embedder.embed_passages(texts), []
        total = time.perf_counter() - started
        # clamped: another thread's calls on the same embedder must not push the sum past the wall time
        tokenize = min(max(_counter(self.embedder, "tokenize") - tokenize, 0.0), total)
        model = min(max(_counter(self.embedder, "model") - model, 0.0), total - tokenize)
        if not hasattr(self.embedder, "timings"):
            model = total
        stages = self.report.stages
        for name, seconds in (("embed_tokenize", tokenize), ("embed_model", model)):
            stages[name] = stages.get(name, 0.0) + seconds
        stages["embed_pool"] = stages.get("embed_pool", 0.0) + total - tokenize - model
        return vectors, parts

    def _write(self, item: _Pending) -> None:
        keywords = _counter(self.store, "keywords")
        started = time.perf_counter()
        self.store.put_document(item.doc, item.chunks, item.vectors, item.text)
        self.store.ledger.clear_failure(item.doc.source, item.doc.path)  # indexed: it fails no more
        total = time.perf_counter() - started
        keywords = min(max(_counter(self.store, "keywords") - keywords, 0.0), total)
        stages = self.report.stages
        stages["keywords"] = stages.get("keywords", 0.0) + keywords
        stages["write"] = stages.get("write", 0.0) + total - keywords

    def flush(self) -> None:
        if self.to_embed:
            hashes = list(self.to_embed)
            texts = [self.to_embed[h] for h in hashes]
            if self.embed_with_spans is not None:
                spans = [[(a + self.units[h][0], b + self.units[h][0]) for a, b in self.units[h][1]] for h in hashes]
                vectors, parts = self._embed(texts, spans)
                with _timed(self.report.stages, "sentences"):
                    self.store.ledger.put_sentence_vectors(
                        self.embedder.name,
                        {h: SentenceVectors.of(self.units[h][1], part) for h, part in zip(hashes, parts, strict=True)},
                    )
                self.units = {}
            else:
                vectors, _ = self._embed(texts, None)
            computed = dict(zip(hashes, vectors, strict=True))
            self.report.chunks_embedded += len(hashes)
            self.to_embed = {}
        else:
            computed = {}
        for item in self.pending:
            for chunk in item.chunks:
                if chunk.hash not in item.vectors:
                    item.vectors[chunk.hash] = computed[chunk.hash]
            self._write(item)
            if item.is_new:
                self.report.added += 1
            else:
                self.report.updated += 1
        self.pending = []


def _loaded(embedder: Embedder | Callable[[], Embedder]) -> bool:
    """Whether ``embedder`` is an embedder, not a function that loads one."""
    return hasattr(embedder, "embed_passages")


def _indexer(
    store: Store,
    embedder: Embedder | Callable[[], Embedder],
    report: SyncReport,
    max_tokens: int,
    overlap_tokens: int,
) -> Indexer:
    """The Indexer of a sync, the embedder loaded (stage "embed_load") and bound to the store."""
    if not _loaded(embedder):
        with _timed(report.stages, "embed_load"):
            embedder = cast("Callable[[], Embedder]", embedder)()
            store.bind_embedder(embedder.name, embedder.dim)
    return Indexer(store, cast(Embedder, embedder), report, max_tokens, overlap_tokens)


def with_profile(doc: Document, parsed: ParsedDocument, previous: Document | None = None) -> Document:
    """``doc`` with its profile (:mod:`docket.ingest.profiles`) in its metadata; fields an admin
    corrected on the ``previous`` version are kept."""
    profile = extract_profile(parsed, doc.title, doc.path)
    if previous is not None:
        profile = merge_edits(profile, previous.metadata.get(PROFILE_KEY))
    return replace(doc, metadata={**doc.metadata, PROFILE_KEY: profile.to_dict()})


def sync_source(
    store: Store,
    embedder: Embedder | Callable[[], Embedder],
    source: FolderSource,
    *,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
    max_file_bytes: int = 100 * 1024 * 1024,
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    tables: TableStore | None = None,
    sandbox: Sandbox | None = None,
    limits: ParseLimits | None = None,
    retry_failed: bool = False,
    only: Collection[str] | None = None,
    on_file: FileDone | None = None,
    rehash: bool = False,
) -> SyncReport:
    """Bring the index in line with the files of ``source`` and report what changed.

    ``embedder``: the embedder, or a function returning it, called only once a file needs chunking
    (nothing changed: the model is never loaded). ``rehash``: read and hash every file, even those
    whose size and modification time match the index (an edit that kept the time: ``cp -p``,
    ``rsync -t``, an archive unpacked again).

    ``only``: the paths (relative to the source) to look at, the rest of the source left as it is
    (an upload job and its own files); ``on_file`` is told each file's outcome as it is processed.

    Files are parsed in ``sandbox``'s workers when given, else in this process, under ``limits``.
    Files that failed to parse before and have not changed since are not parsed again (they are
    listed in ``failed_before``) unless ``retry_failed``."""
    started = time.perf_counter()
    report = SyncReport()
    stages = report.stages
    with _timed(stages, "walk"):
        if _loaded(embedder):
            store.bind_embedder(cast(Embedder, embedder).name, cast(Embedder, embedder).dim)
        store.ledger.add_source(source.name, source.config())
        indexed = {doc.path: doc for doc in store.documents(source.name)}
        files = list(_walk(source, ignore))
    if only is not None:
        wanted = set(only)
        files = [(shown, full) for shown, full in files if shown in wanted]
        indexed = {p: d for p, d in indexed.items() if p in wanted}
    on_disk = {shown for shown, _ in files}
    vanished = {p: d for p, d in indexed.items() if p not in on_disk}
    vanished_by_hash: dict[str, list[Document]] = {}
    for doc in vanished.values():
        vanished_by_hash.setdefault(doc.content_hash, []).append(doc)
    indexer: Indexer | None = None  # made (and the embedder loaded) for the first file to index
    failed = FailedBefore(
        store, source.name, functools.partial(tried_with, max_file_bytes, limits, sandbox), retry=retry_failed
    )

    @functools.cache
    def ocr_now() -> bool:
        """Whether OCR can run now: a scan indexed without text (OCR off or not installed then) is read again."""
        wanted = limits or ParseLimits()
        return wanted.ocr and ocr_available(wanted.ocr_engine)

    def fail(shown: str, reason: str, attempt: ParseAttempt | None = None) -> None:
        report.failed.append({"path": shown, "error": reason})
        store.ledger.record_failure(source.name, shown, reason, attempt)

    def load_tables(doc: Document, data: bytes) -> None:
        with _timed(stages, "tables"):
            notes = tables.load(doc, data) if tables is not None else ()
        for note in notes:
            report.warnings.append({"path": doc.path, "warning": note})

    for done, (shown, full) in enumerate(files, start=1):
        mark, staged = time.perf_counter(), sum(stages.values())  # "read": the file's time no other stage took
        seen: tuple[int, float, str | None] | None = None  # size, mtime and hash, as far as known
        failures = (len(report.failed), len(report.failed_before))
        try:
            stat = full.stat()
            seen = (stat.st_size, stat.st_mtime, None)
            existing = indexed.get(shown)
            if existing and (existing.workspace, existing.access, existing.tags) != (
                source.workspace,
                source.access,
                source.tags,
            ):
                store.update_document(existing.id, workspace=source.workspace, access=source.access, tags=source.tags)
            untabled = existing is not None and tables is not None and tables.missing(existing)
            rescan = existing is not None and unread_scan(existing.metadata.get(QUALITY_KEY)) and ocr_now()
            if (
                existing
                and existing.size == stat.st_size
                and existing.mtime == stat.st_mtime
                and not (untabled or rescan or rehash)
            ):
                report.unchanged += 1
                continue
            before = None if rehash else failed.unchanged(shown, stat.st_size, stat.st_mtime)
            if before is not None:
                report.failed_before.append({"path": shown, "error": before})
                continue
            if stat.st_size > max_file_bytes:
                raise ParseError(
                    f"file too large ({stat.st_size / 1e6:.1f} MB > {max_file_bytes / 1e6:.0f} MB limit); "
                    "raise ingest.max_file_mb to index it"
                )
            data = full.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            seen = (stat.st_size, stat.st_mtime, digest)
            if existing and existing.content_hash == digest and not rescan:
                store.update_document(existing.id, mtime=stat.st_mtime, size=stat.st_size)
                if untabled:
                    load_tables(existing, data)
                report.unchanged += 1
                continue
            if existing is None and vanished_by_hash.get(digest):
                moved = vanished_by_hash[digest].pop()
                vanished.pop(moved.path, None)
                store.update_document(moved.id, path=shown, mtime=stat.st_mtime, size=stat.st_size)
                if tables is not None and tables.missing(moved):
                    load_tables(moved, data)
                report.renamed += 1
                continue
            before = failed.same_content(shown, stat.st_size, digest)
            if before is not None:  # touched or written again, the same bytes: remember the new time
                store.ledger.record_failure(source.name, shown, before, failed.attempt(*seen))
                report.failed_before.append({"path": shown, "error": before})
                continue
            with _timed(stages, "parse"):
                if sandbox is not None:
                    parsed = sandbox.parse(data, full.name)
                else:
                    with applied_limits(limits or ParseLimits()):
                        parsed = parse_bytes(data, full.name)
            title = str(parsed.title or full.stem).strip() or full.stem
            doc = Document(
                id=existing.id if existing else uuid.uuid4().hex,
                source=source.name,
                path=shown,
                title=title,
                filetype=full.suffix.lower().lstrip(".") or "unknown",
                content_hash=digest,
                size=stat.st_size,
                mtime=stat.st_mtime,
                workspace=source.workspace,
                access=source.access,
                tags=source.tags,
                metadata=dict(parsed.metadata),
            )
            for warning in parsed.warnings:
                report.warnings.append({"path": shown, "warning": warning})
            ocr, unreadable = page_counts(parsed.metadata.get(QUALITY_KEY))
            report.pages_ocr, report.pages_unreadable = report.pages_ocr + ocr, report.pages_unreadable + unreadable
            if indexer is None:
                indexer = _indexer(store, embedder, report, max_tokens, overlap_tokens)
            indexer.add(doc, parsed, is_new=existing is None)
            load_tables(doc, data)
        except DocketError as exc:
            fail(shown, str(exc), failed.attempt(*seen) if seen is not None and remembered(exc) else None)
        except OSError as exc:
            fail(shown, f"cannot read the file: {exc.strerror or exc}")
        finally:
            stages["read"] = stages.get("read", 0.0) + max(
                time.perf_counter() - mark - (sum(stages.values()) - staged), 0.0
            )
            if on_file is not None:
                new = report.failed[failures[0] :] + report.failed_before[failures[1] :]
                on_file(shown, new[-1]["error"] if new else None)
            if progress is not None:
                progress(done, len(files), shown)
    if indexer is not None:
        indexer.flush()
    with _timed(stages, "finish"):
        for doc in vanished.values():
            store.delete_document(doc.id)
            if tables is not None:
                tables.drop(doc.id)
            report.deleted += 1
        if report.deleted or report.updated:
            info = store.embedder_info()
            store.ledger.prune_sentence_vectors(info[0] if info else None)
        store.ledger.mark_synced(source.name)
    report.seconds = time.perf_counter() - started
    close_stages(report)
    return report


def close_stages(report: SyncReport) -> None:
    """Give ``report.stages`` every stage of :data:`STAGES` in order, "other" the time none took."""
    stages = {name: report.stages.get(name, 0.0) for name in STAGES if name != "other"}
    stages["other"] = max(report.seconds - sum(stages.values()), 0.0)
    report.stages = stages
