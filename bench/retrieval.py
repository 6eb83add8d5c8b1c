"""Retrieval quality and speed on a BEIR-format folder, through Docket's own pipeline.

    python bench/retrieval.py --beir ../shared/data/beir-scifact --split test --json

Indexes corpus.jsonl into a temporary knowledge base (chunking, embedding with the configured
embedder, SQLite store), then runs queries.jsonl that have qrels in ``--split`` through keyword
(BM25), semantic (dense) and hybrid retrieval. Chunk hits are mapped to their document (best chunk
wins). Prints nDCG@10 and recall@100 per retriever, indexing throughput (chunks/s, including
chunking and writing) and the latency of a default hybrid search (k=10, query embedding included)
p50/p95 in milliseconds. ``--alpha 0.5 0.6 0.7`` and ``--fusion adaptive absolute minmax rrf`` evaluate several
fusion weights and methods in one run (the first of each is reported as "hybrid", the others as
"hybrid:METHOD@ALPHA"); choose them on a train split, never on the test queries.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.config import load_settings
from docket.index.search import search
from docket.index.sqlite import SqliteStore
from docket.ingest.sync import Indexer
from docket.models.embedders import EMBEDDERS
from docket.types import Block, Document, ParsedDocument, SyncReport


def load_beir(folder: Path, split: str) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    queries = {
        q["_id"]: q["text"]
        for q in (json.loads(line) for line in (folder / "queries.jsonl").open(encoding="utf-8") if line.strip())
    }
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0] == "query-id":
                continue
            qid, did, score = parts[0], parts[1], int(float(parts[2]))
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    return corpus, {q: queries[q] for q in qrels if q in queries}, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(rels)) / len(rels) if rels else 0.0


def build_index(corpus: list[dict[str, Any]], home: Path, embedder: Any, settings: Any) -> dict[str, float]:
    store = SqliteStore(home / "docket.db")
    store.bind_embedder(embedder.name, embedder.dim)
    report = SyncReport()
    indexer = Indexer(store, embedder, report, settings.chunking.max_tokens, settings.chunking.overlap_tokens)
    started = time.perf_counter()
    for row in corpus:
        text = str(row.get("text") or "").strip()
        title = str(row.get("title") or "").strip()
        if not text and not title:
            continue
        doc = Document(
            id=str(row["_id"]),
            source="beir",
            path=str(row["_id"]),
            title=title,
            filetype="txt",
            content_hash=str(row["_id"]),
            size=len(text),
            mtime=0.0,
        )
        indexer.add(doc, ParsedDocument(blocks=(Block(text or title),), title=title))
    indexer.flush()
    seconds = time.perf_counter() - started
    store.close()
    return {"chunks": report.chunks_embedded, "seconds": seconds, "chunks_per_s": report.chunks_embedded / seconds}


def run(
    folder: Path,
    split: str,
    alphas: list[float] | None,
    fusions: list[str] | None,
    limit: int | None,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    corpus, queries, qrels = load_beir(folder, split)
    if limit:
        queries = dict(list(queries.items())[:limit])
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"chunking": {"max_tokens": max_tokens}} if max_tokens else None
        settings = load_settings(home=tmp, environ={}, overrides=overrides)
        alphas = alphas or [settings.search.alpha]
        fusions = fusions or [settings.search.fusion]
        fusion = fusions[0]
        pool = settings.search.candidates
        embedder = EMBEDDERS.create(settings.embedder.name)
        indexing = build_index(corpus, Path(tmp), embedder, settings)
        store = SqliteStore(Path(tmp) / "docket.db")
        results: dict[str, Any] = {}
        latencies: list[float] = []
        qvecs = {qid: v for qid, v in zip(queries, embedder.embed_queries(list(queries.values())), strict=True)}
        runs = [("bm25", "keyword", 0.0, fusion), ("dense", "semantic", 0.0, fusion)]
        runs += [
            ("hybrid" if (i, j) == (0, 0) else f"hybrid:{f}@{a}", "hybrid", a, f)
            for j, f in enumerate(fusions)
            for i, a in enumerate(alphas)
        ]
        for name, mode, alpha, method in runs:
            ndcgs, recalls = [], []
            for qid, text in queries.items():
                hits = search(
                    store,
                    embedder,
                    text,
                    k=pool,
                    mode=mode,
                    alpha=alpha,  # type: ignore[arg-type]
                    candidates=pool,
                    fusion=method,
                    query_vector=qvecs[qid],  # type: ignore[arg-type]
                )
                ranked = list(dict.fromkeys(hit.path for hit in hits))
                ndcgs.append(ndcg_at(ranked, qrels[qid]))
                recalls.append(recall_at(ranked, qrels[qid]))
            results[name] = {
                "ndcg@10": round(statistics.fmean(ndcgs), 4),
                "recall@100": round(statistics.fmean(recalls), 4),
            }
        # latency as a user sees it: the default search, query embedding included
        for text in queries.values():
            t0 = time.perf_counter()
            search(store, embedder, text, k=settings.search.k, alpha=alphas[0], candidates=pool, fusion=fusion)  # type: ignore[arg-type]
            latencies.append((time.perf_counter() - t0) * 1000)
        store.close()
    latencies.sort()
    return {
        **results,
        "dataset": folder.name,
        "split": split,
        "queries": len(queries),
        "documents": len(corpus),
        "embedder": embedder.name,
        "fusion": fusion,
        "alpha": alphas[0],
        "max_tokens": settings.chunking.max_tokens,
        "chunks": indexing["chunks"],
        "chunks_per_s": round(indexing["chunks_per_s"], 1),
        "query_ms_p50": round(latencies[len(latencies) // 2], 2),
        "query_ms_p95": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, required=True, help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--alpha", type=float, nargs="+", default=None, help="semantic weight(s) to evaluate (default: search.alpha)"
    )
    parser.add_argument(
        "--fusion",
        choices=("adaptive", "absolute", "minmax", "rrf"),
        nargs="+",
        default=None,
        help="fusion method(s) to evaluate (default: search.fusion)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N queries")
    parser.add_argument("--max-tokens", type=int, default=None, help="chunk size (default: chunking.max_tokens)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = run(args.beir, args.split, args.alpha, args.fusion, args.limit, args.max_tokens)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in [k for k in result if k in ("bm25", "dense") or k.startswith("hybrid")]:
            print(f"{name:12} nDCG@10 {result[name]['ndcg@10']:.4f}  recall@100 {result[name]['recall@100']:.4f}")
        print(
            f"indexing {result['chunks_per_s']} chunks/s; hybrid query p50 {result['query_ms_p50']} ms, "
            f"p95 {result['query_ms_p95']} ms"
        )


if __name__ == "__main__":
    main()
