"""The comparison harness's own logic: markers, metrics, the runners' protocol and the vector cache.

Benchmarks are never run by the suite; these check only the pure pieces the harness relies on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.bench_modules import load_bench

compare = load_bench("bench_compare", "compare.py")
protocol = load_bench("bench_protocol", "peers/protocol.py")
minilm = load_bench("bench_minilm", "peers/minilm.py")


def test_write_results_replaces_only_the_marked_section(tmp_path: Path, monkeypatch: object) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Title\n\nhand-written\n\n<!-- compare:start -->\nold table\n<!-- compare:end -->\n\ntail\n")
    monkeypatch.setattr(compare, "RESULTS", results)  # type: ignore[attr-defined]
    compare.write_results("new table\n")
    text = results.read_text()
    assert "new table" in text and "old table" not in text
    assert text.startswith("# Title\n\nhand-written\n") and text.endswith("\n\ntail\n")


def test_write_results_appends_a_section_when_the_markers_are_missing(tmp_path: Path, monkeypatch: object) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Title\n")
    monkeypatch.setattr(compare, "RESULTS", results)  # type: ignore[attr-defined]
    compare.write_results("table\n")
    assert results.read_text().endswith("<!-- compare:start -->\ntable\n<!-- compare:end -->\n")


def test_ndcg_and_recall_follow_the_standard_definitions() -> None:
    rels = {"a": 2, "b": 1}
    assert compare.ndcg(["a", "b", "c"], rels) == 1.0
    assert 0 < compare.ndcg(["c", "b", "a"], rels) < 1
    assert compare.recall(["a", "x"], rels) == 0.5


def test_document_ranking_keeps_each_documents_best_chunk_first() -> None:
    assert protocol.doc_ranking(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]


def test_load_chunks_stops_after_the_requested_documents(tmp_path: Path) -> None:
    path = tmp_path / "chunks.jsonl"
    rows = [{"doc": d, "text": f"{d}{i}"} for i, d in enumerate(["a", "a", "b", "c", "c"])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r["text"] for r in protocol.load_chunks(path, docs=2)] == ["a0", "a1", "b2"]
    assert len(protocol.load_chunks(path)) == 5


def test_vector_cache_returns_saved_vectors_by_text(tmp_path: Path) -> None:
    matrix = np.eye(2, minilm.DIM, dtype=np.float32)
    np.save(tmp_path / "vectors.npy", matrix)
    (tmp_path / "keys.txt").write_text("\n".join(minilm.text_key(t) for t in ("first", "second")))
    cache = minilm.VectorCache(tmp_path)
    out = cache.embed(["second", "first"])
    assert np.array_equal(out, matrix[[1, 0]]) and cache.misses == 0
