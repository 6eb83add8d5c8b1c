"""Docket, embedded default (SQLite store, in-memory BM25 postings + exact cosine, ``absolute``
fusion at the default ``search.alpha``), through its own pipeline: chunking (Docket's chunker,
which also produced the chunks every other system indexes), embedding, writing, ``search()``.
Speaks the protocol of protocol.py; runs in Docket's own .venv. Extra command:

    docket_runner.py export --beir DIR --chunks OUT.jsonl   # Docket's chunks of a BEIR corpus
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from minilm import CountingModel, VectorCache
from protocol import doc_ranking, emit, load_queries, parser, run_queries, timed_import

# DOCKET_BENCH_SRC: run another checkout's Docket (bench/resync.py's same-run baseline) under this harness
sys.path.insert(0, os.environ.get("DOCKET_BENCH_SRC") or str(Path(__file__).resolve().parents[2] / "src"))


def _framework(command: str) -> Any:
    """Docket's modules for ``command``. Queries load only the store, search and (cold start) the
    embedder: the settings (pydantic) stay out of the query process, which reads the search settings
    that ``build`` saved next to the index (``search.json``), as a long-running server holds them."""
    from docket.index.search import search
    from docket.index.sqlite import SqliteStore
    from docket.models.embedders import MiniLMEmbedder

    d = {"search": search, "SqliteStore": SqliteStore, "MiniLMEmbedder": MiniLMEmbedder}
    if command in ("query", "coldstart"):
        return d
    from docket.config import load_settings
    from docket.ingest.chunking import chunk_document
    from docket.ingest.sync import Indexer
    from docket.types import Block, Document, ParsedDocument, SyncReport

    return {
        **d,
        "load_settings": load_settings,
        "chunk_document": chunk_document,
        "Indexer": Indexer,
        "Block": Block,
        "Document": Document,
        "ParsedDocument": ParsedDocument,
        "SyncReport": SyncReport,
    }


def beir_documents(d: dict[str, Any], folder: Path, docs: int = 0) -> list[tuple[Any, Any]]:
    """(Document, ParsedDocument) pairs of a BEIR corpus, as bench/retrieval.py builds them."""
    out = []
    for line in (folder / "corpus.jsonl").open(encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        text, title = str(row.get("text") or "").strip(), str(row.get("title") or "").strip()
        if not text and not title:
            continue
        doc = d["Document"](
            id=str(row["_id"]),
            source="beir",
            path=str(row["_id"]),
            title=title,
            filetype="txt",
            content_hash=str(row["_id"]),
            size=len(text),
            mtime=0.0,
        )
        out.append((doc, d["ParsedDocument"](blocks=(d["Block"](text or title),), title=title)))
        if docs and len(out) == docs:
            break
    return out


class CachedEmbedder:
    """Docket's MiniLM embedder (its tokenizer counts tokens for chunking) with vectors from the cache."""

    def __init__(self, live: Any, cache: VectorCache) -> None:
        self.live, self.cache = live, cache
        self.name, self.dim, self.similarity_floor = live.name, live.dim, live.similarity_floor

    def count_tokens(self, text: str) -> int:
        return int(self.live.count_tokens(text))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.cache.embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.cache.embed(texts)


class SharedEmbedder(CachedEmbedder):
    """Docket's tokenizer for chunking, the shared live model (bench/peers/minilm.py) for vectors."""

    def __init__(self, live: Any, model: CountingModel) -> None:
        self.live, self.model = live, model
        self.name, self.dim, self.similarity_floor = live.name, live.dim, live.similarity_floor

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.model.embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.model.embed(texts)


def sync_folder(d: dict[str, Any], folder: Path, index: Path, sandbox: bool = True) -> dict[str, Any]:
    """``KnowledgeBase.ingest(folder)`` (what ``docket ingest`` runs): the first call indexes every
    file; later calls skip files whose size / mtime / hash are unchanged and reuse the vectors of
    unchanged chunks. ``--mode nosandbox``: with ``ingest.sandbox = false`` (files parsed in this
    process instead of a worker process), to show what the worker costs."""
    from docket.kb import KnowledgeBase

    embedder = SharedEmbedder(d["MiniLMEmbedder"](), CountingModel())
    environ = {} if sandbox else {"DOCKET_INGEST__SANDBOX": "false"}
    settings = d["load_settings"](home=index, environ=environ)
    t0 = time.perf_counter()
    kb = KnowledgeBase(settings, embedder=embedder)
    report = kb.ingest([str(folder)])
    chunks = int(kb.store.stats()["chunks"])
    kb.close()
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "embedded": embedder.model.texts,
        "embed_s": round(embedder.model.seconds, 3),
        "chunks": chunks,
        "files": sum(1 for p in folder.rglob("*") if p.is_file()),
        "sync_s": round(report.seconds, 3),
        "stages": {name: round(float(v), 4) for name, v in getattr(report, "stages", {}).items()},
    }


def index_documents(d: dict[str, Any], pairs: list[tuple[Any, Any]], embedder: Any, db: Path) -> int:
    settings = d["load_settings"](home=db.parent, environ={})
    store = d["SqliteStore"](db)
    store.bind_embedder(embedder.name, embedder.dim)
    report = d["SyncReport"]()
    indexer = d["Indexer"](store, embedder, report, settings.chunking.max_tokens, settings.chunking.overlap_tokens)
    for doc, parsed in pairs:
        indexer.add(doc, parsed)
    indexer.flush()
    store.close()
    return int(report.chunks_embedded)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    d, import_s = timed_import(lambda: _framework(args.command))
    if args.command == "export":
        settings = d["load_settings"](home=Path("/nonexistent-docket-home"), environ={})
        live = d["MiniLMEmbedder"]()
        n = 0
        with args.chunks.open("w", encoding="utf-8") as out:
            for doc, parsed in beir_documents(d, args.beir):
                for chunk in d["chunk_document"](
                    parsed,
                    doc.title,
                    settings.chunking.max_tokens,
                    settings.chunking.overlap_tokens,
                    live.count_tokens,
                ):
                    out.write(json.dumps({"doc": doc.id, "text": chunk.indexed_text}) + "\n")
                    n += 1
        emit("docket", import_s, chunks=n)
    elif args.command == "build":
        args.index.mkdir(parents=True, exist_ok=True)
        embedder = CachedEmbedder(d["MiniLMEmbedder"](), VectorCache(args.cache))
        t0 = time.perf_counter()
        n = index_documents(d, beir_documents(d, args.beir), embedder, args.index / "docket.db")
        search_settings = d["load_settings"](home=args.index, environ={}).search.model_dump()
        (args.index / "search.json").write_text(json.dumps(search_settings), encoding="utf-8")
        emit("docket", import_s, chunks=n, build_s=round(time.perf_counter() - t0, 2), misses=embedder.cache.misses)
    elif args.command == "ingest":
        import tempfile

        live = d["MiniLMEmbedder"]()
        pairs = beir_documents(d, args.beir, args.docs)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            n = index_documents(d, pairs, live, Path(tmp) / "docket.db")
            seconds = time.perf_counter() - t0
        emit("docket", import_s, chunks=n, seconds=round(seconds, 2), chunks_per_s=round(n / seconds, 2))
    elif args.command == "sync":
        args.index.mkdir(parents=True, exist_ok=True)
        emit("docket", import_s, **sync_folder(d, args.folder, args.index, sandbox=args.mode != "nosandbox"))
    elif args.command in ("query", "coldstart"):
        s = json.loads((args.index / "search.json").read_text(encoding="utf-8"))
        store = d["SqliteStore"](args.index / "docket.db")
        if args.command == "coldstart":
            live = d["MiniLMEmbedder"]()
            hits = d["search"](
                store, live, args.query, k=10, alpha=s["alpha"], candidates=s["candidates"], fusion=s["fusion"]
            )
            emit("docket", import_s, top=doc_ranking(h.path for h in hits)[:3])
            return
        cache = VectorCache(args.cache)

        def retrieve(text: str) -> list[str]:
            hits = d["search"](
                store,
                None,
                text,
                k=args.k,
                alpha=s["alpha"],
                candidates=max(s["candidates"], args.k),
                fusion=s["fusion"],
                query_vector=cache.embed([text])[0],
            )
            return doc_ranking(h.path for h in hits)

        emit("docket", import_s, **run_queries(load_queries(args.queries), retrieve))


if __name__ == "__main__":
    main()
