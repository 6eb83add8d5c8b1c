"""Rebuilding a knowledge base with another embedder, without re-reading the files.

The new index is written next to the old one (``docket.db.reindex``) from the stored chunks; the
old one keeps answering until the new one is complete, then the files are swapped and the
embedder is recorded in the knowledge base's ``docket.toml``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path

import tomli_w

from docket.config import Settings
from docket.index.sqlite import SqliteStore
from docket.models.embedders import EMBEDDERS
from docket.protocols import Embedder, Store

__all__ = ["reindex"]


def reindex(
    settings: Settings,
    embedder_name: str,
    progress: Callable[[int, int, str], None] | None = None,
    embedder: Embedder | None = None,
) -> dict[str, int | str]:
    """Re-embed every chunk with ``embedder_name`` into a new index and swap it in."""
    new_embedder = embedder or EMBEDDERS.create(embedder_name)
    db_path = settings.db_path
    tmp_path = db_path.with_name(db_path.name + ".reindex")
    for leftover in _files(tmp_path):
        leftover.unlink()
    old: Store = SqliteStore(db_path)
    new = SqliteStore(tmp_path)
    new.bind_embedder(new_embedder.name, new_embedder.dim)
    docs = list(old.documents())
    chunk_count = 0
    try:
        for name, cfg in old.sources().items():
            new.add_source(name, {k: v for k, v in cfg.items() if k not in ("created", "last_sync")})
        for i, doc in enumerate(docs, start=1):
            chunks = old.chunks(doc.id)
            vectors = new_embedder.embed_passages([c.indexed_text for c in chunks])
            new.put_document(
                doc, chunks, {c.hash: v for c, v in zip(chunks, vectors, strict=True)}, old.document_text(doc.id)
            )
            chunk_count += len(chunks)
            if progress:
                progress(i, len(docs), doc.path)
    finally:
        old.close()
        new.close()
    for stale in _files(db_path)[1:]:
        stale.unlink()
    os.replace(tmp_path, db_path)
    _record_embedder(settings.home / "docket.toml", embedder_name)
    return {"documents": len(docs), "chunks": chunk_count, "embedder": new_embedder.name}


def _files(db: Path) -> list[Path]:
    return [p for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")) if p.exists()]


def _record_embedder(toml_path: Path, name: str) -> None:
    data = tomllib.loads(toml_path.read_text(encoding="utf-8")) if toml_path.exists() else {}
    data.setdefault("embedder", {})["name"] = name
    toml_path.write_text(tomli_w.dumps(data), encoding="utf-8")
