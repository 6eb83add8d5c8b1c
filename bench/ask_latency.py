"""`docket ask` latency without a model, on a real knowledge base of many chunks.

    python bench/ask_latency.py                       # bench/out/answers/kb/financebench (run answers.py first)
    python bench/ask_latency.py --home DIR --rounds 3 --json
    python bench/ask_latency.py --json-out bench/out/ask-latency.json   # for `make figures`

Every question of the set (FinanceBench's 62 by default: 30 filings, about 18,600 chunks) is
asked through ``KnowledgeBase.ask`` with the default settings, extractive (no model): question
scoping, hybrid search, computed figures and table lookups, evidence and the answer, as the CLI
does after the knowledge base is open. Each question is asked once to warm the caches, then
``--rounds`` times; the median of its rounds is its latency.

Baseline, interleaved in the same run (the machines are shared and noisy, so the figure that
counts is the ratio): the same questions with the sentence vectors computed per question, as
for passages indexed before sentence vectors were kept at ingest (one model run per retrieved
passage, nothing kept); and, as ``one_search``, the same asks without the second search within
the best-ranked document (``answer.document_passages`` 0), which shows what that search costs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from answer_sets import load_financebench  # noqa: E402
from docket import KnowledgeBase, load_settings  # noqa: E402


@contextlib.contextmanager
def per_question_vectors(kb: KnowledgeBase) -> Iterator[None]:
    """Sentence vectors computed for every question and never kept (the baseline)."""
    import docket.answer.evidence as evidence

    saved_stored, saved_put = evidence._stored, kb.ledger.put_sentence_vectors
    evidence._stored = lambda store, embedder, hits: {}
    kb.ledger.put_sentence_vectors = lambda *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        evidence._stored = saved_stored
        kb.ledger.put_sentence_vectors = saved_put  # type: ignore[method-assign]


@contextlib.contextmanager
def one_search() -> Iterator[None]:
    """No second search within the best-ranked document (``answer.document_passages`` 0): what that
    search costs."""
    import docket.kb.answers as kb_answers

    saved = kb_answers.more_of_the_first
    kb_answers.more_of_the_first = lambda kb, question, hits, *args: hits
    try:
        yield
    finally:
        kb_answers.more_of_the_first = saved


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "out" / "answers" / "kb" / "financebench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--json-out", type=Path, help="also write the result to this file (bench/figures.py)")
    args = parser.parse_args()
    if not (args.home / "docket.db").exists():
        sys.exit(f"{args.home} holds no knowledge base: run `python bench/answers.py --set financebench` first")
    questions = [q.text for q in load_financebench().questions]
    if args.limit:
        questions = questions[: args.limit]
    with KnowledgeBase(load_settings(home=args.home, environ={})) as kb:
        chunks = kb.store.stats().get("chunks", 0)
        for question in questions:  # warm-up: models loaded, caches filled
            kb.ask(question)
        names = ("docket", "baseline", "one_search")
        timings: dict[str, list[float]] = {name: [] for name in names}
        for question in questions:
            rounds: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(args.rounds):
                for name in names:
                    variant = {"baseline": per_question_vectors(kb), "one_search": one_search()}
                    with variant.get(name, contextlib.nullcontext()):
                        started = time.perf_counter()
                        kb.ask(question)
                        rounds[name].append(time.perf_counter() - started)
            for name, values in rounds.items():
                timings[name].append(statistics.median(values))
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"nproc": os.cpu_count(), "cpu": _cpu(), "load": os.getloadavg()[0]},
        "chunks": chunks,
        "questions": len(questions),
        "rounds": args.rounds,
    }
    for name, values in timings.items():
        ordered = sorted(values)
        result[name] = {
            "p50_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        }
    result["ratio_p50"] = round(result["baseline"]["p50_ms"] / max(result["docket"]["p50_ms"], 1e-9), 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['chunks']} chunks, {len(questions)} questions, {args.rounds} rounds")
        for name in ("docket", "baseline", "one_search"):
            print(f"  {name:10s} p50 {result[name]['p50_ms']} ms   p95 {result[name]['p95_ms']} ms")
        print(f"  baseline / docket at p50: {result['ratio_p50']}x")
    if args.json_out:
        from figures import write_result

        write_result(args.json_out, result)


if __name__ == "__main__":
    main()
