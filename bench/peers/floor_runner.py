"""Floor references: plain BM25 (bm25s, English stemmer and stop words) and plain exact dense search
(numpy, one matrix-vector product). ``--mode bm25`` or ``--mode dense`` (``build`` and ``ingest``
build both). Speaks the protocol of protocol.py; runs in bench/.venvs/floor."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from minilm import MiniLM, VectorCache
from protocol import doc_ranking, emit, load_chunks, load_queries, parser, run_queries, timed_import


def _framework() -> Any:
    import bm25s
    import Stemmer

    return bm25s, Stemmer.Stemmer("english")


class Floor:
    def __init__(self, bm25s: Any, stemmer: Any) -> None:
        self.bm25s, self.stemmer = bm25s, stemmer

    def tokens(self, texts: list[str]) -> Any:
        return self.bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)

    def build(self, chunks: list[dict[str, str]], embed: Any, index: Path | None) -> None:
        texts = [c["text"] for c in chunks]
        self.docs = [c["doc"] for c in chunks]
        self.matrix = embed(texts)
        self.bm25 = self.bm25s.BM25()
        self.bm25.index(self.tokens(texts), show_progress=False)
        if index is not None:
            index.mkdir(parents=True, exist_ok=True)
            self.bm25.save(str(index / "bm25s"))
            np.save(index / "vectors.npy", self.matrix)
            (index / "docs.json").write_text(json.dumps(self.docs), encoding="utf-8")

    def load(self, index: Path) -> None:
        self.bm25 = self.bm25s.BM25.load(str(index / "bm25s"))
        self.matrix = np.load(index / "vectors.npy")
        self.docs = json.loads((index / "docs.json").read_text(encoding="utf-8"))

    def keyword(self, text: str, k: int) -> list[str]:
        k = min(k, len(self.docs))
        ids, _ = self.bm25.retrieve(self.tokens([text]), k=k, show_progress=False)
        return doc_ranking(self.docs[int(i)] for i in ids[0])

    def dense(self, vector: np.ndarray, k: int) -> list[str]:
        scores = self.matrix @ vector
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return doc_ranking(self.docs[int(i)] for i in top)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    (bm25s, stemmer), import_s = timed_import(_framework)
    floor = Floor(bm25s, stemmer)
    name = f"floor-{args.mode or 'bm25s+dense'}"
    if args.command == "build":
        chunks = load_chunks(args.chunks)
        cache = VectorCache(args.cache)
        t0 = time.perf_counter()
        floor.build(chunks, cache.embed, args.index)
        emit(name, import_s, chunks=len(chunks), build_s=round(time.perf_counter() - t0, 2), misses=cache.misses)
    elif args.command == "ingest":
        chunks = load_chunks(args.chunks, args.docs)
        model = MiniLM()
        t0 = time.perf_counter()
        floor.build(chunks, model.embed, None)
        seconds = time.perf_counter() - t0
        emit(
            name, import_s, chunks=len(chunks), seconds=round(seconds, 2), chunks_per_s=round(len(chunks) / seconds, 2)
        )
    elif args.command == "query":
        floor.load(args.index)
        cache = VectorCache(args.cache)
        if args.mode == "dense":
            result = run_queries(load_queries(args.queries), lambda q: floor.dense(cache.embed([q])[0], args.k))
        else:
            result = run_queries(load_queries(args.queries), lambda q: floor.keyword(q, args.k))
        emit(name, import_s, **result)
    elif args.command == "coldstart":
        floor.load(args.index)
        if args.mode == "dense":
            docs = floor.dense(MiniLM().embed([args.query])[0], 10)
        else:
            docs = floor.keyword(args.query, 10)
        emit(name, import_s, top=docs[:3])


if __name__ == "__main__":
    main()
