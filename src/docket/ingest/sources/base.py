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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Connector", "Fetched", "Listing", "SourceTable", "TicketDesk"]


@dataclass(frozen=True)
class Fetched:
    """One item fetched from a source, ready to parse.

    ``key`` identifies it within the source for ever (a URL, ``INBOX/<uidvalidity>/<uid>``, a row's
    primary key) and becomes the document's path; ``version`` changes whenever the content does (an
    ETag, a hash, an ``updated_at`` value). ``filetype`` names the parser (``html``, ``pdf``,
    ``eml``, ``md``, ``txt``...). ``url`` is shown in citations when set. ``access``, when not
    None, is the item's own access list (a help-desk ticket's group), used instead of the source's.
    """

    key: str
    title: str
    data: bytes
    filetype: str
    version: str
    url: str | None = None
    mtime: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    access: tuple[str, ...] | None = None


@dataclass
class SourceTable:
    """Every row of a source as one SQL table, for questions answered by SQL (``docket.index.tables``).

    A connector whose items are rows (a database) puts one in ``Listing.table`` and passes every
    row to :meth:`add` while ``items`` runs, unchanged rows included, as plain values (``int``,
    ``float``, ``str``, ``None``). The sync engine sets ``limit`` before it reads ``items``; a source
    with more rows sets ``overflow`` and keeps none (it is then not loaded as a table). ``name``
    None means the table is named after the source.
    """

    header: Sequence[str]
    name: str | None = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    limit: int | None = None
    overflow: bool = False
    seen: int = 0  # rows offered, also those past the limit

    def add(self, row: Sequence[Any]) -> None:
        self.seen += 1
        if self.overflow:
            return
        if self.limit is not None and len(self.rows) >= self.limit:
            self.overflow = True
            self.rows.clear()
            return
        self.rows.append(tuple(row))


@dataclass
class Listing:
    """The result of one fetch. ``items`` may be a generator, so large sources stream."""

    items: Iterator[Fetched]
    unchanged: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # key -> one-line reason
    complete: bool = True
    checkpoint: dict[str, Any] = field(default_factory=dict)
    table: SourceTable | None = None  # the rows as a table, complete once ``items`` is exhausted


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


@runtime_checkable
class TicketDesk(Connector, Protocol):
    """A help desk (or CRM): a connector whose items are tickets, which can also take an internal
    note on one. Approved drafts of the review queue reach a ticket through :meth:`add_note`; a
    third-party help desk registers in ``CONNECTORS`` like the built-in Zendesk and Freshdesk."""

    def add_note(self, ticket_id: str, text: str) -> str:
        """Write ``text`` to ticket ``ticket_id`` as an internal note, never a reply the customer
        sees; the note's id in the help desk. Raises :class:`docket.errors.SourceError` naming
        the status on refusal (401, 404, 429 after the waits allowed)."""
        ...

    def ticket_key(self, ticket_id: str) -> str:
        """The key (document path) the ticket is indexed under."""
        ...
