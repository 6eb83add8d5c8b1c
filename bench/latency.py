"""Query latency of the embedded store at scale, on synthetic passages.

    python bench/latency.py --chunks 100000 --json
    python bench/latency.py --chunks 100000 --json-out bench/out/latency-100k.json   # for `make figures`

Builds a knowledge base of ``--chunks`` synthetic passages (real sentences from the public-domain
handbooks and policies in ../shared/data, or the bundled handbook when those are absent, shuffled
into passages of about 120 words; vectors are random unit vectors, since embedding 100k passages
would take an hour on 2 cores and latency does not depend on their values), then times
keyword, semantic and hybrid retrieval for real questions, with the query already embedded
("retrieval") and including the query embedding ("end to end").

Baseline, in the same run: SQLite FTS5 (porter tokenizer, BM25 ranking, the query's content words
OR-ed, top 100) over the same passages — the keyword index Docket used before its in-memory BM25.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.index.search import search
from docket.index.sqlite import SqliteStore
from docket.models.embedders import MiniLMEmbedder
from docket.types import Chunk, Document, Location

DEMO = Path(__file__).resolve().parents[1] / "src" / "docket" / "demo" / "clef-handbook"
QUESTIONS = [
    "How many weeks of parental leave do we offer?",
    "Can I work remotely for a month?",
    "What is the sabbatical policy?",
    "How do I report a complaint about harassment?",
    "Which holidays does the company observe?",
    "How much is the referral bonus?",
    "What equipment do new employees get?",
    "Are drugs and alcohol allowed at work events?",
    "How is salary and equity decided?",
    "Who do I tell when I am sick?",
]


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SENTENCE_SOURCES = ["18f-handbook", "github-site-policy", "plausible-product-docs", "clef-handbook"]


def sentences() -> list[str]:
    folders = [SHARED / name for name in SENTENCE_SOURCES if (SHARED / name).is_dir()] or [DEMO]
    out: list[str] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.md")):
            text = path.read_text(encoding="utf-8", errors="replace")
            out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+|\n{2,}", text) if len(s.split()) >= 4)
    return out


def synthetic_documents(
    n_chunks: int, dim: int, seed: int = 0, vectors: np.ndarray | None = None, words: int = 120, per_doc: int = 10
) -> Iterator[tuple[Document, list[Chunk], dict[str, np.ndarray]]]:
    """``(document, chunks, vectors by chunk hash)`` for ``n_chunks`` synthetic passages of about ``words``
    words, ``per_doc`` passages a document. Vectors: rows of ``vectors`` in order, or random unit vectors."""
    rng = np.random.default_rng(seed)
    pool = sentences()
    lengths = np.array([len(s.split()) for s in pool])
    for d in range(0, n_chunks, per_doc):
        texts = []
        for _ in range(min(per_doc, n_chunks - d)):
            picked, count = [], 0
            while count < words:
                i = int(rng.integers(len(pool)))
                picked.append(pool[i])
                count += int(lengths[i])
            texts.append(" ".join(picked))
        if vectors is None:
            vecs = rng.standard_normal((len(texts), dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        else:
            vecs = vectors[d : d + len(texts)]
        chunks = [Chunk(t, Location(char_start=0, char_end=len(t)), f"doc {d}", i) for i, t in enumerate(texts)]
        doc = Document(
            id=f"d{d}",
            source="synthetic",
            path=f"doc{d}.txt",
            title=f"doc {d}",
            filetype="txt",
            content_hash=f"h{d}",
            size=0,
            mtime=0.0,
        )
        yield doc, chunks, {c.hash: v for c, v in zip(chunks, vecs, strict=True)}


def build(
    store: Any,
    n_chunks: int,
    dim: int,
    seed: int = 0,
    vectors: np.ndarray | None = None,
    words: int = 120,
    per_doc: int = 10,
) -> float:
    """Write ``n_chunks`` synthetic passages through ``put_document``; returns the seconds it took."""
    store.bind_embedder("synthetic", dim)
    started = time.perf_counter()
    for doc, chunks, vecs in synthetic_documents(n_chunks, dim, seed, vectors, words, per_doc):
        store.put_document(doc, chunks, vecs, "")
    return time.perf_counter() - started


def fts5_baseline(store: SqliteStore, rounds: int) -> dict[str, float]:
    """Time FTS5 OR-queries over the same passages (a separate database in the same folder)."""
    import sqlite3

    from docket.index.keywords import query_terms

    db = sqlite3.connect(store.path.with_name("fts5-baseline.db"))
    db.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO f (rowid, text) SELECT ?, ?", store._db.execute("SELECT id, text FROM chunks"))
    db.commit()
    samples = []
    for _ in range(rounds):
        for q in QUESTIONS:
            match = " OR ".join(f'"{t}"' for t in query_terms(q))
            t0 = time.perf_counter()
            db.execute("SELECT rowid, bm25(f) AS s FROM f WHERE f MATCH ? ORDER BY s LIMIT 100", (match,)).fetchall()
            samples.append((time.perf_counter() - t0) * 1000)
    db.close()
    return percentiles(samples)


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50": round(s[len(s) // 2], 2), "p95": round(s[min(len(s) - 1, int(len(s) * 0.95))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10, help="passes over the question list")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--json-out", type=Path, help="also write the result, dated, to this file (bench/figures.py)")
    args = parser.parse_args()
    embedder = MiniLMEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "docket.db")
        build_s = build(store, args.chunks, embedder.dim)
        store.vector_search(np.zeros(embedder.dim, dtype=np.float32), 1, *_defaults())  # load the matrix once
        qvecs = embedder.embed_queries(QUESTIONS)
        out: dict[str, object] = {"chunks": args.chunks, "build_s": round(build_s, 1)}
        for mode in ("keyword", "semantic", "hybrid"):
            retrieval, end_to_end = [], []
            for _ in range(args.rounds):
                for q, v in zip(QUESTIONS, qvecs, strict=True):
                    t0 = time.perf_counter()
                    search(store, embedder, q, k=10, mode=mode, query_vector=v)  # type: ignore[arg-type]
                    retrieval.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    search(store, embedder, q, k=10, mode=mode)  # type: ignore[arg-type]
                    end_to_end.append((time.perf_counter() - t0) * 1000)
            out[mode] = {"retrieval_ms": percentiles(retrieval), "end_to_end_ms": percentiles(end_to_end)}
        out["db_bytes"] = store.stats()["size_bytes"]
        baseline = fts5_baseline(store, args.rounds)
        keyword = out["keyword"]["retrieval_ms"]  # type: ignore[index]
        out["baseline_fts5_ms"] = baseline
        out["fts5_over_docket_keyword_p50"] = round(baseline["p50"] / max(keyword["p50"], 1e-6), 1)
        store.close()
    print(json.dumps(out, indent=2) if args.json else out)
    if args.json_out:
        from figures import write_result

        write_result(args.json_out, out)


def _defaults() -> tuple[object, object]:
    from docket.types import Access, Filters

    return Filters(), Access.owner()


if __name__ == "__main__":
    main()
