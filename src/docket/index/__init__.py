"""Storage backends and retrieval: stores, keyword queries, hybrid fusion."""

from __future__ import annotations

from docket.protocols import Store
from docket.registry import Registry

__all__ = ["STORES"]

STORES: Registry[Store] = Registry("store", "docket.stores")


@STORES.register("sqlite")
def _sqlite(path: str) -> Store:
    from docket.index.sqlite import SqliteStore

    return SqliteStore(path)
