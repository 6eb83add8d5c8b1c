"""Retrieval quality of the PostgreSQL store against the embedded one, with the same embedder.

    python bench/postgres.py --beir ../shared/data/beir-scifact --split test --json
    python bench/postgres.py --beir ../shared/data/beir-scifact --url postgresql://... --json

Indexes corpus.jsonl into a temporary embedded knowledge base exactly as bench/retrieval.py does,
copies it into PostgreSQL with ``docket db copy``'s code (vectors are copied, not re-embedded), then
runs the same queries (same query vectors) through keyword, semantic and hybrid retrieval on both
stores and prints nDCG@10 per store and retriever, their difference, the copy's speed and each
store's hybrid search latency (p50, query embedding excluded). Without ``--url`` a PostgreSQL
with pgvector is started in a temporary directory with the ``pgserver`` wheel.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docket.config import load_settings
from docket.index.postgres import PostgresStore
from docket.index.search import search
from docket.index.sqlite import SqliteStore
from docket.ledger import Store
from docket.models.embedders import EMBEDDERS
from docket.ops.copy import copy_store
from retrieval import build_index, load_beir, ndcg_at


def _evaluate(
    store: Store, embedder: Any, queries: dict[str, str], qvecs: dict[str, Any], qrels: Any, settings: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pool = settings.search.candidates
    for mode in ("keyword", "semantic", "hybrid"):
        scores, times = [], []
        for qid, text in queries.items():
            t0 = time.perf_counter()
            hits = search(
                store,
                embedder,
                text,
                k=pool,
                mode=mode,  # type: ignore[arg-type]
                alpha=settings.search.alpha,
                candidates=pool,
                fusion=settings.search.fusion,
                query_vector=qvecs[qid],
            )
            times.append((time.perf_counter() - t0) * 1000)
            scores.append(ndcg_at(list(dict.fromkeys(h.path for h in hits)), qrels[qid]))
        out[mode] = {"ndcg@10": round(statistics.fmean(scores), 4), "ms_p50": round(statistics.median(times), 2)}
    return out


def run(folder: Path, split: str, url: str | None, limit: int | None, embedder_name: str | None) -> dict[str, Any]:
    corpus, queries, qrels = load_beir(folder, split)
    if limit:
        queries = dict(list(queries.items())[:limit])
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        settings = load_settings(home=tmp, environ={})
        embedder = EMBEDDERS.create(embedder_name or settings.embedder.name)
        indexing = build_index(corpus, Path(tmp), embedder, settings)
        server = None
        if url is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pgserver

                server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
            url = server.get_uri()
        lite = SqliteStore(Path(tmp) / "docket.db")
        pg = PostgresStore(url, hnsw_ef_search=settings.search.candidates)
        try:
            started = time.perf_counter()
            copied = copy_store(lite, pg)
            copy_seconds = time.perf_counter() - started
            qvecs = dict(zip(queries, embedder.embed_queries(list(queries.values())), strict=True))
            embedded = _evaluate(lite, embedder, queries, qvecs, qrels, settings)
            postgres = _evaluate(pg, embedder, queries, qvecs, qrels, settings)
            health = pg.health()
        finally:
            pg.close()
            lite.close()
            if server is not None:
                server.cleanup()
    return {
        "dataset": folder.name,
        "split": split,
        "queries": len(queries),
        "documents": len(corpus),
        "chunks": indexing["chunks"],
        "embedder": embedder.name,
        "embedded": embedded,
        "postgres": postgres,
        "ndcg@10_difference": {m: round(postgres[m]["ndcg@10"] - embedded[m]["ndcg@10"], 4) for m in embedded},
        "copy_seconds": round(copy_seconds, 1),
        "copy_chunks_per_s": round(copied["copied"]["chunks"] / copy_seconds, 1),
        "pgvector": health["pgvector"],
        "postgres_server": health["server_version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, required=True, help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database (default: a temporary pgserver)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N queries")
    parser.add_argument("--embedder", default=None, help="registered embedder (default: embedder.name)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = run(args.beir, args.split, args.url, args.limit, args.embedder)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for mode in ("keyword", "semantic", "hybrid"):
        e, p = result["embedded"][mode], result["postgres"][mode]
        print(
            f"{mode:9} nDCG@10 embedded {e['ndcg@10']:.4f}  postgres {p['ndcg@10']:.4f}  "
            f"(p50 {e['ms_p50']} ms / {p['ms_p50']} ms)"
        )
    print(f"copied {result['chunks']} chunks in {result['copy_seconds']} s ({result['copy_chunks_per_s']} chunks/s)")


if __name__ == "__main__":
    main()
