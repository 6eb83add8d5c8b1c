"""What the parts of the knowledge base (:mod:`~docket.kb.answers`, :mod:`~docket.kb.documents`,
:mod:`~docket.kb.sources`) use of it: :class:`Core`.

The parts are functions of a knowledge base; they take a ``Core`` rather than the
:class:`~docket.kb.KnowledgeBase` itself, so they depend on this small interface and the facade
depends on them — never the other way round. ``KnowledgeBase`` satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from docket.answer.scope import Catalog
    from docket.config import Settings
    from docket.index.search import Mode
    from docket.index.tables import TableStore
    from docket.ingest.sync import Progress
    from docket.ledger import Ledger, Store
    from docket.protocols import ChatModel, Embedder
    from docket.types import Access, Answer, Filters, Hit, SyncReport

__all__ = ["Core"]


class Core(Protocol):
    """One knowledge base as its parts see it: its settings, store, ledger, embedder and tables,
    and the few operations the parts call back into."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def tables(self) -> TableStore: ...

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        filters: Filters = ...,
        access: Access = ...,
    ) -> list[Hit]: ...

    def sync(
        self,
        names: Iterable[str] | None = None,
        progress: Progress | None = None,
        retry_failed: bool = False,
        rehash: bool = False,
    ) -> SyncReport: ...

    def catalog(self, access: Access = ...) -> Catalog: ...

    def profile_missing(self) -> int: ...

    def parse_options(self) -> dict[str, Any]: ...

    def answering_model(self, model: str | ChatModel | None) -> ChatModel | None: ...

    def prompt_guard(
        self, chat: ChatModel | None, on_prompt: Callable[[Any], None] | None
    ) -> Callable[[Any], None]: ...

    def priced(self, answer: Answer) -> Answer: ...

    def log_answer(self, answer: Answer, prompt: str | None, latency_ms: float) -> int: ...
