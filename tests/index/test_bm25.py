from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from docket.index.bm25 import K1, B, BM25Index, pack_terms, unpack_terms
from docket.index.keywords import analyze, analyze_query


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


def _random_index(seed: int, n_rows: int = 400, vocab: int = 60) -> tuple[BM25Index, np.random.Generator]:
    """Zipf-like term frequencies, so there are rare and common terms and many tied scores."""
    rng = np.random.default_rng(seed)
    docs = [list(np.minimum(rng.zipf(1.3, size=int(rng.integers(0, 12))), vocab) - 1) for _ in range(n_rows)]
    blobs, lengths = zip(*(pack_terms(d) for d in docs), strict=True)
    return BM25Index.build(list(blobs), np.array(lengths), vocab_size=vocab), rng


def _exhaustive(index: BM25Index, query: list[int], k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
    scores = index.scores(query)
    rows = [r for r in range(index.n_rows) if scores[r] > 0 and (allowed is None or allowed[r])]
    return sorted(((r, float(scores[r])) for r in rows), key=lambda x: (-x[1], x[0]))[:k]


@pytest.mark.parametrize("seed", range(6))
def test_pruned_top_k_equals_exhaustive_top_k(seed: int) -> None:
    index, rng = _random_index(seed)
    pruned_somewhere = False
    for _ in range(40):
        query = [int(t) for t in rng.integers(0, 60, size=int(rng.integers(1, 7)))]
        k = int(rng.choice([1, 3, 10, 50]))
        allowed = rng.random(index.n_rows) < 0.5 if rng.random() < 0.5 else None
        rows, scores = index.top(query, k, allowed)
        assert list(zip(rows.tolist(), scores.tolist(), strict=True)) == _exhaustive(index, query, k, allowed)
        pruned_somewhere |= len(rows) == k
    assert pruned_somewhere


def test_pruning_stops_before_the_common_terms_and_looks_them_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """One rare term decides the top 2; the common term's postings are not scanned but its weight is
    still added to the rows in contention (looked up)."""
    docs = [[0, 1]] + [[1, 3]] * 200 + [[0, 3]] + [[2, 3]] * 50
    blobs, lengths = zip(*(pack_terms(d) for d in docs), strict=True)
    index = BM25Index.build(list(blobs), np.array(lengths), vocab_size=4)
    looked_up: list[tuple[int, list[int]]] = []
    lookup = index._lookup
    monkeypatch.setattr(index, "_lookup", lambda t, rows: looked_up.append((t, rows.tolist())) or lookup(t, rows))
    rows, scores = index.top([1, 0], 2)
    assert looked_up == [(1, [0, 201])]
    assert rows.tolist() == [0, 201]  # row 0 also holds the common term
    assert scores.tolist() == index.scores([0, 1])[[0, 201]].tolist()


def test_top_respects_the_allowed_rows_and_empty_queries() -> None:
    index, _ = _random_index(1)
    nothing = np.zeros(index.n_rows, dtype=bool)
    assert index.top([0, 1], 10, nothing)[0].tolist() == []
    assert index.top([], 10)[0].tolist() == [] and index.top([59_999], 10)[0].tolist() == []
    assert index.top([0], 0)[0].tolist() == []


CRANFIELD = next(
    (
        root / "classic-ir" / "cranfield"
        for root in (Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data"))
        if (root / "classic-ir" / "cranfield" / "queries.jsonl").is_file()
    ),
    None,
)


@pytest.mark.skipif(CRANFIELD is None, reason="the Cranfield collection is not in ../shared/data")
def test_pruned_top_k_equals_exhaustive_on_cranfield() -> None:
    """Every Cranfield question against its 1,400 abstracts, at the candidate depths search uses."""
    assert CRANFIELD is not None
    vocab: dict[str, int] = {}
    docs = [json.loads(line) for line in (CRANFIELD / "corpus.jsonl").read_text().splitlines()]
    blobs, lengths = zip(
        *(pack_terms([vocab.setdefault(t, len(vocab)) for t in analyze(f"{d['title']}\n{d['text']}")]) for d in docs),
        strict=True,
    )
    index = BM25Index.build(list(blobs), np.array(lengths), vocab_size=len(vocab))
    queries = [json.loads(line)["text"] for line in (CRANFIELD / "queries.jsonl").read_text().splitlines()]
    allowed = np.arange(index.n_rows) % 3 != 0  # a filter that drops a third of the rows
    for text in queries:
        query = [vocab[t] for t in analyze_query(text) if t in vocab]
        for k, mask in ((10, None), (100, None), (100, allowed)):
            rows, scores = index.top(query, k, mask)
            assert list(zip(rows.tolist(), scores.tolist(), strict=True)) == _exhaustive(index, query, k, mask)
