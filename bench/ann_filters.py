"""Filtered vector search on the embedded store's approximate index, against exact search of the same rows.

    python bench/ann_filters.py DIR [--max-queries 100]

DIR is a store kept by ``bench/scale.py --keep`` (synthetic documents ``doc{d}.txt``, d = 0, 10, 20, ...).
Each path filter leaves a share of the rows: ``doc1*`` about 11% (searched through the index, which is asked
for proportionally more candidates) and ``doc12*`` about 1.1% (under 1/20 of the store, or at most
``exact_rows``: every allowed row scored with its int8 vector, the best re-scored exactly). For every test
question (the real SciFact/Cranfield ones of bench/scale.py) the script times ``vector_search(k=10)`` and
compares it with the exact top 10 of the allowed rows (their float32 vectors read from SQLite): recall@10 (a
hit counts when its score reaches the exact 10th score) and whether any returned row lies outside the filter
(must be 0). Then, unfiltered, hybrid search's top 10 with the store's vector side against the same search
fed the exact vector top 100 of exact-test-top100.npz (``hybrid``). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from scale import percentiles, query_split, rss_mb  # noqa: E402


def scores_of(store: Any, query: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine scores of these rows (float32 vectors read from SQLite) and their ids."""
    scored = store._vectors.rescore(query, ids)
    return np.array([s for _, s in scored]), np.array([i for i, _ in scored])


def hybrid_agreement(store: Any, folder: Path, limit: int) -> dict[str, float]:
    """Hybrid top 10 (the real search(), its fusion and keyword side unchanged) with the store's
    vector side against the same search with the exact vector top 100 of exact-test-top100.npz
    (written by bench/scale.py): the share of the exact-side top 10 found."""
    from docket.index.search import search

    path = folder / "exact-test-top100.npz"
    if not path.is_file():
        return {}
    reference = np.load(path)
    split = query_split()
    texts, qvecs = split["test_texts"][:limit], split["test"][:limit]
    approximate = store.vector_search
    found = 0.0
    for i, (text, v) in enumerate(zip(texts, qvecs, strict=True)):
        store.vector_search = approximate
        got = {h.chunk_id for h in search(store, None, text, k=10, query_vector=v)}

        def exact(_q: Any, k: int, _f: Any, _a: Any, i: int = i) -> list[tuple[int, float]]:
            ids, scores = reference["ids"][i][:k], reference["scores"][i][:k]
            return [(int(c), float(s)) for c, s in zip(ids, scores, strict=True)]

        store.vector_search = exact
        want = {h.chunk_id for h in search(store, None, text, k=10, query_vector=v)}
        found += len(got & want) / max(1, len(want))
    store.vector_search = approximate
    return {"hybrid_recall@10_vs_exact_vectors": found / len(texts), "queries": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--max-queries", type=int, default=100)
    parser.add_argument("--globs", default="doc1*,doc12*")
    args = parser.parse_args()
    from docket.index.sqlite import SqliteStore
    from docket.types import Access, Filters

    store = SqliteStore(Path(args.folder) / "docket.db")
    queries = query_split()["test"][: args.max_queries]
    t0 = time.perf_counter()
    _, row_ids, _ = store._load()
    out: dict[str, object] = {
        "open_s": time.perf_counter() - t0,
        "chunks": len(row_ids),
        "index": store._vectors is not None,
    }
    for glob in args.globs.split(","):
        filters = Filters(path_glob=glob)
        positions = store._allowed(filters, Access.owner(), row_ids)
        assert positions is not None
        allowed = set(row_ids[positions].tolist())
        store.vector_search(queries[0], 10, filters, Access.owner())  # warm
        times, hits, leaks = [], 0, 0
        for q in queries:
            t1 = time.perf_counter()
            got = store.vector_search(q, 10, filters, Access.owner())
            times.append((time.perf_counter() - t1) * 1000)
            exact = store._top(*scores_of(store, q, row_ids[positions]), 10)
            tenth = exact[-1][1]
            hits += sum(1 for _, s in got if s >= tenth - 1e-4)
            leaks += sum(1 for c, _ in got if c not in allowed)
        out[glob] = {
            "allowed_rows": len(allowed),
            "path": "scan" if len(allowed) <= store._exact_rows or 20 * len(allowed) <= len(row_ids) else "index",
            "vector_ms": percentiles(times),
            "recall@10": hits / (10 * len(queries)),
            "rows_outside_filter": leaks,
        }
    out["hybrid"] = hybrid_agreement(store, Path(args.folder), args.max_queries)
    rss, peak = rss_mb()
    out.update({"rss_mb": rss, "peak_rss_mb": peak, "queries": len(queries), "load": os.getloadavg()})
    store.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
