"""Switching a knowledge base to another embedder while it keeps answering.

Every chunk is re-embedded with the new embedder from the stored text (files are not re-read).
The new vectors are collected in ``reindex.db`` next to the knowledge base, keyed by chunk hash,
so an interrupted switch resumes where it stopped. Meanwhile searches and ingests go on with the
old embedder. The swap is one transaction (:meth:`docket.protocols.Reembedding.swap_embedder`): under
the write lock the chunks added or changed since are embedded too, every chunk gets its new
vector and the index records the new embedder; readers see the old index until the commit and
the new one after it — never a mix, never a dimension mismatch. Finally the embedder is written
to the knowledge base's ``docket.toml``.

Progress is written to ``reindex.json`` in the knowledge base (``docket status`` shows it), so a
switch running in the background (``docket reindex --background``) can be followed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from docket.config import EmbedderSettings, Settings
from docket.errors import UserError
from docket.index import open_store
from docket.models.embedders import embedder_from_settings, embedder_spec
from docket.protocols import DocumentIndex, Embedder, Reembedding

__all__ = ["reindex", "reindex_progress"]

BATCH = 64
Progress = Callable[[int, int, str], None]


def reindex(
    settings: Settings,
    embedder_name: str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    store: DocumentIndex | None = None,
) -> dict[str, int | str]:
    """Re-embed every chunk with the configured embedder (or ``embedder_name``, taking its options
    from ``settings.embedder``) and swap it in."""
    cfg = settings.embedder if embedder_name is None else settings.embedder.model_copy(update={"name": embedder_name})
    new = embedder or embedder_from_settings(cfg)
    own_store = store is None
    store = store or open_store(settings)
    side = _SideVectors(settings.home / "reindex.db", new.name, new.dim)
    status = settings.home / "reindex.json"
    try:
        if not isinstance(store, Reembedding):
            raise UserError(
                f"this store ({type(store).__name__}) cannot switch embedders in place; ingest again instead"
            )
        pairs = store.chunk_texts()
        todo = [(h, text) for h, text in pairs if not side.has(h)]
        done = len(pairs) - len(todo)
        started = time.time()

        def report(count: int, label: str) -> None:
            _write_json(
                status,
                {
                    "embedder": new.name,
                    "done": count,
                    "total": len(pairs),
                    "pid": os.getpid(),
                    "started": started,
                    "stage": label,
                },
            )
            if progress is not None:
                progress(count, len(pairs), label)

        report(done, "embedding")
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            side.put(batch, new.embed_passages([text for _, text in batch]))
            done += len(batch)
            report(done, "embedding")
        report(done, "swapping")

        def vectors_for(current: list[tuple[str, str]]) -> Mapping[str, np.ndarray]:
            missing = [(h, text) for h, text in current if not side.has(h)]  # changed meanwhile
            for start in range(0, len(missing), BATCH):
                batch = missing[start : start + BATCH]
                side.put(batch, new.embed_passages([text for _, text in batch]))
            return side.get([h for h, _ in current])

        store.swap_embedder(new.name, new.dim, embedder_spec(cfg), vectors_for)
        chunks = len(pairs)
    finally:
        side.close()
        if own_store:
            store.close()
        if embedder is None and hasattr(new, "close"):  # the one built here (openai: its connections)
            new.close()
        status.unlink(missing_ok=True)
    side.path.unlink(missing_ok=True)
    _record_embedder(settings.home / "docket.toml", cfg)
    return {"chunks": chunks, "embedder": new.name, "dimensions": new.dim}


def reindex_progress(home: Path) -> dict[str, Any] | None:
    """The progress of a switch under way in ``home`` (from ``reindex.json``), if any."""
    try:
        return dict(json.loads((home / "reindex.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


class _SideVectors:
    """New vectors by chunk hash, in their own SQLite file, so a switch can resume."""

    def __init__(self, path: Path, name: str, dim: int) -> None:
        self.path, self.dim = path, dim
        path.parent.mkdir(parents=True, exist_ok=True)  # with PostgreSQL, nothing else may have made the home
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT NOT NULL, dim INTEGER NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        row = self._db.execute("SELECT name, dim FROM meta").fetchone()
        if row != (name, dim):  # left over from a switch to another embedder: start afresh
            self._db.execute("DELETE FROM vectors")
            self._db.execute("DELETE FROM meta")
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (name, dim))
        self._known = {h for (h,) in self._db.execute("SELECT hash FROM vectors")}

    def has(self, chunk_hash: str) -> bool:
        return chunk_hash in self._known

    def put(self, batch: list[tuple[str, str]], vectors: np.ndarray) -> None:
        rows = [
            (h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for (h, _), v in zip(batch, vectors, strict=True)
        ]
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        self._db.execute("COMMIT")
        self._known.update(h for h, _ in rows)

    def get(self, hashes: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE hash IN ({','.join('?' * len(part))})", part
            )
            out.update((h, np.frombuffer(blob, dtype=np.float32)) for h, blob in rows)
        return out

    def close(self) -> None:
        self._db.close()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _record_embedder(toml_path: Path, cfg: EmbedderSettings) -> None:
    data = tomllib.loads(toml_path.read_text(encoding="utf-8")) if toml_path.exists() else {}
    section = data.setdefault("embedder", {})
    section["name"] = cfg.name
    if cfg.model:
        section["model"] = cfg.model
    toml_path.write_text(tomli_w.dumps(data), encoding="utf-8")
