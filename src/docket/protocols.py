"""The contracts backends implement. Orchestration code depends on these, never on a backend."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from docket.types import Access, Chunk, Document, Filters, Hit, ParseAttempt, ParsedDocument, SentenceVectors

__all__ = ["ChatModel", "Embedder", "Parser", "Store"]


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

    ``prompt`` is a :class:`docket.answer.prompts.Prompt`; the call returns a
    :class:`docket.models.chat.Completion`. ``stream``, when given, receives the text as it arrives.
    Failures raise :class:`docket.errors.ModelError` with a one-line reason naming the provider.
    """

    name: str

    def complete(self, prompt: Any, stream: Callable[[str], None] | None = None) -> Any: ...


@runtime_checkable
class Store(Protocol):
    """Documents, chunks, keyword index and vectors of one knowledge base.

    Every write that changes a document is atomic: after a crash the store holds either the old or
    the new version of that document, never a mix. Every read that returns text takes an
    :class:`~docket.types.Access` and applies it inside the query.
    """

    def bind_embedder(self, name: str, dim: int, spec: Mapping[str, Any] | None = None) -> None:
        """Record the embedder (and the settings that rebuild it, ``spec``) on first use; raise
        IndexMismatchError if another one built the index. Later writes from this process are
        refused once the index has switched to another embedder."""
        ...

    def embedder_info(self) -> tuple[str, int] | None: ...

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

    def generation(self) -> int:
        """A number that changes whenever a document is added, changed or removed, so callers can
        cache what they derive from documents (their profiles, say) and know when to refresh it."""
        ...

    # -- documents
    def get_document(self, source: str, path: str) -> Document | None: ...

    def documents(self, source: str | None = None, access: Access | None = None) -> Iterator[Document]:
        """Documents (of one source), limited inside the query to those ``access`` may read."""
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

    def document_text(self, doc_id: str) -> str: ...

    def chunks(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in order."""
        ...

    def vectors_for(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for these chunk hashes, from any document."""
        ...

    # -- sentence vectors (docket.index.sentences): one per sentence or table row of a chunk, by chunk hash
    def put_sentence_vectors(self, embedder: str, vectors: Mapping[str, SentenceVectors]) -> None:
        """Keep the sentence vectors of these chunk hashes (computed with ``embedder``)."""
        ...

    def sentence_vectors(self, embedder: str, hashes: Iterable[str]) -> dict[str, SentenceVectors]:
        """Those kept for these chunk hashes by ``embedder``; a hash without any is left out."""
        ...

    def prune_sentence_vectors(self) -> int:
        """Drop those of chunks no longer indexed (or of another embedder); returns how many."""
        ...

    # -- sources
    def add_source(self, name: str, config: Mapping[str, Any]) -> None: ...

    def sources(self) -> dict[str, dict[str, Any]]: ...

    def remove_source(self, name: str) -> None: ...

    def mark_synced(self, name: str) -> None: ...

    # -- files that could not be indexed (the latest reason per file); indexing the file clears it
    def record_failure(self, source: str, path: str, error: str, attempt: ParseAttempt | None = None) -> None:
        """Keep ``error`` as the reason ``path`` is not indexed, replacing an earlier one. ``attempt``
        (a file that failed to parse) says what the file was and what tried, so that an unchanged
        file is not parsed again (docket.ingest.failures); None for failures to try again anyway."""
        ...

    def failures(self, source: str | None = None) -> list[dict[str, Any]]:
        """``{"source", "path", "error", "at", "attempt"}`` per failing file, by source then path;
        ``attempt`` is :meth:`ParseAttempt.to_dict` or None."""
        ...

    # -- the answer log: every answer with its question, sources, prompt, model, tokens, latency
    def log_answer(self, record: Mapping[str, Any]) -> int: ...

    def answer_logs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first."""
        ...

    def answer_log(self, log_id: int) -> dict[str, Any]: ...

    def spent_since(self, timestamp: float) -> float:
        """Sum of logged model costs since ``timestamp`` (POSIX seconds)."""
        ...

    # -- conversations: the turns of each chat, so a conversation can be resumed
    def add_turn(self, conversation_id: str, record: Mapping[str, Any]) -> None:
        """Append a turn (``question``, ``query``, ``answer``, ``log_id``, ``at``); the first one
        creates the conversation, titled by its question."""
        ...

    def conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        """The turns of one conversation, oldest first; NotFoundError when there is none."""
        ...

    def conversations(self, limit: int = 20) -> list[dict[str, Any]]:
        """``id``, ``title``, ``turns``, ``created``, ``updated``; most recently used first."""
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

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
