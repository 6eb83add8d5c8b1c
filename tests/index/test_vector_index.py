"""The embedded store's approximate vector index (docket.index.ann): forced on with a low threshold,
it must keep every store contract, never show a row the caller may not see or that no longer
exists, rebuild when its stamp is stale, and find what exact search finds."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from docket.errors import MissingExtraError
from docket.index import ann
from docket.index.sqlite import SqliteStore
from docket.models.embedders import MiniLMEmbedder
from docket.testing import StoreContract
from docket.testing.helpers import make_doc
from docket.types import Access, Chunk, Filters, Location

pytest.importorskip("usearch", reason="the approximate index is the docket[scale] extra")

DATA = Path(__file__).resolve().parents[1] / "data" / "markdown"


def forced(path: Path, **kw: object) -> SqliteStore:
    """A store that uses the index from its first chunk (and for every filter: exact_rows 0)."""
    options: dict[str, object] = {"vector_index_min_chunks": 1, "exact_rows": 0}
    options.update(kw)
    return SqliteStore(path, **options)  # type: ignore[arg-type]


class TestSqliteStoreWithVectorIndex(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteStore]:
        s = forced(tmp_path / "docket.db")
        yield s
        s.close()


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill(store: SqliteStore, vectors: np.ndarray, per_doc: int = 10, start: int = 0, **doc_kw: object) -> list[str]:
    """Documents of ``per_doc`` chunks; document i is in workspace ``ws{i % 3}`` and, when i is even,
    readable only by ``group:g{i % 4}``. Returns the document ids."""
    store.bind_embedder("m", vectors.shape[1])
    ids = []
    for d in range(len(vectors) // per_doc):
        i = start + d
        doc = make_doc(
            f"d{i}",
            f"f{i % 5}/doc{i}.txt",
            workspace=f"ws{i % 3}",
            access=(f"group:g{i % 4}",) if i % 2 == 0 else (),
            **doc_kw,
        )
        chunks = [Chunk(f"chunk {i}-{j}", Location(0, 1), "", j) for j in range(per_doc)]
        rows = vectors[d * per_doc : (d + 1) * per_doc]
        store.put_document(doc, chunks, {c.hash: v for c, v in zip(chunks, rows, strict=True)}, "")
        ids.append(doc.id)
    return ids


def exact_store(path: Path) -> SqliteStore:
    return SqliteStore(path, vector_index_min_chunks=10**9)


def test_the_index_is_used_only_from_the_threshold_on(tmp_path: Path) -> None:
    vectors = unit(np.random.default_rng(0), 100, 16)
    below = SqliteStore(tmp_path / "a" / "docket.db", vector_index_min_chunks=101)
    fill(below, vectors)
    below.vector_search(vectors[0], 5, Filters(), Access.owner())
    assert below._vectors is None and ann.read_stamp(below.path) is None
    above = SqliteStore(tmp_path / "b" / "docket.db", vector_index_min_chunks=100)
    fill(above, vectors)
    found = above.vector_search(vectors[0], 5, Filters(), Access.owner())
    assert above._vectors is not None and above._matrix is not None and len(above._matrix) == 0  # no float matrix
    stamp = ann.read_stamp(above.path)
    assert stamp is not None and stamp.rows == 100 and (above.path.parent / stamp.file).is_file()
    assert found == below.vector_search(vectors[0], 5, Filters(), Access.owner())


def test_results_equal_exact_search_on_real_passages(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """Real MiniLM embeddings of the handbook pages' sentences, fewer than the candidates re-scored
    (200): the store scans them, so the exact top 10 comes back, scores included. The graph itself
    is tested below."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(DATA.glob("18f-*.md")))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) >= 4]
    assert len(sentences) >= 100
    vectors = minilm.embed_passages(sentences[:200])
    queries = minilm.embed_queries(["How long is parental leave?", "Who signs the engagement agreement?"])
    exact, approximate = exact_store(tmp_path / "e" / "docket.db"), forced(tmp_path / "a" / "docket.db")
    for store in (exact, approximate):
        fill(store, vectors[: len(vectors) // 10 * 10])
    for q in [*queries, *vectors[:20]]:
        want = exact.vector_search(q, 10, Filters(), Access.owner())
        got = approximate.vector_search(q, 10, Filters(), Access.owner())
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-6)
        # the same rows in the same order, except that rows of equal score (the pages repeat some
        # sentences word for word) may come in either order
        assert all(g == w or abs(gs - ws) <= 1e-6 for (g, gs), (w, ws) in zip(got, want, strict=True))


def test_the_graph_finds_nearly_every_nearest_row_with_exact_scores(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """With fewer candidates than rows the search goes through the graph: approximate, so recall is
    checked (not equality), and every score returned is the row's exact cosine."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(DATA.glob("*.md")))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) >= 4]
    vectors = minilm.embed_passages(sentences[:400])
    exact, approximate = (
        exact_store(tmp_path / "e" / "docket.db"),
        forced(tmp_path / "a" / "docket.db", ann_candidates=20),
    )
    for store in (exact, approximate):
        fill(store, vectors[: len(vectors) // 10 * 10])
    assert len(vectors) // 10 * 10 > 20
    recalls = []
    for q in vectors[:40]:
        want = dict(exact.vector_search(q, 10, Filters(), Access.owner()))
        got = approximate.vector_search(q, 10, Filters(), Access.owner())
        assert approximate._vectors is not None
        recalls.append(len(want.keys() & {i for i, _ in got}) / 10)
        exact_all = dict(exact.vector_search(q, 10**6, Filters(), Access.owner()))
        assert all(abs(exact_all[i] - s) <= 1e-6 for i, s in got)
    assert np.mean(recalls) >= 0.9


@pytest.mark.parametrize("exact_rows", [0, 10**6], ids=["through-the-index", "exact-for-few-rows"])
def test_filters_and_access_never_leak_and_match_exact_search(tmp_path: Path, exact_rows: int) -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 600, 16)
    exact, approximate = exact_store(tmp_path / "e" / "docket.db"), forced(tmp_path / "a" / "docket.db")
    approximate._exact_rows = exact_rows
    for store in (exact, approximate):
        fill(store, vectors)
    allowed_docs = {
        Access(workspaces=("ws1",), principals=("user:ann",)): {f"d{i}" for i in range(60) if i % 3 == 1 and i % 2},
        Access(workspaces=("ws0", "ws2"), principals=("group:g0",)): {
            f"d{i}" for i in range(60) if i % 3 != 1 and (i % 2 or i % 4 == 0)
        },
        Access(workspaces=()): set(),
    }
    for access, docs in allowed_docs.items():
        for filters in (Filters(), Filters(path_glob="f2/*")):
            for q in unit(rng, 10, 16):
                got = approximate.hits(approximate.vector_search(q, 20, filters, access), Access.owner())
                assert {h.doc_id for h in got} <= docs, (access, filters)
                if filters.path_glob:
                    assert all(h.path.startswith("f2/") for h in got)
                want = exact.vector_search(q, 20, filters, access)
                assert len(got) == len(want)
                overlap = len({h.chunk_id for h in got} & {i for i, _ in want})
                assert overlap >= 0.9 * len(want)


def test_rows_added_after_the_build_are_searched_and_deleted_ones_never_returned(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vectors = unit(rng, 300, 16)
    store = forced(tmp_path / "docket.db", ann_rebuild_share=0.5)
    fill(store, vectors[:200])
    store.vector_search(vectors[0], 5, Filters(), Access.owner())
    built = ann.read_stamp(store.path)
    assert built is not None and built.rows == 200
    fill(store, vectors[200:], start=20)  # new documents d20..d29
    for doc_id in ("d0", "d1", "d2"):
        store.delete_document(doc_id)
    deleted = set(range(1, 31))  # chunk ids of d0..d2
    for i in (0, 15, 25, 250, 290):
        found = store.vector_search(vectors[i], 5, Filters(), Access.owner())
        assert not {cid for cid, _ in found} & deleted
        if i >= 30:  # the row itself (score 1) comes first, whether the index or the new rows held it
            assert found[0] == (i + 1, pytest.approx(1.0))
    store._exact_rows = 10**6  # a filter's rows scanned: the index's int8 rows and the newer float ones
    for i in (100, 250):  # documents d10 and d25, both under f0/
        found = store.vector_search(vectors[i], 5, Filters(path_glob="f0/*"), Access.owner())
        assert found[0] == (i + 1, pytest.approx(1.0))
        assert all(h.path.startswith("f0/") for h in store.hits(found, Access.owner()))
    assert ann.read_stamp(store.path) == built  # handled without a rebuild


def test_chunk_ids_are_never_reused_after_deleting_the_newest_rows(tmp_path: Path) -> None:
    vectors = unit(np.random.default_rng(3), 40, 16)
    store = forced(tmp_path / "docket.db")
    fill(store, vectors[:20])
    store._db.execute("DELETE FROM meta WHERE key = 'chunk_id_high'")  # a store from before the mark was kept
    store.delete_document("d1")  # chunk ids 11..20, the largest
    fill(store, vectors[20:30], start=5)
    ids = [r[0] for r in store._db.execute("SELECT id FROM chunks ORDER BY id")]
    assert ids == [*range(1, 11), *range(21, 31)]


@pytest.mark.parametrize("damage", ["missing file", "other embedder", "vectors rewritten", "garbled stamp"])
def test_a_stale_or_missing_index_is_rebuilt(tmp_path: Path, damage: str) -> None:
    vectors = unit(np.random.default_rng(4), 100, 16)
    store = forced(tmp_path / "docket.db")
    fill(store, vectors)
    store.vector_search(vectors[0], 5, Filters(), Access.owner())
    stamp = ann.read_stamp(store.path)
    assert stamp is not None
    stamp_file = ann.stamp_path(store.path)
    if damage == "missing file":
        (store.path.parent / stamp.file).unlink()
    elif damage == "other embedder":
        stamp_file.write_text(json.dumps({**json.loads(stamp_file.read_text()), "embedder": "old"}))
    elif damage == "vectors rewritten":  # same embedder, vectors replaced in place
        store.swap_embedder("m", 16, None, lambda pairs: {h: -vectors[0] for h, _ in pairs})
    else:
        stamp_file.write_text("{not json")
    store._loaded_generation = -1  # as another process would: it opens the files afresh
    found = store.vector_search(vectors[0], 5, Filters(), Access.owner())
    rebuilt = ann.read_stamp(store.path)
    assert rebuilt is not None and rebuilt.file != stamp.file and rebuilt.rows == 100
    assert not (store.path.parent / stamp.file).exists() or damage == "garbled stamp"
    if damage == "vectors rewritten":
        assert found[0][1] == pytest.approx(-1.0)
    else:
        assert found[0] == (1, pytest.approx(1.0))


def test_a_failed_write_leaves_the_index_answering_only_committed_rows(tmp_path: Path) -> None:
    vectors = unit(np.random.default_rng(5), 100, 16)
    store = forced(tmp_path / "docket.db", ann_rebuild_share=1.0)
    fill(store, vectors)
    store.vector_search(vectors[0], 5, Filters(), Access.owner())
    chunks = [Chunk("half written", Location(0, 1), "", 0), Chunk("never", Location(0, 1), "", 1)]
    bad = {chunks[0].hash: vectors[0], chunks[1].hash: "not a vector"}  # fails inside the transaction
    with pytest.raises(ValueError):
        store.put_document(make_doc("dx", "x.txt"), chunks, bad, "")  # type: ignore[dict-item]
    reopened = forced(tmp_path / "docket.db", ann_rebuild_share=1.0)
    found = reopened.vector_search(vectors[0], 10, Filters(), Access.owner())
    assert {cid for cid, _ in found} <= set(range(1, 101))
    assert found[0] == (1, pytest.approx(1.0))


def test_without_the_extra_the_store_stays_exact_and_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "usearch", None)  # as if docket[scale] were not installed
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'docket\[scale\]'"):
        ann.VectorIndex.build(tmp_path / "docket.db", [], embedder="m", dim=4, epoch=0, high=0)
    vectors = unit(np.random.default_rng(6), 50, 16)
    store = forced(tmp_path / "docket.db")
    fill(store, vectors)
    with caplog.at_level(logging.WARNING, logger="docket.index.sqlite"):
        found = store.vector_search(vectors[3], 1, Filters(), Access.owner())
    assert found == [(4, pytest.approx(1.0))]
    assert store._vectors is None and store._matrix is not None and len(store._matrix) == 50
    assert "docket[scale]" in caplog.text


def test_an_ingest_builds_the_index_before_the_first_search(tmp_path: Path) -> None:
    """The process that changes the store builds the index, so no user's query waits for it."""
    from docket.config import load_settings
    from docket.kb import KnowledgeBase
    from docket.models.embedders import FakeEmbedder

    settings = load_settings(home=tmp_path / "kb", overrides={"store": {"vector_index_min_chunks": 1}})
    with KnowledgeBase(settings, embedder=FakeEmbedder()) as kb:
        report = kb.ingest([str(DATA)])
        assert report.added > 0
        stamp = ann.read_stamp(kb.settings.db_path)
        assert stamp is not None and stamp.rows == kb.store.stats()["chunks"]
        assert kb.search("vacation", k=1)  # searches through the index just built
        # removing a source is a change too: the index follows before the next query
        kb.ingest([str(DATA.parent / "tables")])
        grown = kb.store.stats()["chunks"]
        assert ann.read_stamp(kb.settings.db_path).rows == grown  # type: ignore[union-attr]
        kb.remove_source(next(iter(kb.ledger.sources())))
        assert ann.read_stamp(kb.settings.db_path).rows == kb.store.stats()["chunks"] < grown  # type: ignore[union-attr]
