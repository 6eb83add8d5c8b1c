"""Run every benchmark and print a Markdown report with the date and the machine.

    python bench/run_all.py [--quick] [--answers] > bench/out/report.md

Runs, each in its own process so that one's memory does not affect the next:
retrieval quality on SciFact (test), Cranfield and the two check sets of make_sets.py, ingestion
throughput against the embedding
model alone, and query latency at 100k passages. ``--quick`` limits the query counts and sizes for
a smoke run. ``--answers`` adds answer quality and speed, extractive against the packaged local
model (bench/answers.py; slow: about half an hour on 2 cores, a few minutes with ``--quick``).
Benchmarks are never part of the test suite; figures go into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores (nproc), {cpu}, Python {platform.python_version()}, {platform.system()}"


def run(script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / script), *args, "--json"], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--answers", action="store_true", help="also run bench/answers.py (slow)")
    args = parser.parse_args()
    limit = ["--limit", "50"] if args.quick else []
    lines = [f"## Run of {dt.date.today().isoformat()} — {machine()}", ""]
    lines += [
        "| set | bm25 nDCG@10 | dense nDCG@10 | hybrid nDCG@10 | hybrid recall@100 | chunks/s | query p50 / p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    subprocess.run([sys.executable, str(HERE / "make_sets.py")], check=True, capture_output=True)
    sets = (
        ("SciFact test", DATA / "beir-scifact"),
        ("Cranfield", DATA / "classic-ir" / "cranfield"),
        ("Bank FAQ (check)", HERE / "out" / "sets" / "bankfaq"),
        ("TAT-QA dev (check)", HERE / "out" / "sets" / "tatqa"),
    )
    for name, folder in sets:
        r = run("retrieval.py", "--beir", str(folder), *limit)
        lines.append(
            f"| {name} | {r['bm25']['ndcg@10']:.4f} | {r['dense']['ndcg@10']:.4f} | {r['hybrid']['ndcg@10']:.4f} | "
            f"{r['hybrid']['recall@100']:.4f} | {r['chunks_per_s']} | {r['query_ms_p50']} / {r['query_ms_p95']} |"
        )
    ing = run("ingest.py", "--rounds", "1" if args.quick else "2")
    lines += [
        "",
        f"Ingestion of {ing['files']} files ({ing['chunks']} chunks): pipeline "
        f"{ing['pipeline_chunks_per_s']} chunks/s, model alone {ing['model_only_chunks_per_s']} chunks/s, "
        f"ratio {ing['ratio']}.",
    ]
    lat = run("latency.py", "--chunks", "20000" if args.quick else "100000")
    lines += [
        "",
        f"Latency at {lat['chunks']} passages (ms, p50 / p95):",
        "",
        "| mode | retrieval | end to end (with query embedding) |",
        "|---|---|---|",
    ]
    for mode in ("keyword", "semantic", "hybrid"):
        r, e = lat[mode]["retrieval_ms"], lat[mode]["end_to_end_ms"]
        lines.append(f"| {mode} | {r['p50']} / {r['p95']} | {e['p50']} / {e['p95']} |")
    b = lat["baseline_fts5_ms"]
    lines.append(f"| baseline: SQLite FTS5 keyword | {b['p50']} / {b['p95']} | |")
    lines += ["", f"FTS5 / Docket keyword p50 ratio: {lat['fts5_over_docket_keyword_p50']}x."]
    if args.answers:
        from answers import table

        size = ["--limit", "5", "--removed", "3"] if args.quick else []
        ans = run("answers.py", *size)
        lines += ["", "Answers, extractive against the local model (bench/answers.py):", "", table(ans)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
