"""An in-memory BM25 index over term ids, built from the postings a store keeps per chunk.

Each chunk's terms are stored (by the store, in the same transaction as the chunk) as term ids
with their counts. On first use, and again after the store changes, the postings are gathered
into term-major arrays holding each (term, chunk) pair's precomputed BM25 weight (Lucene's
variant: ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``). A query then adds up the weights of its
few terms' postings — no scan of the whole collection — and the best chunks are picked with a
partial sort.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BM25Index", "pack_terms", "unpack_terms"]

K1 = 1.2
B = 0.75


def pack_terms(term_ids: Sequence[int]) -> tuple[bytes, int]:
    """A chunk's postings as a blob (distinct term ids as uint32, then their counts as uint16)."""
    if not term_ids:
        return b"", 0
    ids, counts = np.unique(np.asarray(term_ids, dtype=np.uint32), return_counts=True)
    return ids.tobytes() + np.minimum(counts, 65535).astype(np.uint16).tobytes(), len(term_ids)


def unpack_terms(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    n = len(blob) // 6
    return np.frombuffer(blob, dtype=np.uint32, count=n), np.frombuffer(blob, dtype=np.uint16, offset=4 * n)


class BM25Index:
    """Term-major postings with precomputed BM25 weights; rows are positions in the store's order."""

    def __init__(self, indptr: np.ndarray, rows: np.ndarray, weights: np.ndarray, n_rows: int, idf: np.ndarray) -> None:
        self.indptr, self.rows, self.weights, self.n_rows, self.idf = indptr, rows, weights, n_rows, idf

    @classmethod
    def build(cls, blobs: Sequence[bytes], lengths: np.ndarray, vocab_size: int) -> BM25Index:
        """The index of rows given as :func:`pack_terms` blobs (one per row, in row order)."""
        parts = [unpack_terms(b) for b in blobs]
        sizes = np.fromiter((len(p[0]) for p in parts), dtype=np.int32, count=len(blobs))
        if not parts:
            return cls.from_postings(np.zeros(0, np.uint32), np.zeros(0, np.uint16), sizes, lengths, vocab_size)
        term = np.concatenate([p[0] for p in parts])
        tf = np.concatenate([p[1] for p in parts])
        return cls.from_postings(term, tf, sizes, lengths, vocab_size)

    @classmethod
    def from_postings(
        cls, term: np.ndarray, tf: np.ndarray, sizes: np.ndarray, lengths: np.ndarray, vocab_size: int
    ) -> BM25Index:
        """The index of rows whose postings lie end to end in ``term`` / ``tf`` (``sizes[i]`` of row i).

        Memory: term ids stay 32-bit and every temporary is dropped as soon as it is used, so the
        peak is about the finished index plus one copy of the postings (float32 weights and the
        int64 sort order), not several int64 copies of them.
        """
        n_rows = len(sizes)
        if len(term) == 0:
            empty = np.zeros(0, np.float32)
            return cls(np.zeros(vocab_size + 1, dtype=np.int64), np.zeros(0, np.int32), empty, n_rows, empty)
        term = term.view(np.int32) if term.dtype == np.uint32 else term.astype(np.int32, copy=False)
        size = max(vocab_size, int(term.max()) + 1)
        counts = np.bincount(term, minlength=size)
        df = counts.astype(np.float32)
        idf = np.log1p((n_rows - df + 0.5) / (df + 0.5)).astype(np.float32)
        del df
        lengths = lengths.astype(np.float32)
        avg = float(lengths.mean()) or 1.0
        norm = K1 * (1 - B + B * lengths / avg)
        row = np.repeat(np.arange(n_rows, dtype=np.int32), sizes)
        tf32 = tf.astype(np.float32)
        weight = idf[term]
        weight *= tf32
        weight *= K1 + 1
        tf32 += norm[row]
        weight /= tf32
        del tf32
        order = np.argsort(term, kind="stable")
        indptr = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        del counts
        rows = row[order]
        del row
        return cls(indptr, rows, weight[order], n_rows, idf)

    def idf_sum(self, term_ids: Sequence[int]) -> float:
        """The score of an average-length row holding each of these terms once."""
        return float(sum(self.idf[t] for t in set(term_ids) if 0 <= t < len(self.idf) and self.idf[t] > 0))

    def scores(self, term_ids: Sequence[int]) -> np.ndarray:
        out = np.zeros(self.n_rows, dtype=np.float32)
        for t in set(term_ids):
            if 0 <= t < len(self.indptr) - 1:
                s, e = self.indptr[t], self.indptr[t + 1]
                out[self.rows[s:e]] += self.weights[s:e]
        return out
