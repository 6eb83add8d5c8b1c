"""Load on a real `docket serve`: concurrent clients on loopback, mixed search and extractive ask.

Starts `docket serve` on the bundled demo handbook (a fresh knowledge base under bench/out),
creates a user and an API key, then runs N concurrent clients for a fixed time. Each client
alternates `GET /api/search` and `POST /api/ask` (no model: extractive answers) over a fixed
list of questions. Reports requests/s, p50/p95 latency per kind, errors, and the server's
resident memory before and after. The baseline, measured in the same run, is the same work
through the Python API in one process with no HTTP (the ratio is what the server adds).

    python bench/server_load.py --clients 50 --seconds 60 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "src" / "docket" / "demo" / "clef-handbook"
QUESTIONS = [
    "How many weeks of parental leave do we offer?",
    "When can I take a sabbatical?",
    "How many vacation days do employees get?",
    "What is the policy on working remotely?",
    "How do I get reimbursed for expenses?",
    "What equipment does the company provide?",
    "How are salaries decided?",
    "What is the capital of Peru?",  # not in the handbook: an abstention
]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docket(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "docket", *args], check=True, capture_output=True, text=True).stdout


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _client(base: str, key: str, until: float, i: int, out: dict[str, list[float]], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        n = i
        while time.perf_counter() < until:
            question = QUESTIONS[n % len(QUESTIONS)]
            kind = "search" if n % 2 == 0 else "ask"
            started = time.perf_counter()
            try:
                if kind == "search":
                    r = await http.get("/api/search", params={"q": question, "k": 10})
                else:
                    r = await http.post("/api/ask", json={"question": question})
                if r.status_code != 200:
                    errors.append(f"{kind} {r.status_code}")
                else:
                    out[kind].append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError as exc:
                errors.append(f"{kind} {type(exc).__name__}")
            n += 1


def _baseline(home: Path, seconds: float) -> dict[str, float]:
    """The same mix through the Python API, one caller, no HTTP."""
    from docket import KnowledgeBase, load_settings

    kb = KnowledgeBase(load_settings(home=home))
    done = 0
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        question = QUESTIONS[n % len(QUESTIONS)]
        if n % 2 == 0:
            kb.search(question, k=10)
        else:
            kb.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
        done += 1
        n += 1
    kb.close()
    return {"requests_per_s": done / seconds, "p50_ms": _pct(latencies, 0.5), "p95_ms": _pct(latencies, 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--home", type=Path, default=REPO / "bench" / "out" / "server-load")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if args.home.exists():
        shutil.rmtree(args.home)
    home = str(args.home)
    _docket("ingest", str(DEMO), "--home", home, "--json")
    _docket("users", "create", "load@example.com", "--password", "load-test-password", "--admin", "--home", home)
    key = json.loads(_docket("keys", "create", "--user", "load@example.com", "--home", home, "--json"))["key"]

    port = _port()
    log = (args.home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "serve", "--home", home, "--port", str(port)], stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        httpx.post(f"{base}/api/ask", json={"question": QUESTIONS[0]}, headers={"Authorization": f"Bearer {key}"})
        rss_before = _rss_mb(proc.pid)
        latencies: dict[str, list[float]] = {"search": [], "ask": []}
        errors: list[str] = []
        until = time.perf_counter() + args.seconds

        async def run() -> None:
            await asyncio.gather(*(_client(base, key, until, i, latencies, errors) for i in range(args.clients)))

        asyncio.run(run())
        rss_after = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    baseline = _baseline(args.home, min(args.seconds, 20.0))
    total = len(latencies["search"]) + len(latencies["ask"])
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()}",
        "clients": args.clients,
        "seconds": args.seconds,
        "requests": total,
        "requests_per_s": round(total / args.seconds, 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "search_p50_ms": round(_pct(latencies["search"], 0.5), 1),
        "search_p95_ms": round(_pct(latencies["search"], 0.95), 1),
        "ask_p50_ms": round(_pct(latencies["ask"], 0.5), 1),
        "ask_p95_ms": round(_pct(latencies["ask"], 0.95), 1),
        "server_rss_mb_before": round(rss_before, 1),
        "server_rss_mb_after": round(rss_after, 1),
        "baseline_in_process_requests_per_s": round(baseline["requests_per_s"], 1),
        "baseline_in_process_p50_ms": round(baseline["p50_ms"], 1),
        "server_vs_in_process_throughput": round(total / args.seconds / baseline["requests_per_s"], 2),
        "mean_ms": round(statistics.mean(latencies["search"] + latencies["ask"]), 1) if total else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:40} {v}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
