from __future__ import annotations

import math

import numpy as np
import pytest

from docket.index.bm25 import K1, B, BM25Index, pack_terms, unpack_terms


def test_postings_round_trip_with_counts() -> None:
    blob, length = pack_terms([5, 2, 5, 5])
    ids, counts = unpack_terms(blob)
    assert ids.tolist() == [2, 5] and counts.tolist() == [1, 3] and length == 4
    assert pack_terms([]) == (b"", 0)


def test_scores_match_the_bm25_formula() -> None:
    docs = [[0, 1, 1], [1, 2], [2, 2, 2, 3], []]
    blobs, lengths = zip(*(pack_terms(d) for d in docs), strict=True)
    index = BM25Index.build(list(blobs), np.array(lengths), vocab_size=4)
    n, avg = len(docs), sum(lengths) / len(docs)

    def expected(query: list[int], doc: list[int]) -> float:
        total = 0.0
        for t in set(query):
            df = sum(1 for d in docs if t in d)
            tf = doc.count(t)
            if tf:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                total += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(doc) / avg))
        return total

    for query in ([1], [2, 3], [0, 2], [9]):
        got = index.scores(query)
        assert got.tolist() == pytest.approx([expected(query, d) for d in docs], rel=1e-5)


def test_empty_index_scores_nothing() -> None:
    index = BM25Index.build([b"", b""], np.array([0, 0]), vocab_size=3)
    assert index.scores([1]).tolist() == [0.0, 0.0]
