"""An approximate vector index beside the embedded store's database, for large knowledge bases.

Above ``store.vector_index_min_chunks`` chunks, :class:`~docket.index.sqlite.SqliteStore` stops
holding every float32 vector in memory (1.5 GB at a million 384-d chunks) and scanning them all per
query. It searches an HNSW graph over int8-quantised vectors (`usearch`, the ``docket[scale]``
extra) kept in a file next to ``docket.db`` and memory-mapped read-only, then re-scores the
candidates exactly with their float32 vectors read from SQLite. Scores returned are therefore
exact cosines; only which rows are found is approximate.

The index is a hint, never the truth. Its stamp (``docket.db.vectors.json``) records the embedder,
its dimensions, the store's ``vector_epoch`` (bumped when vectors are rewritten in place) and the
largest chunk id it covers. Chunk ids are never reused (the store keeps a high-water mark), so rows
added since the build are exactly those with a larger id: they are scanned exactly. Rows deleted
since are dropped by checking every candidate against the store's current rows, and the caller's
filters and access are applied to candidates the same way. The file is written under a fresh name
and the stamp replaced atomically afterwards, so a crash while building leaves the previous index
(or none) and a crash mid-ingest cannot make the index answer with rows that do not exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from docket.errors import MissingExtraError

__all__ = ["STAMP_VERSION", "IndexStamp", "VectorIndex", "available"]

STAMP_VERSION = 2
# int8 keeps round(127 x) of each component: unit vectors of a few hundred dimensions have components
# of a few hundredths, a handful of levels. Vectors are multiplied by a scale taken from the data
# (the cosine does not change) so the largest components use the whole range; the rare larger ones clip.
_SCALE_QUANTILE = 0.9999


def _usearch() -> Any:
    try:
        from usearch import index
    except ImportError as exc:
        raise MissingExtraError("usearch", "scale", "The approximate vector index of large knowledge bases") from exc
    return index


def available() -> bool:
    """Whether the index's library is installed (without it the store searches exactly)."""
    try:
        _usearch()
    except MissingExtraError:
        return False
    return True


@dataclass(frozen=True)
class IndexStamp:
    """What an index file was built from; it serves a store only while these still hold."""

    file: str  # the index file's name, in the database's folder
    embedder: str
    dim: int
    epoch: int  # the store's vector_epoch at the build
    high: int  # the largest chunk id the index covers; larger ids were added later
    rows: int  # vectors in the index
    connectivity: int
    scale: float = 1.0  # vectors are multiplied by it (and clipped to [-1, 1]) before int8 quantisation
    version: int = STAMP_VERSION


def stamp_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".vectors.json")


def read_stamp(db_path: Path) -> IndexStamp | None:
    """The stamp beside ``db_path``; None when missing, unreadable or of another version."""
    try:
        data = json.loads(stamp_path(db_path).read_text(encoding="utf-8"))
        stamp = IndexStamp(**data)
    except (OSError, ValueError, TypeError):
        return None
    if stamp.version != STAMP_VERSION or not (db_path.parent / stamp.file).is_file():
        return None
    return stamp


class VectorIndex:
    """A built index, memory-mapped read-only, with the stamp it was built under."""

    def __init__(self, index: Any, stamp: IndexStamp) -> None:
        self._index = index
        self.stamp = stamp

    @classmethod
    def open(cls, db_path: Path, stamp: IndexStamp) -> VectorIndex:
        index = _usearch().Index.restore(str(db_path.parent / stamp.file), view=True)
        if index is None or index.ndim != stamp.dim:
            raise ValueError(f"the vector index {stamp.file} does not match its stamp")
        return cls(index, stamp)

    @classmethod
    def build(
        cls,
        db_path: Path,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
        *,
        embedder: str,
        dim: int,
        epoch: int,
        high: int,
        connectivity: int = 16,
        expansion_add: int = 64,
        threads: int = 0,
    ) -> VectorIndex:
        """Build from ``(ids, float32 vectors)`` batches, save under a fresh name, then replace the
        stamp (the atomic step) and remove the file the old stamp named; returns the saved index
        memory-mapped (the build's in-memory copy is freed)."""
        usearch = _usearch()
        index = usearch.Index(
            ndim=dim, metric="cos", dtype="i8", connectivity=connectivity, expansion_add=expansion_add
        )
        rows, scale = 0, 0.0
        for ids, vectors in batches:
            if len(ids):
                if not scale:  # from the first batch (the rows are in id order, not sorted by content)
                    scale = 1.0 / max(float(np.quantile(np.abs(vectors), _SCALE_QUANTILE)), 1e-6)
                scaled = np.clip(vectors * np.float32(scale), -1.0, 1.0)
                index.add(ids.astype(np.uint64), scaled, threads=threads or (os.cpu_count() or 1))
                rows += len(ids)
        folder = db_path.parent
        name = f"{db_path.name}.vectors-{secrets.token_hex(4)}.usearch"
        old = read_stamp(db_path)
        index.save(str(folder / name))
        del index
        stamp = IndexStamp(name, embedder, dim, epoch, high, rows, connectivity, scale or 1.0)
        tmp = stamp_path(db_path).with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(asdict(stamp)), encoding="utf-8")
        os.replace(tmp, stamp_path(db_path))
        if old is not None and old.file != name:
            with contextlib.suppress(OSError):  # a process that still maps it keeps its pages (Windows: the file)
                (folder / old.file).unlink(missing_ok=True)
        return cls.open(db_path, stamp)

    def search(self, query: np.ndarray, count: int, ef: int) -> np.ndarray:
        """Chunk ids of about the ``count`` nearest vectors (approximate order)."""
        count = min(count, len(self._index))
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        self._index.expansion_search = max(ef, count)
        scaled = np.clip(query.astype(np.float32) * np.float32(self.stamp.scale), -1.0, 1.0)
        found = self._index.search(scaled, count, threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The int8 vectors the index holds for these chunk ids (all of them must be in it)."""
        if not len(ids):
            return np.empty((0, self.stamp.dim), dtype=np.int8)
        return np.asarray(self._index.get(ids.astype(np.uint64), dtype=np.int8), dtype=np.int8)

    def __len__(self) -> int:
        return len(self._index)
