"""Pruned keyword search against the exhaustive one on real sets: quality and agreement, same run.

    python bench/keyword_pruning.py --beir ../shared/data/beir-scifact ../shared/data/classic-ir/cranfield

Indexes each BEIR folder as bench/retrieval.py does (same chunking, the SQLite store; the ``fake``
embedder, as keyword search never reads vectors), then runs every query of ``--split`` through
the current keyword search (MaxScore pruning) and through the previous one (every posting of
the query's terms scored; bench/scale.py's ``previous_keyword_search``), 100 candidates each, as
hybrid search asks. Prints nDCG@10 and recall@100 of both, the share of queries whose 100
candidates have the same scores rank by rank (ties may be ordered differently: the previous
partial sort left them in no fixed order), and both latencies. Hybrid search fuses these
candidates with the (unchanged) vector candidates, so equal candidate lists give equal hybrid
rankings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from docket.config import load_settings  # noqa: E402
from docket.index.sqlite import SqliteStore  # noqa: E402
from docket.models.embedders import EMBEDDERS  # noqa: E402
from docket.types import Access, Filters  # noqa: E402
from retrieval import build_index, load_beir, ndcg_at, recall_at  # noqa: E402
from scale import previous_keyword_search  # noqa: E402


def run(folder: Path, split: str) -> dict[str, Any]:
    corpus, queries, qrels = load_beir(folder, split)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=tmp, environ={})
        build_index(corpus, Path(tmp), EMBEDDERS.create("fake"), settings)
        store = SqliteStore(Path(tmp) / "docket.db")
        paths = {"pruned": store.keyword_search, "exhaustive": previous_keyword_search(store)}
        pool = settings.search.candidates
        out: dict[str, Any] = {"dataset": folder.name, "split": split, "queries": len(queries)}
        lists: dict[str, dict[str, list[tuple[int, float]]]] = {name: {} for name in paths}
        for name, path in paths.items():
            ndcgs, recalls, ms = [], [], []
            for qid, text in queries.items():
                path(text, pool, Filters(), Access.owner())  # warm (first call loads the store)
                t0 = time.perf_counter()
                found = path(text, pool, Filters(), Access.owner())
                ms.append((time.perf_counter() - t0) * 1000)
                lists[name][qid] = found
                ranked = list(dict.fromkeys(h.path for h in store.hits(found, Access.owner())))
                ndcgs.append(ndcg_at(ranked, qrels[qid]))
                recalls.append(recall_at(ranked, qrels[qid]))
            ms.sort()
            out[name] = {
                "ndcg@10": round(statistics.fmean(ndcgs), 4),
                "recall@100": round(statistics.fmean(recalls), 4),
                "ms_p50": round(ms[len(ms) // 2], 3),
                "ms_p95": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 3),
            }
        same = sum(
            len(a) == len(b) and all(abs(x[1] - y[1]) <= 1e-6 * max(1.0, abs(y[1])) for x, y in zip(a, b, strict=True))
            for a, b in ((lists["pruned"][q], lists["exhaustive"][q]) for q in queries)
        )
        out["same_scores_share"] = same / len(queries)
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, nargs="+", required=True)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    print(json.dumps([run(folder, args.split) for folder in args.beir], indent=1))


if __name__ == "__main__":
    main()
