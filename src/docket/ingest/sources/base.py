"""What a connector is: it lists the items of one remote source and fetches the ones that changed.

A connector (website, mailbox, database) never touches the index. It is given what the index holds
from it (``known``: key -> version) and its checkpoint from the last sync, and returns a
:class:`Listing`: the items it fetched (new or changed), the keys it saw unchanged without fetching
them (HTTP 304, the same mail UID, the same row version), the keys it could not fetch (with a
reason), and whether the listing is ``complete``. The sync engine indexes what was fetched, and
removes from the index only the known keys a *complete* listing did not mention: a failed or partial
crawl is never a deletion.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Connector", "Fetched", "Listing"]


@dataclass(frozen=True)
class Fetched:
    """One item fetched from a source, ready to parse.

    ``key`` identifies it within the source for ever (a URL, ``INBOX/<uidvalidity>/<uid>``, a row's
    primary key) and becomes the document's path; ``version`` changes whenever the content does (an
    ETag, a hash, an ``updated_at`` value). ``filetype`` names the parser (``html``, ``pdf``,
    ``eml``, ``md``, ``txt``...). ``url`` is shown in citations when set.
    """

    key: str
    title: str
    data: bytes
    filetype: str
    version: str
    url: str | None = None
    mtime: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Listing:
    """The result of one fetch. ``items`` may be a generator, so large sources stream."""

    items: Iterator[Fetched]
    unchanged: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # key -> one-line reason
    complete: bool = True
    checkpoint: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """A remote source type, registered by short name in ``docket.ingest.sources.CONNECTORS``."""

    type: str

    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        """List the source and fetch what is new or changed compared with ``known`` (key -> version).

        Connection-level failures (unreachable host, TLS error, authentication refused, 404 start
        page) raise :class:`docket.errors.SourceError` with a one-line reason; failures of single
        items go in ``Listing.failed`` and leave ``complete`` true only if every other key was seen.
        """
        ...
