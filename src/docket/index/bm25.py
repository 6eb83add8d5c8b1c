"""An in-memory BM25 index over term ids, built from the postings a store keeps per chunk.

Each chunk's terms are stored (by the store, in the same transaction as the chunk) as term ids
with their counts. On first use, and again after the store changes, the postings are gathered
into term-major arrays holding each (term, chunk) pair's precomputed BM25 weight (Lucene's
variant: ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``). A query then adds up the weights of its
few terms' postings — no scan of the whole collection — and the best chunks are picked with a
partial sort.

:meth:`BM25Index.top` prunes (MaxScore): each term's largest weight bounds what it can add to a
chunk's score, so the query's terms are taken rarest first (highest bound first) and, as soon as
the k-th best partial score among the chunks seen so far (a lower bound on the final k-th score)
beats the summed bounds of the terms not yet read, no unseen chunk can enter the top k; the long
postings of common terms are then only looked up for the few chunks still in contention
(binary search: postings are sorted by row within a term). Scores are summed in the same term
order as :meth:`BM25Index.scores`, so the result equals the exhaustive top k, ties included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BM25Index", "pack_terms", "unpack_terms"]

# Once the postings read reach this share of the rows, scoring every row (one dense pass) is cheaper
# than keeping candidate sets, so :meth:`BM25Index.top` stops pruning and finishes exhaustively.
DENSE_SHARE = 0.125

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
        # each term's largest weight (0 for a term without postings): MaxScore's per-term bound
        self.bound = np.zeros(len(indptr) - 1, dtype=np.float32)
        present = np.flatnonzero(np.diff(indptr) > 0)
        if len(present):
            self.bound[present] = np.maximum.reduceat(weights, indptr[present])

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

    def _order(self, term_ids: Sequence[int]) -> list[int]:
        """The query's distinct terms that have postings, highest bound first (ties by id): the order
        both :meth:`scores` and :meth:`top` add weights in, so their float32 sums agree exactly."""
        n_terms = len(self.indptr) - 1
        present = {int(t) for t in term_ids if 0 <= t < n_terms and self.indptr[t + 1] > self.indptr[t]}
        return sorted(present, key=lambda t: (-float(self.bound[t]), t))

    def scores(self, term_ids: Sequence[int]) -> np.ndarray:
        """Every row's score (exhaustive: reads every posting of the query's terms)."""
        out = np.zeros(self.n_rows, dtype=np.float32)
        for t in self._order(term_ids):
            s, e = self.indptr[t], self.indptr[t + 1]
            out[self.rows[s:e]] += self.weights[s:e]
        return out

    def _lookup(self, t: int, rows: np.ndarray) -> np.ndarray:
        """Term ``t``'s weight in each of ``rows`` (sorted), 0 where it has none."""
        s, e = int(self.indptr[t]), int(self.indptr[t + 1])
        postings = self.rows[s:e]
        at = np.searchsorted(postings, rows)
        inside = at < len(postings)
        found = np.zeros(len(rows), dtype=bool)
        found[inside] = postings[at[inside]] == rows[inside]
        out = np.zeros(len(rows), dtype=np.float32)
        out[found] = self.weights[s + at[found]]
        return out

    @staticmethod
    def _best(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of ``scores`` (``rows`` ascending), best first, ties by row."""
        keep = scores > 0
        scores, rows = scores[keep], rows[keep]
        if len(scores) > k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            above = scores > kth
            tied = np.flatnonzero(scores == kth)[: k - int(above.sum())]  # the lowest rows of the tie
            above[tied] = True
            scores, rows = scores[above], rows[above]
        order = np.lexsort((rows, -scores))
        return rows[order], scores[order]

    def top(self, term_ids: Sequence[int], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows with a positive score (positions, scores), best first, ties by row.

        ``allowed`` (a boolean mask over rows, or None for all) limits the rows that may be returned:
        the pruning bound is taken over allowed rows only, so filters and permissions apply before
        ranking. The same answer as ranking :meth:`scores`, with MaxScore pruning (module docstring).
        """
        order = self._order(term_ids)
        if k <= 0 or not order:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        bounds = np.array([self.bound[t] for t in order], dtype=np.float64)
        rest = np.concatenate([np.cumsum(bounds[::-1])[::-1], [0.0]])  # rest[i]: bound of terms i, i+1, ...
        partial = np.zeros(self.n_rows, dtype=np.float32)
        touched = np.zeros(self.n_rows, dtype=bool)
        found: list[np.ndarray] = []  # rows seen so far, a part per term read
        read = 0
        for i, t in enumerate(order):
            s, e = int(self.indptr[t]), int(self.indptr[t + 1])
            postings = self.rows[s:e]
            partial[postings] += self.weights[s:e]
            read += e - s
            if read > DENSE_SHARE * self.n_rows:  # common terms: finish with one dense pass
                for u in order[i + 1 :]:
                    s, e = int(self.indptr[u]), int(self.indptr[u + 1])
                    partial[self.rows[s:e]] += self.weights[s:e]
                rows = np.arange(self.n_rows) if allowed is None else np.flatnonzero(allowed)
                return self._best(partial[rows], rows, k)
            new = postings[~touched[postings]]
            touched[new] = True
            found.append(new if allowed is None else new[allowed[new]])
            if i + 1 == len(order):  # every term read: the partial scores are the scores
                rows = np.sort(np.concatenate(found))
                return self._best(partial[rows], rows, k)
            seen = sum(len(f) for f in found)
            if seen < k or rest[i + 1] * (1 + 1e-6) >= rest[0] - rest[i + 1]:
                continue  # too few rows yet, or the terms left could outscore any row seen
            rows = np.concatenate(found)
            found = [rows]
            kth = float(np.partition(partial[rows], len(rows) - k)[len(rows) - k])
            # a row not seen yet scores at most rest[i + 1]; a seen one at most partial + rest[i + 1]
            if rest[i + 1] * (1 + 1e-6) < kth:
                contenders = np.sort(rows[partial[rows] + rest[i + 1] * (1 + 1e-6) >= kth])
                scores = partial[contenders]
                for u in order[i + 1 :]:
                    scores += self._lookup(u, contenders)
                return self._best(scores, contenders, k)
        raise AssertionError("unreachable: the last term returns")  # pragma: no cover
