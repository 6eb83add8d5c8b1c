"""Files that failed to parse are not parsed again until they change, or Docket does.

A file that fails to parse (a :class:`~docket.errors.ParseError`: corrupt, encrypted, empty, too
large, an unsupported type, a parser that hangs, runs out of memory or crashes) is recorded with a
:class:`~docket.types.ParseAttempt`: its size, modification time and (when it was read) content
hash, the Docket version that tried, and ``tried_with``, a digest of the rest of what decides a
parse's outcome: the file size limit, the parse limits, the sandbox's time and memory limits (or
no sandbox), whether the OCR engine is installed, and the parser plugins installed
(``docket.parsers`` entry points, with their versions).

Every sync (folder, remote source, the PostgreSQL work queue) skips such a file while it still
matches: by size and modification time without reading it, or, once read because its time
changed, by content hash (the same bytes uploaded again are not parsed again). It keeps its
failure in ``Ledger.failures()`` and is reported in ``SyncReport.failed_before`` with the reason
recorded then, so a hostile file costs the sandbox's time limit once, not on every sync.

It is parsed again as soon as its content changes, Docket is upgraded, a limit or parser plugin
changes, or the caller asks (``retry_failed``: ``docket sync --retry-failed``, a job's Retry in
the server). Failures that are not the file's own are recorded without an attempt and tried
again every time: a file that could not be read (permissions), a parse worker that did not start
(:class:`~docket.errors.ParseWorkerError`), an embedder or store error, a remote item that could
not be fetched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from docket.errors import ParseError, ParseWorkerError
from docket.ingest.limits import ParseLimits
from docket.ingest.ocr import ocr_available
from docket.ledger import Store
from docket.types import ParseAttempt

if TYPE_CHECKING:
    from docket.config import IngestSettings
    from docket.ingest.sandbox import Sandbox

__all__ = ["FailedBefore", "docket_version", "remembered", "tried_with", "tried_with_settings"]


def docket_version() -> str:
    """The version of the Docket that is running (read each time, so an upgrade is seen)."""
    from docket import version

    return str(version.__version__)


def remembered(exc: BaseException) -> bool:
    """Whether a failure is the file's own, and so is not tried again while nothing changes."""
    return isinstance(exc, ParseError) and not isinstance(exc, ParseWorkerError)


@lru_cache(maxsize=1)
def _parser_plugins() -> tuple[tuple[str, str, str], ...]:
    """(name, object, distribution version) of each third-party parser. Read once per process, as
    the parser registry reads them: a plugin installed later needs a restart either way."""
    from docket.registry import installed_entry_points

    found = []
    for ep in installed_entry_points("docket.parsers"):
        dist = getattr(ep, "dist", None)
        found.append((ep.name, ep.value, str(getattr(dist, "version", "") or "")))
    return tuple(sorted(found))


def _digest(max_bytes: int, limits: ParseLimits, sandbox: tuple[float, int] | None) -> str:
    facts = {
        "max_bytes": int(max_bytes),
        "limits": asdict(limits),
        # an image refused because the OCR engine was missing is read again once it is installed
        "ocr": limits.ocr and ocr_available(limits.ocr_engine),
        "sandbox": None if sandbox is None else [float(sandbox[0]), int(sandbox[1])],
        "parsers": [list(p) for p in _parser_plugins()],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def tried_with(max_bytes: int, limits: ParseLimits | None, sandbox: Sandbox | None) -> str:
    """The digest of what a sync parses with: files above ``max_bytes`` are refused, ``limits``
    apply, in ``sandbox``'s workers (its time and memory limits) or in this process when None."""
    workers = None if sandbox is None else (sandbox.timeout, sandbox.memory_mb)
    return _digest(max_bytes, limits or ParseLimits(), workers)


def tried_with_settings(ingest: IngestSettings) -> str:
    """:func:`tried_with` for the parse the ``ingest`` settings ask for."""
    from docket.ingest.sandbox import limits_from_settings

    return _digest(
        int(ingest.max_file_mb * 1024 * 1024),
        limits_from_settings(ingest),
        (ingest.parse_timeout, ingest.parse_memory_mb) if ingest.sandbox else None,
    )


class FailedBefore:
    """The failures recorded for one source, and the rule that says which are not parsed again.

    ``retry`` True forgets them all for this sync: every failed file is tried again (their
    records are replaced by the outcome)."""

    def __init__(self, store: Store, source: str, tried_with: str | Callable[[], str], *, retry: bool = False) -> None:
        ledger = store.ledger
        self._tried_with = tried_with
        self.version = docket_version()
        self._failed: dict[str, tuple[str, ParseAttempt]] = {}
        if retry:
            return
        for failure in ledger.failures(source):
            attempt = ParseAttempt.from_dict(failure.get("attempt"))
            if attempt is not None and (attempt.docket_version, attempt.tried_with) == (self.version, self.tried_with):
                self._failed[str(failure["path"])] = (str(failure["error"]), attempt)

    @cached_property
    def tried_with(self) -> str:
        """The digest of what this sync parses with; given as a function, it is computed (parser
        plugins, OCR engine) only when a failure is met, so a clean sync never pays for it."""
        return self._tried_with if isinstance(self._tried_with, str) else self._tried_with()

    def attempt(self, size: int, mtime: float | None, content_hash: str | None = None) -> ParseAttempt:
        """What to record with a failure of the file as it is now."""
        return ParseAttempt(size, mtime, content_hash, self.version, self.tried_with)

    def unchanged(self, path: str, size: int, mtime: float) -> str | None:
        """The reason ``path`` failed before, if it still has the size and modification time it had
        then (so it need not even be read); None means: go on."""
        found = self._failed.get(path)
        if found is None or found[1].mtime is None:
            return None
        return found[0] if (found[1].size, found[1].mtime) == (size, mtime) else None

    def same_content(self, path: str, size: int, content_hash: str) -> str | None:
        """The reason ``path`` failed before, if its bytes are the ones that failed then (touched,
        copied back or uploaded again); None means: parse it."""
        found = self._failed.get(path)
        if found is None or found[1].content_hash is None:
            return None
        return found[0] if (found[1].size, found[1].content_hash) == (size, content_hash) else None
