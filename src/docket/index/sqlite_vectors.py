"""The embedded store's vector search above ``vector_index_min_chunks``: the approximate index of
:mod:`docket.index.ann` (opened, or built from one read snapshot of the store), the rows written
since its build (searched exactly), and the float32 vectors read back from SQLite to re-score
candidates, so the scores returned are exact cosines. Filters are applied to candidates by the
store's current rows and the allowed positions it passes in; a row it does not allow is never
returned."""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from docket.index import ann

__all__ = ["IndexedVectors", "top"]

_log = logging.getLogger(__name__)
MAX_OVERSAMPLE = 20  # filters keeping under 1/20 of the rows are scanned instead of asking the index for more
_BUILD_BATCH = 16_384


def top(scores: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best ``(id, score)``, ties broken by id."""
    k = min(k, len(scores))
    if k <= 0:
        return []
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.lexsort((ids[best], -scores[best]))]
    return [(int(ids[i]), float(scores[i])) for i in best]


def _top_pairs(scored: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    return top(np.array([s for _, s in scored]), np.array([i for i, _ in scored], dtype=np.int64), k)


def build_index(
    db: sqlite3.Connection,
    path: Path,
    info: tuple[str, int],
    high_mark: Callable[[], int],
    epoch_of: Callable[[], int],
) -> ann.VectorIndex:
    """Build the index from one consistent snapshot of the committed rows (a read transaction holds
    the high-water mark, the vector epoch and the rows together)."""
    started = time.perf_counter()
    dim = info[1]
    db.execute("BEGIN")
    try:
        high, epoch = high_mark(), epoch_of()
        cursor = db.execute("SELECT id, vector FROM chunks WHERE id <= ? ORDER BY id", (high,))

        def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            while batch := cursor.fetchmany(_BUILD_BATCH):
                ids = np.array([r[0] for r in batch], dtype=np.int64)
                yield ids, np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(-1, dim)

        index = ann.VectorIndex.build(path, batches(), embedder=info[0], dim=dim, epoch=epoch, high=high)
    finally:
        db.execute("COMMIT")
    _log.info("built the vector index of %s (%d rows) in %.1f s", path, len(index), time.perf_counter() - started)
    return index


class IndexedVectors:
    """One loaded generation of the store: the index, the rows newer than it, and the last filter's
    int8 rows (one caller's access repeats from query to query)."""

    def __init__(self, db: sqlite3.Connection, index: ann.VectorIndex, delta_ids: np.ndarray, delta: np.ndarray):
        self.db, self.index, self.delta_ids, self.delta = db, index, delta_ids, delta
        self._scan_cache: tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def open(
        cls,
        db: sqlite3.Connection,
        path: Path,
        row_ids: np.ndarray,
        info: tuple[str, int],
        high_mark: Callable[[], int],
        epoch_of: Callable[[], int],
        rebuild_share: float,
    ) -> IndexedVectors:
        """Open the index beside the database, building it when missing, stale or more than
        ``rebuild_share`` of the rows behind, and read the rows added since its build."""
        stamp = ann.read_stamp(path)
        index = None
        if stamp is not None and (stamp.embedder, stamp.dim, stamp.epoch) == (*info, epoch_of()):
            covered = int(np.searchsorted(row_ids, stamp.high, side="right"))
            changed = (len(row_ids) - covered) + (stamp.rows - covered)  # added + deleted since the build
            if changed <= rebuild_share * len(row_ids):
                try:
                    index = ann.VectorIndex.open(path, stamp)
                except (OSError, RuntimeError, ValueError) as exc:
                    _log.warning("rebuilding the vector index of %s: %s", path, exc)
        if index is None:
            index = build_index(db, path, info, high_mark, epoch_of)
        ids, blobs = [], []
        for cid, blob in db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (index.stamp.high,)):
            ids.append(cid)
            blobs.append(blob)
        delta = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, info[1])
        return cls(db, index, np.array(ids, dtype=np.int64), delta)

    def search(
        self,
        query: np.ndarray,
        k: int,
        positions: np.ndarray | None,
        row_ids: np.ndarray,
        *,
        candidates: int,
        ef: int,
        exact_rows: int,
    ) -> list[tuple[int, float]]:
        """The best ``k`` of the allowed rows (``positions`` in ``row_ids``; None: all): candidates
        from the index and the rows newer than it, re-scored exactly. Filters leaving few rows, or
        too few of the index's candidates, are scanned."""
        n = len(row_ids)
        allowed_n = n if positions is None else len(positions)
        if allowed_n == 0 or k <= 0:
            return []
        want = max(k, candidates)
        if n <= want:  # a store no bigger than the candidates: every row is one anyway, and a graph may miss one
            return self.scan(query, k, want, positions, row_ids)
        if positions is not None and (allowed_n <= exact_rows or allowed_n * MAX_OVERSAMPLE <= n):
            return self.scan(query, k, want, positions, row_ids)
        mask = None
        if positions is not None:
            mask = np.zeros(n, dtype=bool)
            mask[positions] = True
        # filters keep about allowed_n / n of what the index returns: ask for that much more
        count = min(math.ceil(want * n / allowed_n), MAX_OVERSAMPLE * want)
        ids = self.index.search(query, count, ef)
        ids = ids[self.visible(ids, row_ids, mask)][:want]
        scored = self.rescore(query, ids)
        if len(self.delta_ids):
            seen = self.visible(self.delta_ids, row_ids, mask)
            scored.extend(top((self.delta @ query)[seen], self.delta_ids[seen], want))  # score, then select: no copy
        if len(scored) < min(k, allowed_n):  # the filters kept too few of the index's rows
            return self.scan(query, k, want, positions, row_ids)
        return _top_pairs(scored, k)

    def scan(
        self, query: np.ndarray, k: int, want: int, positions: np.ndarray | None, row_ids: np.ndarray
    ) -> list[tuple[int, float]]:
        """Every allowed row (``positions`` in ``row_ids``; None: all) scored: with its int8 vector
        from the index (rows newer than the index: float32), the best ``want`` re-scored exactly. A
        filter's rows are kept for its next query; the whole store's are not (they would be every
        vector of the store held twice)."""
        cached = self._scan_cache
        if positions is None or cached is None or cached[0] is not positions:
            ids = row_ids if positions is None else row_ids[positions]
            old = ids[ids <= self.index.stamp.high]
            newer = np.searchsorted(self.delta_ids, ids[ids > self.index.stamp.high])
            cached = (positions, old, self.index.vectors(old), newer)
            if positions is not None:
                self._scan_cache = cached
        _, old, int8, newer = cached
        scores = int8.astype(np.float32) @ query  # ranks as the cosine does (every row has the same scale)
        scored = self.rescore(query, np.array([i for i, _ in top(scores, old, want)], dtype=np.int64))
        if len(newer):
            scored.extend(top(self.delta[newer] @ query, self.delta_ids[newer], want))
        return _top_pairs(scored, k)

    @staticmethod
    def visible(ids: np.ndarray, row_ids: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Which ``ids`` are current rows (not deleted since the index was built) that ``mask`` allows."""
        at = np.minimum(np.searchsorted(row_ids, ids), len(row_ids) - 1)
        ok = row_ids[at] == ids
        if mask is not None:
            ok &= mask[at]
        return np.asarray(ok, dtype=bool)

    def rescore(self, query: np.ndarray, ids: np.ndarray) -> list[tuple[int, float]]:
        """Exact cosine scores of these rows, from their float32 vectors in SQLite."""
        out: list[tuple[int, float]] = []
        for start in range(0, len(ids), 500):
            batch = [int(i) for i in ids[start : start + 500]]
            rows = self.db.execute(
                f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(batch))})", batch
            ).fetchall()
            if rows:
                vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                out.extend(zip((r[0] for r in rows), (vectors @ query).tolist(), strict=True))
        return out
