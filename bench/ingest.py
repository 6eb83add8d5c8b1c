"""Ingestion throughput against the embedding model's own throughput, in one interleaved run,
with the seconds each ingest stage took.

    python bench/ingest.py --folder ../shared/data/18f-handbook/pages --rounds 2 --json
    python bench/ingest.py --folder ../shared/data/financebench-dev/pdfs --file AMCOR_2023Q2_10Q.pdf ...
    python bench/ingest.py --folder ../shared/data/18f-handbook --limit 300

A = ``KnowledgeBase.ingest`` of the folder (or of ``--file``/``--limit`` files of it, by path)
into a fresh knowledge base (walking, reading, hashing, parsing, chunking, embedding, writing
SQLite + keyword postings), with its per-stage profile (``SyncReport.stages``). B = the same
embedder embedding exactly the chunk texts that A produced, nothing else, in the pipeline's batch
size. Runs A B A B ... and reports chunks/s of each and the ratio A/B: 1.0 means the pipeline
costs nothing beyond the model. ``model_share_in_pipeline`` is the same question answered inside
A (the tokenizer and model's seconds over A's seconds), which a shared machine's changing load
cannot skew. The machine (``nproc``, CPU model, load average before and after)
is printed with the figures, since a shared machine's load moves both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.config import load_settings
from docket.ingest import sync
from docket.ingest.sync import EMBED_BATCH, STAGES
from docket.kb import KnowledgeBase
from docket.models.embedders import MiniLMEmbedder

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "18f-handbook" / "pages"


def machine() -> dict[str, Any]:
    model = platform.processor() or ""
    with contextlib.suppress(OSError, StopIteration):  # /proc/cpuinfo: Linux only
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if "model name" in line)
    return {"nproc": os.cpu_count(), "cpu": model}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pick(folder: Path, files: list[str], limit: int | None) -> list[str] | None:
    """The paths (relative to ``folder``) to ingest; None: all of them."""
    if files:
        return files
    if limit is None:
        return None
    every = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return every[:limit]


def run_pipeline(
    folder: Path, only: list[str] | None, embedder: MiniLMEmbedder
) -> tuple[float, int, list[str], dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(load_settings(home=tmp, environ={}), embedder=embedder)
        started = time.perf_counter()
        report = kb.ingest([str(folder)], only=only)
        seconds = time.perf_counter() - started
        texts = [c.indexed_text for d in kb.store.documents() for c in kb.store.chunks(d.id)]
        kb.close()
    return seconds, report.chunks_embedded, texts, dict(report.stages)


def run_model(texts: list[str], embedder: MiniLMEmbedder, batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):  # the pipeline's batch size
        embedder.embed_passages(texts[i : i + batch])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--file", action="append", default=[], help="ingest only this file of the folder (repeat)")
    parser.add_argument("--limit", type=int, help="ingest only the first N files of the folder, by path")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="the embedder's threads (0: the runtime decides)")
    parser.add_argument(
        "--embed-batch",
        type=int,
        action="append",
        help=f"chunks the pipeline gathers before embedding (default {EMBED_BATCH}); repeat to compare, interleaved",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = args.folder.resolve()
    only = pick(folder, args.file, args.limit)
    load_before = load()
    embedder = MiniLMEmbedder(threads=args.threads)
    batches = args.embed_batch or [EMBED_BATCH]
    runs: dict[int, list[tuple[float, int, list[str], dict[str, float], float]]] = {b: [] for b in batches}
    for _ in range(args.rounds):
        for batch in batches:
            sync.EMBED_BATCH = batch  # read by the Indexer at each document
            seconds, chunks, texts, profile = run_pipeline(folder, only, embedder)
            runs[batch].append((seconds, chunks, texts, profile, run_model(texts, embedder, batch)))
    sync.EMBED_BATCH = EMBED_BATCH
    files = len(only) if only is not None else sum(1 for p in folder.rglob("*") if p.is_file())
    common = {"folder": str(args.folder), "files": files, "rounds": args.rounds, "threads": args.threads}
    results = [summary(batch, done) for batch, done in runs.items()]
    machine_load = {**machine(), "load_before": load_before, "load_after": load()}
    for result in results:
        result = {**common, **machine_load, **result}
        print(json.dumps(result, indent=2) if args.json else result)


def summary(batch: int, done: list[tuple[float, int, list[str], dict[str, float], float]]) -> dict[str, Any]:
    """Medians of the rounds of one batch size; the stages averaged over them."""
    pipeline = [chunks / seconds for seconds, chunks, _, _, _ in done]
    model = [len(texts) / model_seconds for _, _, texts, _, model_seconds in done]
    stages: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    for *_, profile, _ in done:
        for stage, spent in profile.items():
            stages[stage] = stages.get(stage, 0.0) + spent / len(done)
    total = sum(stages.values()) or 1.0
    return {
        "embed_batch": batch,
        "chunks": done[-1][1],
        "seconds": round(statistics.median(s for s, *_ in done), 1),
        "pipeline_chunks_per_s": round(statistics.median(pipeline), 1),
        "model_only_chunks_per_s": round(statistics.median(model), 1),
        "ratio": round(statistics.median(p / m for p, m in zip(pipeline, model, strict=True)), 3),
        # the same ratio from within the run: the model's share of the pipeline's own time (robust to
        # the load of a shared machine changing between A and B)
        "model_share_in_pipeline": round((stages["embed_tokenize"] + stages["embed_model"]) / total, 3),
        "stages": {name: {"seconds": round(s, 2), "share": round(s / total, 3)} for name, s in stages.items()},
    }


if __name__ == "__main__":
    main()
