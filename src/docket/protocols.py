"""The contracts backends implement. Orchestration code depends on these, never on a backend."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from docket.types import Access, Chunk, Document, Filters, Hit, ParsedDocument

__all__ = ["ChatModel", "DocumentIndex", "DocumentPaging", "Embedder", "Parser", "Reembedding"]


@runtime_checkable
class Parser(Protocol):
    """Turns the bytes of one file into structured blocks."""

    name: str
    extensions: tuple[str, ...]

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        """Raise :class:`docket.errors.ParseError` with a one-line reason when the file can't be read."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Maps text to unit-length vectors. ``name`` and ``dim`` are recorded in every index."""

    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class ChatModel(Protocol):
    """A language model behind a chat API. ``complete`` sends ``prompt`` as is.

    ``prompt`` is a :class:`docket.models.prompts.Prompt`; the call returns a
    :class:`docket.models.chat.Completion`. ``stream``, when given, receives the text as it arrives.
    Failures raise :class:`docket.errors.ModelError` with a one-line reason naming the provider.
    """

    name: str

    def complete(self, prompt: Any, stream: Callable[[str], None] | None = None) -> Any: ...


@runtime_checkable
class DocumentIndex(Protocol):
    """Documents, chunks, keyword index and vectors of one knowledge base: what every backend does.

    Every write that changes a document is atomic: after a crash the index holds either the old or
    the new version of that document, never a mix. Every read that returns text takes an
    :class:`~docket.types.Access` and applies it inside the query. The bookkeeping kept beside the
    documents (sources, failures, the answer log, conversations) is not part of it: that is
    :class:`docket.ledger.Ledger`, written once over SQL. :mod:`docket.testing` holds the tests a
    backend must pass.
    """

    # -- the embedder the vectors come from
    def bind_embedder(self, name: str, dim: int, spec: Mapping[str, Any] | None = None) -> None:
        """Record the embedder (and the settings that rebuild it, ``spec``) on first use; raise
        IndexMismatchError if another one built the index. Later writes from this process are
        refused once the index has switched to another embedder."""
        ...

    def embedder_info(self) -> tuple[str, int] | None: ...

    def generation(self) -> int:
        """A number that changes whenever a document is added, changed or removed, so callers can
        cache what they derive from documents (their profiles, say) and know when to refresh it."""
        ...

    # -- documents
    def documents(
        self,
        source: str | None = None,
        access: Access | None = None,
        *,
        path: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> Iterator[Document]:
        """Documents (of one source; at one ``path`` of it; with these ``ids``), limited inside the
        query to those ``access`` may read; by source, then path. :func:`docket.index.get_document`
        and :func:`docket.index.document_by_id` look one up."""
        ...

    def document_text(self, doc_id: str) -> str:
        """The text extracted from the document when it was indexed; NotFoundError when none."""
        ...

    def chunks(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in order."""
        ...

    def put_document(
        self, doc: Document, chunks: Sequence[Chunk], vectors: Mapping[str, np.ndarray], text: str
    ) -> None:
        """Insert or replace ``doc`` and all its chunks; ``vectors`` maps chunk hash -> vector."""
        ...

    def update_document(self, doc_id: str, **fields: Any) -> None:
        """Change metadata (path, mtime, size, tags, access...) without touching chunks."""
        ...

    def delete_document(self, doc_id: str) -> None: ...

    def vectors_for(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for these chunk hashes, from any document."""
        ...

    # -- retrieval
    def keyword_search(self, query: str, k: int, filters: Filters, access: Access) -> list[tuple[int, float]]:
        """BM25 over the query's terms, divided by the sum of their idf (so about 1.0 for a passage
        of average length containing each query term once); best first, only scores above 0."""
        ...

    def vector_search(
        self, vector: np.ndarray, k: int, filters: Filters, access: Access
    ) -> list[tuple[int, float]]: ...

    def hits(self, scored: Sequence[tuple[int, float]], access: Access) -> list[Hit]:
        """Materialise chunk ids into hits (re-checking access)."""
        ...

    def document_hits(self, doc_id: str, access: Access) -> list[Hit]:
        """Every chunk of one document as hits (score 0), in document order; empty when the
        document does not exist or the caller may not read it."""
        ...

    # -- housekeeping
    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class DocumentPaging(Protocol):
    """An index that pages, searches and counts its documents in one query (optional: for an index
    without it, :func:`docket.index.document_page` filters :meth:`DocumentIndex.documents`)."""

    def document_page(
        self, filters: Filters, access: Access, *, text: str = "", offset: int = 0, limit: int = 100
    ) -> tuple[list[Document], int]:
        """One page of the documents ``access`` may read that meet ``filters`` and whose path or
        title contains ``text`` (any case): by source, then path, ``limit`` of them from ``offset``;
        with how many match in all. Access applies inside the query, so the count never includes a
        document the caller may not read."""
        ...


@runtime_checkable
class Reembedding(Protocol):
    """What an index needs so that ``docket reindex`` can switch it to another embedder while it
    keeps answering (optional: an index without it is rebuilt by ingesting again)."""

    def embedder_spec(self) -> dict[str, Any] | None:
        """The settings the index's embedder was built from (no secrets), if recorded."""
        ...

    def chunk_texts(self) -> list[tuple[str, str]]:
        """``(hash, indexed text)`` of every distinct chunk: what an embedder switch re-embeds."""
        ...

    def swap_embedder(
        self,
        name: str,
        dim: int,
        spec: Mapping[str, Any] | None,
        vectors_for: Callable[[list[tuple[str, str]]], Mapping[str, np.ndarray]],
    ) -> None:
        """Atomically give every chunk its vector from the new embedder and record it. Writers wait
        while ``vectors_for`` (given every chunk's hash and text, under the write lock, so nothing
        changed since is missed) returns the vectors; readers see the old index until the commit."""
        ...
