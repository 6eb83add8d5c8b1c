"""Storage backends and retrieval: stores, keyword queries, hybrid fusion.

A store is a :class:`~docket.protocols.DocumentIndex` with its :class:`~docket.ledger.Ledger`
(:class:`docket.ledger.Store`). The built-in ones register in :data:`STORES` as a third party's
would (entry point group ``docket.stores``); their modules are imported only when one is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docket.ledger import Store
from docket.protocols import DocumentIndex, DocumentPaging
from docket.registry import Registry
from docket.types import Access, Document, Filters

if TYPE_CHECKING:
    from docket.config import Settings

__all__ = ["STORES", "document_by_id", "document_page", "get_document", "open_store"]

STORES: Registry[Store] = Registry("store", "docket.stores")


@STORES.register("sqlite")
def _sqlite(path: str, vector_index_min_chunks: int = 100_000) -> Store:
    from docket.index.sqlite import SqliteStore

    return SqliteStore(path, vector_index_min_chunks=vector_index_min_chunks)


@STORES.register("postgres")
def _postgres(
    url: str,
    pool_size: int = 5,
    connect_timeout: float = 10.0,
    hnsw_m: int = 16,
    hnsw_ef_construction: int = 64,
    hnsw_ef_search: int = 100,
) -> Store:
    from docket.index.postgres import PostgresStore

    return PostgresStore(
        url,
        pool_size=pool_size,
        connect_timeout=connect_timeout,
        hnsw_m=hnsw_m,
        hnsw_ef_construction=hnsw_ef_construction,
        hnsw_ef_search=hnsw_ef_search,
    )


def open_store(settings: Settings) -> Store:
    """The store the settings name: PostgreSQL when ``store.url`` is set, else the embedded SQLite file."""
    if settings.store.url:
        return STORES.create("postgres", **settings.store.model_dump(exclude={"vector_index_min_chunks"}))
    return STORES.create(
        "sqlite", path=str(settings.db_path), vector_index_min_chunks=settings.store.vector_index_min_chunks
    )


def get_document(index: DocumentIndex, source: str, path: str) -> Document | None:
    """The document at ``path`` of ``source``, if indexed."""
    return next(iter(index.documents(source, path=path)), None)


def document_by_id(index: DocumentIndex, doc_id: str, access: Access | None = None) -> Document | None:
    """The document with id ``doc_id``, if there is one ``access`` may read (everyone's by default)."""
    return next(iter(index.documents(access=access, ids=(doc_id,))), None)


def document_page(
    index: DocumentIndex, filters: Filters, access: Access, *, text: str = "", offset: int = 0, limit: int = 100
) -> tuple[list[Document], int]:
    """One page of the documents ``access`` may read that meet ``filters`` (sources, file types,
    document ids) and whose path or title contains ``text`` (any case), with how many match in all:
    in one query where the index can (:class:`~docket.protocols.DocumentPaging`), else by filtering
    :meth:`~docket.protocols.DocumentIndex.documents` (which applies the access inside its query)."""
    if isinstance(index, DocumentPaging):
        return index.document_page(filters, access, text=text, offset=offset, limit=limit)
    needle = text.lower()
    types = {t.lower().lstrip(".") for t in filters.filetypes}
    matching = [
        d
        for d in index.documents(access=access, ids=filters.documents)
        if (not filters.sources or d.source in filters.sources)
        and (not types or d.filetype in types)
        and (needle in d.path.lower() or needle in (d.title or "").lower())
    ]
    return matching[offset : offset + limit], len(matching)
