"""Numbered schema migrations for both stores, and the checks around them.

Each backend keeps an ordered list of :class:`Migration` (version 1 creates the schema; every later
change to a table is a new number, never an edit of an old one) and records the version it is at
as ``schema_version`` in its ``meta`` table. Opening a store whose schema is newer than this
Docket fails with a one-line error saying to upgrade Docket; ``docket db upgrade`` applies the
pending migrations. The embedded SQLite store applies them itself when it opens (it has one user at
a time); PostgreSQL creates a fresh database's schema on first use but applies later migrations
only through ``docket db upgrade``, so several servers sharing it are upgraded once, on purpose.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docket.errors import DatabaseError

__all__ = ["Migration", "check_not_newer", "latest", "pending", "sqlite_status"]


@dataclass(frozen=True)
class Migration:
    """One numbered schema change. ``apply`` gets an open connection inside a transaction."""

    version: int
    description: str
    apply: Callable[[Any], None]


def latest(migrations: Sequence[Migration]) -> int:
    return max((m.version for m in migrations), default=0)


def pending(found: int, migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations a schema at version ``found`` still needs, in order."""
    return sorted((m for m in migrations if m.version > found), key=lambda m: m.version)


def check_not_newer(found: int, supported: int, where: str) -> None:
    """Refuse a schema written by a newer Docket (its tables may mean something else)."""
    if found > supported:
        raise DatabaseError(
            f"{where} has schema version {found}, newer than this Docket supports ({supported}); "
            "upgrade Docket (pip install -U docket) on this machine"
        )


def sqlite_status(path: Path) -> dict[str, Any]:
    """Health facts of an embedded knowledge base file, read without writing anything."""
    out: dict[str, Any] = {"backend": "sqlite", "location": str(path)}
    if not path.exists():
        return {**out, "exists": False}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        out["schema_version"] = int(row[0]) if row else 0
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages, free = db.execute("PRAGMA page_count").fetchone()[0], db.execute("PRAGMA freelist_count").fetchone()[0]
        out["size_bytes"] = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        out["free_bytes"] = int(free) * int(page_size)
        out["pages"] = int(pages)
        out["integrity"] = db.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        db.close()
    return out
