"""Storage backends and retrieval: stores, keyword queries, hybrid fusion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from docket.protocols import Store
from docket.registry import Registry

if TYPE_CHECKING:
    from docket.config import Settings

__all__ = ["STORES", "open_store"]

STORES: Registry[Store] = Registry("store", "docket.stores")


@STORES.register("sqlite")
def _sqlite(path: str) -> Store:
    from docket.index.sqlite import SqliteStore

    return SqliteStore(path)


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
        return STORES.create("postgres", **settings.store.model_dump())
    return STORES.create("sqlite", path=str(settings.db_path))
