"""Ingestion throughput against the embedding model's own throughput, in one interleaved run.

    python bench/ingest.py --folder ../shared/data/18f-handbook/pages --rounds 2 --json

A = ``KnowledgeBase.ingest`` of the folder into a fresh knowledge base (walking, reading, hashing,
parsing, chunking, embedding, writing SQLite + FTS5). B = the same embedder embedding exactly the
chunk texts that A produced, nothing else. Runs A B A B ... and reports chunks/s of each and the
ratio A/B: 1.0 means the pipeline costs nothing beyond the model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.models.embedders import MiniLMEmbedder

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "18f-handbook" / "pages"


def run_pipeline(folder: Path, embedder: MiniLMEmbedder) -> tuple[float, int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(load_settings(home=tmp, environ={}), embedder=embedder)
        started = time.perf_counter()
        report = kb.ingest([str(folder)])
        seconds = time.perf_counter() - started
        texts = [c.indexed_text for d in kb.store.documents() for c in kb.store.chunks(d.id)]
        kb.close()
    return seconds, report.chunks_embedded, texts


def run_model(texts: list[str], embedder: MiniLMEmbedder) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), 64):  # the pipeline's batch size
        embedder.embed_passages(texts[i : i + 64])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    embedder = MiniLMEmbedder()
    pipeline, model = [], []
    chunks, files = 0, sum(1 for p in args.folder.rglob("*") if p.is_file())
    for _ in range(args.rounds):
        seconds, chunks, texts = run_pipeline(args.folder, embedder)
        pipeline.append(chunks / seconds)
        model.append(len(texts) / run_model(texts, embedder))
    result = {
        "folder": str(args.folder),
        "files": files,
        "chunks": chunks,
        "rounds": args.rounds,
        "pipeline_chunks_per_s": round(statistics.median(pipeline), 1),
        "model_only_chunks_per_s": round(statistics.median(model), 1),
        "ratio": round(statistics.median(p / m for p, m in zip(pipeline, model, strict=True)), 3),
    }
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
