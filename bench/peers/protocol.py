"""The small protocol every runner speaks (standard library + numpy only; imported in every venv).

One subprocess per measurement; the runner prints exactly one JSON object on its last stdout line.

    RUNNER build     --chunks CHUNKS.jsonl --cache DIR --index DIR [--beir DIR]
    RUNNER query     --index DIR --cache DIR --queries QUERIES.json [--k 100]
    RUNNER ingest    --chunks CHUNKS.jsonl --docs N [--beir DIR]
    RUNNER coldstart --index DIR --query TEXT
    RUNNER sync      --folder DIR --index DIR

``sync`` is the system's own way of keeping an index of a folder up to date, with its own loader
(and, for the peers, its own splitter set to about 256 tokens): the first call indexes every file,
later calls on the same ``--index`` update it after files changed. The live model embeds (the
shared MiniLM of minilm.py); the answer carries ``seconds`` (from opening the saved index, model
already loaded, to the index saved again), ``embedded`` (chunks the model embedded), ``embed_s``
(time inside the model), ``chunks`` and ``files``.

``build`` indexes the chunks with vectors read from the cache and saves the index; ``query`` loads
it and runs every query with the query vector from the cache (retrieval only), returning the
ranked document ids (best chunk wins, up to ``k`` chunks retrieved) and per-query latency in ms;
``ingest`` indexes the chunks of the first N documents with the live model, in memory, and
returns chunks/s; ``coldstart`` loads the saved index and answers one query with the live model
(the caller times process start to answer). Every answer carries ``import_s`` (importing the
framework) and ``peak_rss_mb`` (``resource.getrusage``, this process).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("command", choices=("build", "query", "ingest", "coldstart", "export", "sync"))
    p.add_argument("--folder", type=Path)
    p.add_argument("--chunks", type=Path)
    p.add_argument("--cache", type=Path)
    p.add_argument("--index", type=Path)
    p.add_argument("--queries", type=Path)
    p.add_argument("--beir", type=Path)
    p.add_argument("--docs", type=int, default=0)
    p.add_argument("--query", default="")
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--mode", default="")
    return p


def load_chunks(path: Path, docs: int = 0) -> list[dict[str, str]]:
    """Chunks in document order; with ``docs`` only those of the first ``docs`` documents."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if docs and row["doc"] not in seen:
                if len(seen) == docs:
                    break
                seen.add(row["doc"])
            out.append(row)
    return out


def load_queries(path: Path) -> list[tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(q["id"], q["text"]) for q in data]


def doc_ranking(doc_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(doc_ids))


def timed_import(load: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = load()
    return value, time.perf_counter() - t0


def run_queries(queries: list[tuple[str, str]], retrieve: Callable[[str], list[str]]) -> dict[str, Any]:
    ranked: dict[str, list[str]] = {}
    latency: list[float] = []
    if queries:  # warm-up (first-call allocations, lazy loads), not timed
        retrieve(queries[0][1])
    for qid, text in queries:
        t0 = time.perf_counter()
        docs = retrieve(text)
        latency.append((time.perf_counter() - t0) * 1000)
        ranked[qid] = docs[:100]
    return {"ranked": ranked, "latency_ms": latency}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def emit(system: str, import_s: float, **fields: Any) -> None:
    print(json.dumps({"system": system, "import_s": round(import_s, 3), "peak_rss_mb": peak_rss_mb(), **fields}))
