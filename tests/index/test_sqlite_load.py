"""SqliteStore streams chunk rows into its in-memory views (vectors + BM25 postings) batch by batch;
the views must be exactly those of the rows, however the batches fall."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docket.index.bm25 import BM25Index, pack_terms, unpack_terms
from docket.index.sqlite import SqliteStore
from docket.testing import DIM, make_doc, put
from docket.types import Access, Filters

TEXTS = [
    ["alpha beta gamma", "beta beta delta"],
    ["gamma epsilon", "zeta eta theta iota", "alpha alpha alpha"],
    ["kappa lambda", ""],
    ["mu nu xi omicron pi rho sigma"],
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "docket.db")
    s.bind_embedder("m", DIM)
    for i, texts in enumerate(TEXTS):
        put(s, make_doc(f"d{i}", f"{i}.txt"), texts, [(i + j) % DIM for j in range(len(texts))])
    yield s
    s.close()


def rows(store: SqliteStore) -> list[tuple[Any, ...]]:
    return store._db.execute("SELECT id, vector, terms, length FROM chunks ORDER BY id").fetchall()


@pytest.mark.parametrize("batch", [1, 2, 3, 256])
def test_streamed_views_equal_the_rows_whatever_the_batch_size(
    store: SqliteStore, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteStore, "_LOAD_BATCH", batch)
    matrix, row_ids, bm25 = store._load()
    expected = rows(store)
    assert row_ids.tolist() == [r[0] for r in expected]
    assert np.array_equal(matrix, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in expected]))
    vocab = store._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM vocab").fetchone()[0]
    lengths = np.array([r[3] for r in expected], dtype=np.float32)
    reference = BM25Index.build([r[2] for r in expected], lengths, vocab)
    for name in ("indptr", "rows", "weights", "idf"):
        assert np.array_equal(getattr(bm25, name), getattr(reference, name)), name


def test_postings_build_matches_the_blob_build_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    docs = [rng.integers(0, 50, size=rng.integers(0, 40)).tolist() for _ in range(60)]
    blobs, lengths = zip(*(pack_terms(d) for d in docs), strict=True)
    parts = [unpack_terms(b) for b in blobs]
    sizes = np.array([len(p[0]) for p in parts], dtype=np.int32)
    streamed = BM25Index.from_postings(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), sizes, np.array(lengths), 50
    )
    built = BM25Index.build(list(blobs), np.array(lengths), 50)
    assert streamed.rows.dtype == np.int32 and streamed.weights.dtype == np.float32
    for name in ("indptr", "rows", "weights", "idf"):
        assert np.array_equal(getattr(streamed, name), getattr(built, name)), name


class _InsertAfterCount:
    """The store's connection, but a writer adds a document right after the first row count."""

    def __init__(self, store: SqliteStore) -> None:
        self.store, self.db, self.fired = store, store._db, False

    def execute(self, sql: str, *params: Any) -> Any:
        result = self.db.execute(sql, *params)
        if sql.startswith("SELECT COUNT(*), COALESCE(SUM(LENGTH(terms))") and not self.fired:
            self.fired = True
            result = result.fetchall()
            put(self.store, make_doc("late", "late.txt"), ["late arrival omega"], [0])
            return _FetchedRow(result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


class _FetchedRow:
    """Stands in for the cursor of the count query."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[Any, ...]:
        return self.rows[0]


def test_rows_written_between_count_and_read_are_not_lost(store: SqliteStore) -> None:
    store._db = _InsertAfterCount(store)  # type: ignore[assignment]
    _, row_ids, _ = store._load()
    assert len(row_ids) == sum(len(t) for t in TEXTS) + 1
    hits = store.keyword_search("omega", 5, Filters(), Access.owner())
    assert [store.hits(hits, Access.owner())[0].path] == ["late.txt"]


def test_a_reload_after_a_change_sees_the_change(store: SqliteStore) -> None:
    before = store.keyword_search("alpha", 10, Filters(), Access.owner())
    store.delete_document("d1")
    after = store.keyword_search("alpha", 10, Filters(), Access.owner())
    assert len(before) == 2 and len(after) == 1
