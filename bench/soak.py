"""Soak a real `docket serve`: mixed traffic on loopback, latency per endpoint, server memory trend.

Starts `docket serve` on the bundled demo handbook (a fresh knowledge base under bench/out), creates
an owner, a workspace and an API key, then runs N concurrent clients until R requests are done (or
T seconds have passed). Each client cycles through a fixed mix:

    search 40%  ·  ask (extractive, no model) 30%  ·  document list 15%  ·  upload 15%

Uploads are small text files sent through `POST /api/workspaces/Load/documents`; each queues an
ingestion job, and every job must finish. Upload names rotate over a fixed set (`load-00.txt` ...),
with new text each time, so the index stays the same size and memory is free to level off: growth
under steady load is then a leak, not more data.

Reported: requests, errors by endpoint and status, p50/p95/p99 per endpoint, the server's resident
memory (RSS, sampled every second) at start, end and maximum, and the slope of RSS against
requests done over the second half of the run, in MB per 1,000 requests (a line through the
medians of 10 windows, so that single embedding peaks do not tilt it). "Stable" means that slope
is below --slope-limit (default 2.0 MB per 1,000 requests).

    python bench/soak.py --clients 50 --requests 10000 --json        # the real minilm embedder
    python bench/soak.py --clients 20 --requests 2000 --embedder fake  # what tests/server/test_load.py runs

tests/server/test_load.py imports `prepare`, `serve` and `drive` from here.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "src" / "docket" / "demo" / "clef-handbook"
WORKSPACE = "Load"
EMAIL, PASSWORD = "load@example.com", "load-test-password"
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
# one cycle of 20 requests: 8 search, 6 ask, 3 document lists, 3 uploads
MIX = [
    *("search", "ask", "search", "documents", "ask", "search", "upload", "ask", "search", "search"),
    *("ask", "upload", "search", "documents", "ask", "search", "upload", "ask", "search", "documents"),
]
UPLOAD_SLOTS = 40  # upload names rotate over this many files


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")
    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def slope_per_1000(samples: list[tuple[int, float]], after_fraction: float = 0.5, windows: int = 10) -> float:
    """Slope of server RSS (MB) against requests done, per 1,000 requests, after warm-up.

    Only the samples taken after ``after_fraction`` of the requests count. RSS swings by a few
    hundred MB while embedding batches come and go, so the samples are split into ``windows``
    equal ranges of requests and the least-squares line is fitted through each window's median
    (requests, RSS): a leak moves every median, a passing peak moves none."""
    return _fit(samples, after_fraction, windows)[0]


def slope_stderr(samples: list[tuple[int, float]], after_fraction: float = 0.5, windows: int = 10) -> float:
    """Standard error of :func:`slope_per_1000` (from the scatter of the window medians)."""
    return _fit(samples, after_fraction, windows)[1]


def _fit(samples: list[tuple[int, float]], after_fraction: float, windows: int) -> tuple[float, float]:
    nan = float("nan")
    if not samples:
        return nan, nan
    total = max(n for n, _ in samples)
    low = after_fraction * total
    width = (total - low) / windows or 1.0
    groups: dict[int, list[tuple[int, float]]] = {}
    for n, m in samples:
        if n >= low:
            groups.setdefault(min(windows - 1, int((n - low) / width)), []).append((n, m))
    points = [(statistics.median(n for n, _ in g), statistics.median(m for _, m in g)) for g in groups.values()]
    if len(points) < 3 or len({n for n, _ in points}) < 2:
        return nan, nan
    mean_n = sum(n for n, _ in points) / len(points)
    mean_m = sum(m for _, m in points) / len(points)
    var = sum((n - mean_n) ** 2 for n, _ in points)
    slope = sum((n - mean_n) * (m - mean_m) for n, m in points) / var
    residuals = sum((m - mean_m - slope * (n - mean_n)) ** 2 for n, m in points)
    return slope * 1000, (residuals / (len(points) - 2) / var) ** 0.5 * 1000


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[int, float]] = field(default_factory=list)  # (requests done, server RSS MB)
    jobs: list[int] = field(default_factory=list)
    job_states: Counter[str] = field(default_factory=Counter)
    job_errors: list[str] = field(default_factory=list)

    def slope(self) -> float:
        return slope_per_1000(self.samples)

    def summary(self) -> dict[str, Any]:
        rss = [m for _, m in self.samples]
        out: dict[str, Any] = {
            "requests": self.requests,
            "seconds": round(self.seconds, 1),
            "requests_per_s": round(self.requests / self.seconds, 1) if self.seconds else None,
            "errors": sum(self.errors.values()),
            "errors_by_status": dict(sorted(self.errors.items())),
        }
        for kind, values in sorted(self.latencies.items()):
            out[kind] = {
                "n": len(values),
                "p50_ms": round(percentile(values, 0.50), 1),
                "p95_ms": round(percentile(values, 0.95), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
            }
        out["upload_jobs"] = len(self.jobs)
        out["job_states"] = dict(self.job_states)
        if rss:
            out["rss_mb"] = {
                "start": round(rss[0], 1),
                "end": round(rss[-1], 1),
                "max": round(max(rss), 1),
                "samples": len(rss),
            }
        out["rss_slope_mb_per_1000_requests"] = round(self.slope(), 3)
        out["rss_slope_stderr"] = round(slope_stderr(self.samples), 3)
        return out


def prepare(home: Path, embedder: str = "minilm", corpus: Path = DEMO) -> str:
    """A fresh knowledge base in ``home``: ``corpus`` (the demo handbook) in workspace Load, an owner
    who is an admin of Load, and an API key for them (returned)."""
    from docket import KnowledgeBase
    from docket.accounts import Accounts
    from docket.config import load_settings

    settings = load_settings(home=home, overrides={"embedder": {"name": embedder}})
    kb = KnowledgeBase(settings)
    try:
        report = kb.ingest([str(corpus)], workspace=WORKSPACE)
        if report.failed:
            raise RuntimeError(f"{corpus} did not ingest: {report.failed}")
    finally:
        kb.close()
    accounts = Accounts(home / "accounts.db")
    try:
        owner = accounts.users.create(EMAIL, PASSWORD, "owner")
        accounts.workspaces.create(WORKSPACE)
        accounts.workspaces.add_member(WORKSPACE, owner.id, "admin")
        return accounts.keys.create(owner.id)[1]
    finally:
        accounts.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, embedder: str, log: Path, extra_env: dict[str, str] | None = None) -> tuple[Any, str]:
    """Start `docket serve` on a free loopback port; returns the process and its base URL."""
    port = free_port()
    env = {**os.environ, "DOCKET_EMBEDDER__NAME": embedder, **(extra_env or {})}
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket", "serve", "--home", str(home), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"docket serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("docket serve did not start within 120 s")


async def drive(
    base: str,
    key: str,
    pid: int,
    *,
    clients: int,
    requests: int | None = None,
    seconds: float | None = None,
    sample_every: float = 1.0,
    job_wait_seconds: float = 600.0,
    samples_file: Path | None = None,
) -> LoadResult:
    """Run ``clients`` concurrent clients until ``requests`` are done or ``seconds`` have passed,
    sampling the server's RSS every ``sample_every`` seconds (also appended to ``samples_file`` as
    ``seconds requests rss_mb`` lines as they are taken); then wait for every upload's job."""
    if requests is None and seconds is None:
        raise ValueError("give requests, seconds or both")
    result = LoadResult(latencies={kind: [] for kind in sorted(set(MIX))})
    headers = {"Authorization": f"Bearer {key}"}
    issued = 0
    started = time.perf_counter()
    until = started + seconds if seconds is not None else float("inf")
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    def more() -> bool:
        return (requests is None or issued < requests) and time.perf_counter() < until

    async def client(i: int, http: httpx.AsyncClient) -> None:
        nonlocal issued
        n = i * 7  # clients start at different points of the mix
        while more():
            issued += 1
            kind = MIX[n % len(MIX)]
            question = QUESTIONS[n % len(QUESTIONS)]
            t0 = time.perf_counter()
            try:
                if kind == "search":
                    r = await http.get("/api/search", params={"q": question, "k": 10})
                elif kind == "ask":
                    r = await http.post("/api/ask", json={"question": question})
                elif kind == "documents":
                    r = await http.get("/api/documents", params={"workspace": WORKSPACE})
                else:
                    slot = (i * 131 + n) % UPLOAD_SLOTS
                    text = f"Load note {n} from client {i}: the depot in slot {slot} opens at {n % 12 + 1} o'clock.\n"
                    files = {"files": (f"load-{slot:02d}.txt", text.encode(), "text/plain")}
                    r = await http.post(f"/api/workspaces/{WORKSPACE}/documents", files=files)
                if r.status_code >= 300:
                    result.errors[f"{kind} {r.status_code}"] += 1
                else:
                    result.latencies[kind].append((time.perf_counter() - t0) * 1000)
                    if kind == "upload":
                        result.jobs.append(int(r.json()["job"]["id"]))
            except httpx.HTTPError as exc:
                result.errors[f"{kind} {type(exc).__name__}"] += 1
            result.requests += 1
            n += 1

    async def sampler() -> None:
        while True:
            result.samples.append((result.requests, rss_mb(pid)))
            if samples_file is not None:
                with samples_file.open("a") as f:
                    f.write(f"{time.perf_counter() - started:.1f} {result.requests} {result.samples[-1][1]:.1f}\n")
            await asyncio.sleep(sample_every)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as http:
        sampling = asyncio.create_task(sampler())
        try:
            await asyncio.gather(*(client(i, http) for i in range(clients)))
        finally:
            sampling.cancel()
        result.seconds = time.perf_counter() - started
        result.samples.append((result.requests, rss_mb(pid)))
        deadline = time.perf_counter() + job_wait_seconds
        for job_id in result.jobs:
            while True:
                job = (await http.get(f"/api/jobs/{job_id}")).json()
                if job["state"] in ("done", "failed") or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.1)
            result.job_states[job["state"]] += 1
            if job["state"] != "done":
                result.job_errors.append(f"job {job_id}: {job['state']} {job.get('error')}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10_000, help="stop after this many requests (0: no limit)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--embedder", default="minilm", help="minilm (default, real) or fake")
    parser.add_argument("--slope-limit", type=float, default=2.0, help="stable below this MB per 1,000 requests")
    parser.add_argument("--home", type=Path, default=REPO / "bench" / "out" / "soak")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if args.home.exists():
        shutil.rmtree(args.home)
    args.home.mkdir(parents=True)
    key = prepare(args.home, args.embedder)
    proc, base = serve(args.home, args.embedder, args.home / "serve.log")
    try:
        # warm-up outside the measured run: one request of each kind
        warm = asyncio.run(drive(base, key, proc.pid, clients=1, requests=len(MIX), sample_every=60))
        if warm.errors:
            raise SystemExit(f"warm-up failed: {dict(warm.errors)}")
        result = asyncio.run(
            drive(
                base,
                key,
                proc.pid,
                clients=args.clients,
                requests=args.requests or None,
                seconds=args.seconds,
                samples_file=args.home / "rss.txt",
            )
        )
    finally:
        proc.terminate()
        proc.wait(30)
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()}",
        "embedder": args.embedder,
        "clients": args.clients,
        **result.summary(),
        "slope_limit_mb_per_1000_requests": args.slope_limit,
        "stable": bool(result.slope() < args.slope_limit),
        "job_errors": result.job_errors[:5],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for k, v in summary.items():
            print(f"{k:34} {v}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
