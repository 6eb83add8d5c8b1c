"""Ingestion throughput of `docket worker` with 1, 2 and 4 worker processes on one PostgreSQL.

    python bench/workers.py --corpus ../shared/data/18f-handbook --repeats 2 --json
    python bench/workers.py --corpus ../shared/data/18f-handbook --limit 40   # a quicker subset
    python bench/workers.py --corpus DIR --workers 1,2,4 --embedder fake     # the queue alone

For each run (worker counts interleaved, repeats rotated): a fresh database on a temporary
PostgreSQL (the ``pgserver`` wheel) or on ``--url``'s server, N ``docket worker`` processes started
and given time to load the embedder, then ``docket enqueue CORPUS``; the clock runs from the moment
the tasks are queued until every task is done. Prints files/s and chunks/s per worker count (median
of the repeats) and the ratio to one worker. Every worker process loads its own copy of the model
and uses the machine's cores, so the speed-up is bounded by the cores, not by the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def _with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (pgserver's URIs keep the socket in ``?host=``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _run(server_url: str, corpus: Path, workers: int, embedder: str, tmp: Path, label: str) -> dict[str, Any]:
    name = f"docket_bench_{label}"
    _sql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _sql(server_url, f"CREATE DATABASE {name}")
    url = _with_database(server_url, name)
    env = {**os.environ, "DOCKET_DATABASE_URL": url, "DOCKET_EMBEDDER__NAME": embedder}
    home = tmp / label
    cmd = [sys.executable, "-m", "docket"]
    # Create the schema once, before the workers start.
    subprocess.run([*cmd, "db", "status", "--home", str(home)], env=env, check=True, capture_output=True)
    logs = [tmp / f"{label}-worker{i}.log" for i in range(workers)]
    procs = []
    for log in logs:
        with log.open("w") as err:
            procs.append(
                subprocess.Popen([*cmd, "worker", "--home", str(home)], env=env, stdout=subprocess.DEVNULL, stderr=err)
            )
    try:
        deadline = time.monotonic() + 600
        while not all("waiting for tasks" in log.read_text() for log in logs):  # the model is loaded
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker did not start: {[log.read_text()[-500:] for log in logs]}")
            time.sleep(0.1)
        queued = subprocess.run(
            [*cmd, "enqueue", str(corpus), "--home", str(home), "--json"], env=env, check=True, capture_output=True
        )
        started = time.perf_counter()
        files = json.loads(queued.stdout)["queued"]
        while _sql(url, "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'leased')")[0][0]:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
    done, failed = _sql(
        url,
        "SELECT COUNT(*) FILTER (WHERE status = 'done'), COUNT(*) - COUNT(*) FILTER (WHERE status = 'done') FROM jobs",
    )[0]
    chunks = _sql(url, "SELECT COUNT(*) FROM chunks")[0][0]
    _sql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return {"workers": workers, "files": files, "done": done, "failed": failed, "chunks": chunks, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder to ingest")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to compare (comma-separated)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files of the corpus (sorted)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--embedder", default="minilm", help="registered embedder (default: minilm)")
    parser.add_argument("--url", default=None, help="a PostgreSQL server (default: a temporary pgserver)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    runs: list[dict[str, Any]] = []
    server = None
    with tempfile.TemporaryDirectory(prefix="docket-workers-") as tmp:
        url = args.url
        if url is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pgserver

                server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
            url = server.get_uri()
        corpus = args.corpus.resolve()
        if args.limit is not None:  # a copy of the first N files, keeping their folders
            import shutil

            subset = Path(tmp) / "corpus"
            for path in sorted(p for p in corpus.rglob("*") if p.is_file())[: args.limit]:
                (subset / path.relative_to(corpus)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, subset / path.relative_to(corpus))
            corpus = subset
        try:
            for repeat in range(args.repeats):
                order = counts[repeat % len(counts) :] + counts[: repeat % len(counts)]  # interleaved, rotated
                for n in order:
                    run = _run(url, corpus, n, args.embedder, Path(tmp), f"r{repeat}w{n}")
                    run["repeat"] = repeat
                    runs.append(run)
                    if not args.json:
                        print(f"repeat {repeat}, {n} worker(s): {run['done']} files, {run['seconds']:.1f}s", flush=True)
        finally:
            if server is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    server.cleanup()
    summary: dict[str, Any] = {}
    for n in counts:
        mine = [r for r in runs if r["workers"] == n]
        seconds = statistics.median(r["seconds"] for r in mine)
        summary[str(n)] = {
            "seconds": round(seconds, 2),
            "files_per_s": round(mine[0]["done"] / seconds, 2),
            "chunks_per_s": round(mine[0]["chunks"] / seconds, 1),
        }
    base = summary[str(counts[0])]["seconds"]
    for n in counts:
        summary[str(n)]["ratio_to_first"] = round(base / summary[str(n)]["seconds"], 2)
    result = {
        "corpus": str(args.corpus),
        "limit": args.limit,
        "embedder": args.embedder,
        "cpus": os.cpu_count(),
        "by_workers": summary,
    }
    if args.json:
        print(json.dumps({**result, "runs": runs}, indent=2))
        return
    print(f"{'workers':>7} {'seconds':>8} {'files/s':>8} {'chunks/s':>9} {'ratio':>6}")
    for n, row in summary.items():
        print(
            f"{n:>7} {row['seconds']:>8.1f} {row['files_per_s']:>8.2f} {row['chunks_per_s']:>9.1f} "
            f"{row['ratio_to_first']:>6.2f}"
        )


if __name__ == "__main__":
    main()
