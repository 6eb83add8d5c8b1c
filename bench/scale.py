"""Scale curve of Docket's stores: latency, recall and memory against corpus size.

    python bench/scale.py --sizes 10000,100000,1000000 [--postgres-max 100000] [--json]

For each size, one process builds a knowledge base through the Store API (``put_document``,
batches of 10 passages per document, as bench/latency.py does): synthetic passages of about 120
words assembled from real sentences of the public-domain handbooks, and random 384-d unit vectors
(embedding a million real chunks would take days on 2 cores; latency and memory do not depend on
the vectors' values). A second, fresh process opens the store and times hybrid and vector-only
retrieval for ten real questions (query vectors given, so retrieval only; 10 rounds), then reads
its peak RSS, and only then loads the exact vectors to compute recall@10 of the store's vector
search against exact numpy search (100 random query vectors; a hit counts when its score reaches
the exact 10th score). Disk = the store's files (embedded) or ``pg_database_size`` (PostgreSQL).

The PostgreSQL store (``docket.index.postgres``, pgvector HNSW, via a temporary ``pgserver``) is
included up to ``--postgres-max`` chunks when both are importable; its RSS is the client's only.
Writes bench/plots/scale.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))
DIM = 384


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def open_store(kind: str, folder: Path, url: str) -> Any:
    if kind == "postgres":
        from docket.index.postgres import PostgresStore

        return PostgresStore(url)
    from docket.index.sqlite import SqliteStore

    return SqliteStore(folder / "docket.db")


def build(kind: str, n: int, folder: Path, url: str) -> dict[str, Any]:
    from latency import build as build_store

    store = open_store(kind, folder, url)
    seconds = build_store(store, n, DIM, seed=0)
    store.close()
    return {"build_s": seconds}


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """The vectors bench/latency.py's build drew, in insertion order (same generator, same calls)."""
    from latency import sentences

    rng = np.random.default_rng(seed)
    pool = sentences()
    lengths = np.array([len(s.split()) for s in pool])
    out = np.zeros((n, DIM), dtype=np.float32)
    for d in range(0, n, 10):
        count = min(10, n - d)
        for _ in range(count):
            words = 0
            while words < 120:
                words += int(lengths[int(rng.integers(len(pool)))])
        v = rng.standard_normal((count, DIM)).astype(np.float32)
        out[d : d + count] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def query(kind: str, n: int, folder: Path, url: str, rounds: int) -> dict[str, Any]:
    from docket.index.search import search
    from docket.models.embedders import MiniLMEmbedder
    from docket.types import Access, Filters
    from latency import QUESTIONS

    embedder = MiniLMEmbedder()
    qvecs = embedder.embed_queries(QUESTIONS)
    store = open_store(kind, folder, url)
    t0 = time.perf_counter()
    store.vector_search(qvecs[0], 10, Filters(), Access.owner())  # loads the store (embedded: matrix + postings)
    search(store, embedder, QUESTIONS[0], k=10, query_vector=qvecs[0])
    load_s = time.perf_counter() - t0
    timings: dict[str, list[float]] = {"hybrid": [], "semantic": []}
    for _ in range(rounds):
        for q, v in zip(QUESTIONS, qvecs, strict=True):
            for mode, samples in timings.items():
                t1 = time.perf_counter()
                search(store, embedder, q, k=10, mode=mode, query_vector=v)  # type: ignore[arg-type]
                samples.append((time.perf_counter() - t1) * 1000)
    rss, peak = rss_mb()
    disk = (
        store.stats().get("size_bytes", 0)
        if kind == "postgres"
        else sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    )
    # recall@10 against exact search, after the memory reading
    matrix = vectors(n)
    rng = np.random.default_rng(1)
    probes = rng.standard_normal((100, DIM)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    hits = 0
    for p in probes:
        exact = np.partition(matrix @ p, -10)[-10]
        got = store.vector_search(p, 10, Filters(), Access.owner())
        hits += sum(1 for _, score in got if score >= exact - 1e-4)
    store.close()
    return {
        "store": "PostgreSQL (pgvector HNSW)" if kind == "postgres" else "embedded (SQLite + numpy)",
        "chunks": n,
        "load_s": load_s,
        "hybrid_ms": percentiles(timings["hybrid"]),
        "vector_ms": percentiles(timings["semantic"]),
        "recall@10": hits / (10 * len(probes)),
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "disk_mb": disk / 1e6,
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50": s[len(s) // 2], "p95": s[min(len(s) - 1, int(len(s) * 0.95))]}


def postgres_available() -> bool:
    try:
        import pgserver  # noqa: F401

        import docket.index.postgres  # noqa: F401
    except ImportError:
        return False
    return True


def child(argv: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for store in dict.fromkeys(r["store"] for r in rows):
        rs = [r for r in rows if r["store"] == store]
        x = [r["chunks"] for r in rs]
        a.plot(x, [r["hybrid_ms"]["p50"] for r in rs], "o-", label=f"{store}: hybrid p50")
        a.plot(x, [r["hybrid_ms"]["p95"] for r in rs], "o--", label=f"{store}: hybrid p95")
        a.plot(x, [r["vector_ms"]["p50"] for r in rs], "s:", label=f"{store}: vector p50")
        b.plot(x, [r["rss_mb"] for r in rs], "o-", label=f"{store}: query process RSS")
        b.plot(x, [r["disk_mb"] for r in rs], "s--", label=f"{store}: disk")
    for ax, title in ((a, "retrieval latency, ms"), (b, "memory and disk, MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--postgres-max", type=int, default=10_000, help="largest size for PostgreSQL (0: none)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=1500, help="seconds per build or query process")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-plot", action="store_true", help="do not write bench/plots/scale.png")
    parser.add_argument("--child", nargs=4, metavar=("WHAT", "KIND", "N", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, kind, n, folder = args.child
        fn = build if what == "build" else query
        extra = () if what == "build" else (args.rounds,)
        print(json.dumps(fn(kind, int(n), Path(folder), args.url, *extra)))  # type: ignore[operator]
        return
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    kinds = ["embedded"] + (["postgres"] if args.postgres_max and postgres_available() else [])
    if "postgres" not in kinds and args.postgres_max:
        notes.append("PostgreSQL: not measured (`docket.index.postgres` or `pgserver` not importable).")
    for kind in kinds:
        for n in (int(s) for s in args.sizes.split(",")):
            if kind == "postgres" and n > args.postgres_max:
                notes.append(f"PostgreSQL at {n:,} chunks: not measured (above --postgres-max {args.postgres_max:,}).")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                server, url = None, ""
                if kind == "postgres":
                    import pgserver

                    server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
                    url = server.get_uri()
                try:
                    t0 = time.perf_counter()
                    built = child(["--child", "build", kind, str(n), tmp, "--url", url], args.timeout)
                    row = child(
                        ["--child", "query", kind, str(n), tmp, "--url", url, "--rounds", str(args.rounds)],
                        args.timeout,
                    )
                    rows.append({**row, **built})
                    print(f"[scale] {kind} {n}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    notes.append(
                        f"{kind} at {n:,} chunks: did not complete here ({str(exc).strip().splitlines()[-1][:160]})."
                    )
                finally:
                    if server is not None:
                        server.cleanup()
    if rows and not args.no_plot:
        plot(rows, HERE / "plots" / "scale.png")
    out = {"rows": rows, "notes": notes, "load": os.getloadavg()}
    print(json.dumps(out, indent=1) if args.json else out)


if __name__ == "__main__":
    main()
