"""Load on a real `docket serve`: 50 clients, 3 searches to 1 extractive ask, 60 s a phase.

    python bench/server_load.py [--clients 50] [--seconds 60] [--rate 50] [--workers auto] [--json] [--markdown]
    make bench-server
    python bench/server_load.py --show bench/out/server-load/last-run.json   # a past run, as RESULTS.md shows it

The knowledge base is the bundled demo handbook plus about 10,000 more chunks of real public text
from ``../shared/data`` (``DOCKET_SHARED_DATA`` elsewhere; see its CATALOG.md): the 18F handbook
(public domain), GitHub's site policies (CC0) and the first 3,600 SciFact abstracts (CC BY-NC 2.0,
a benchmark set: never shipped). It is built once under bench/out/server-load/home and reused while
the recipe is unchanged (``--rebuild`` builds it again); the script creates a user and an API key.

One run measures, one after the other on the same server and machine:

1. **one client**, back to back (the single-client figures);
2. **paced**: N clients (``--clients``) together offering ``--rate`` requests/s (each client one
   request every N / rate seconds: 50 clients at 50/s is one request a second each) for
   ``--seconds``; a late request's latency counts from when it was due, so a server that falls
   behind shows it;
3. **back to back**: the same N clients with no pause at all for ``--seconds``: the most the server
   does; with N requests always in flight the latency is about N / throughput;
4. the same mix through the Python API by one caller, no HTTP (what the server adds).

Reported for each: requests/s, p50/p95 per kind, errors (any status but 200, a 503 from the queue
limit included); and the resident memory of the server's processes (all workers together) sampled
every second over phases 2 and 3, judged within each phase on its own (:func:`rss_trend`): its
start, peak and end, and the mean of the phase's last third against its middle third (the first
third is warm-up: caches and pools filling at the new load). "Flat" is the last third within 5% of
the middle third. Comparing across phases would compare two different loads.

Each client walks its own path through a pool of questions: the handbook questions and the
SciFact claims (1,121 distinct texts), so per-process caches see repeats only as an office would.
Request i of a client is an ask when i % 4 == 3, else a search (k = 10). Each run is also written
to bench/out/server-load/last-run.json (``--show`` prints it again).

The goals (issue "[server]"): >= 50 requests/s, search p95 <= 500 ms, ask p95 <= 1.5 s, 0 errors,
server RSS <= 1 GB and flat; each is printed as met or MISSED for phases 2 and 3. The load average
before and after is printed with the figures: the machine may be shared, so compare the ratios of
one run, and a before/after pair (``--server-src`` serves another checkout) on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (CI, a plain clone); DOCKET_SHARED_DATA to point elsewhere
DATA = Path(os.environ.get("DOCKET_SHARED_DATA") or REPO.parent / "shared" / "data")
DEMO = REPO / "src" / "docket" / "demo" / "clef-handbook"
OUT = REPO / "bench" / "out" / "server-load"
RECIPE = 3  # bump when the corpus recipe below changes: the home is rebuilt
SCIFACT_ABSTRACTS = 3_600  # with the two handbooks about 10,000 chunks (the count is printed with the figures)

HANDBOOK_QUESTIONS = [
    "How many weeks of parental leave do we offer?",
    "When can I take a sabbatical?",
    "How many vacation days do employees get?",
    "What is the policy on working remotely?",
    "How do I get reimbursed for expenses?",
    "What equipment does the company provide?",
    "How are salaries decided?",
    "What is the capital of Peru?",  # not in the handbook: an abstention
    "How do I book travel for a work trip?",
    "How much annual leave do new employees earn?",
    "What happens when GitHub receives a DMCA takedown notice?",
    "Which data does GitHub collect about visitors?",
]
GOALS = {"requests_per_s": 50.0, "search_p95_ms": 500.0, "ask_p95_ms": 1500.0, "errors": 0, "rss_mb": 1024.0}
FLAT = 0.05  # a phase's memory is flat when its last third is within 5% of its middle third


# ---------------------------------------------------------------------------------------------- corpus
def _extra_files(target: Path) -> None:
    """Real text for the extra chunks: two handbooks' pages as they are, then SciFact abstracts, one
    text file each: the first SCIFACT_ABSTRACTS of the corpus."""
    if not (DATA / "beir-scifact").is_dir():
        raise SystemExit(f"no shared data at {DATA}: set DOCKET_SHARED_DATA to the shared data folder (CATALOG.md)")
    for name, folder in (("18f", DATA / "18f-handbook" / "pages"), ("site-policy", DATA / "github-site-policy")):
        for path in sorted(folder.rglob("*.md")):
            dest = target / name / path.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    abstracts = target / "scifact"
    abstracts.mkdir(parents=True, exist_ok=True)
    with (DATA / "beir-scifact" / "corpus.jsonl").open(encoding="utf-8") as lines:
        for _, line in zip(range(SCIFACT_ABSTRACTS), lines, strict=False):
            doc = json.loads(line)
            (abstracts / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")


def _docket(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "docket", *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def _chunks(home: Path) -> int:
    from docket import KnowledgeBase, load_settings

    with KnowledgeBase(load_settings(home=home)) as kb:
        return int(kb.store.stats()["chunks"])


def build_home(rebuild: bool) -> tuple[Path, str, dict[str, int]]:
    """The knowledge base (demo + extra chunks) and an API key, built once and reused."""
    home, manifest = OUT / "home", OUT / "home.json"
    if not rebuild and manifest.exists():
        kept = json.loads(manifest.read_text())
        if kept.get("recipe") == RECIPE and home.exists():
            return home, kept["key"], kept["chunks"]
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    started = time.perf_counter()
    _docket("ingest", str(DEMO), "--home", str(home), "--json")
    demo_chunks = _chunks(home)
    extra = OUT / "extra"
    _extra_files(extra)
    print(f"building the bench corpus under {OUT} (a few minutes, once)", file=sys.stderr)
    _docket("ingest", str(extra), "--home", str(home), "--json")
    total = _chunks(home)
    _docket("users", "create", "load@example.com", "--password", "load-test-password", "--admin", "--home", str(home))
    key = json.loads(_docket("keys", "create", "--user", "load@example.com", "--home", str(home), "--json"))["key"]
    chunks = {"demo": demo_chunks, "extra": total - demo_chunks, "total": total}
    seconds = round(time.perf_counter() - started)
    manifest.write_text(json.dumps({"recipe": RECIPE, "key": key, "chunks": chunks, "build_s": seconds}))
    return home, key, chunks


def questions() -> list[str]:
    pool = list(HANDBOOK_QUESTIONS)
    with (DATA / "beir-scifact" / "queries.jsonl").open(encoding="utf-8") as lines:
        pool += [json.loads(line)["text"] for line in lines]
    return pool


# ---------------------------------------------------------------------------------------------- measuring
def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the workers of `docket serve --workers N`)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def rss_trend(samples: list[float]) -> dict[str, Any]:
    """One phase's memory, sampled at a steady load: its start, peak and end, and the mean of the
    last third of the samples against the middle third. The first third is left out as warm-up
    (caches and connection pools filling at the new load), so a server that steps up once and then
    holds is flat, and one still growing at the end is not. Fewer than 3 samples judge nothing."""
    if not samples:
        return {"samples": 0, "start": None, "peak": None, "end": None, "last_vs_middle_third": None, "flat": None}
    third = len(samples) // 3
    trend: dict[str, Any] = {
        "samples": len(samples),
        "start": round(samples[0], 1),
        "peak": round(max(samples), 1),
        "end": round(samples[-1], 1),
        "last_vs_middle_third": None,
        "flat": None,
    }
    if third:
        middle, last = samples[third : 2 * third], samples[-third:]
        growth = (sum(last) / len(last)) / (sum(middle) / len(middle)) - 1
        trend["last_vs_middle_third"] = round(growth, 4)
        trend["flat"] = growth <= FLAT
    return trend


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self._done = pid, threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        while not self._done.wait(1.0):
            self.samples.append(_tree_rss_mb(self.pid))

    def stop(self) -> list[float]:
        self._done.set()
        self.join()
        return self.samples


async def _client(
    http: httpx.AsyncClient,
    pool: list[str],
    until: float,
    i: int,
    out: dict[str, list[float]],
    errors: list[str],
    period: float,
    offset: float,
) -> None:
    """Client ``i``: back to back (``period`` 0), or one request every ``period`` seconds. Paced, a
    request's latency counts from when it was due, so time spent waiting for the previous answer
    is not hidden (no coordinated omission)."""
    n = 0
    start = (i * 7919) % len(pool)  # each client its own path through the pool
    due = time.perf_counter() + offset  # paced clients spread over one period
    while time.perf_counter() < until:
        if period:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if due >= until:
                return
        question = pool[(start + n) % len(pool)]
        kind = "ask" if n % 4 == 3 else "search"
        started = min(due, time.perf_counter()) if period else time.perf_counter()
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
        due += period


def drive(base: str, key: str, pool: list[str], clients: int, seconds: float, rate: float = 0.0) -> dict[str, Any]:
    """``clients`` clients for ``seconds``: back to back, or together ``rate`` requests/s offered."""
    latencies: dict[str, list[float]] = {"search": [], "ask": []}
    errors: list[str] = []
    period = clients / rate if rate else 0.0

    async def run() -> None:
        # idle connections closed by the client after 5 s (httpx's default), before the server's
        # server.keep_alive_seconds: a request is never sent on a connection the server is closing
        # (docs/server.md, "Idle connections"). Nothing is retried: a lost connection is an error.
        limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5, keepalive_expiry=5.0)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as http:
            until = time.perf_counter() + seconds
            await asyncio.gather(
                *(
                    _client(http, pool, until, i, latencies, errors, period, period * i / clients)
                    for i in range(clients)
                )
            )

    asyncio.run(run())
    total = len(latencies["search"]) + len(latencies["ask"])
    return {
        "offered_per_s": rate or None,
        "requests": total + len(errors),
        "requests_per_s": round(total / seconds, 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "search_p50_ms": round(_pct(latencies["search"], 0.5), 1),
        "search_p95_ms": round(_pct(latencies["search"], 0.95), 1),
        "ask_p50_ms": round(_pct(latencies["ask"], 0.5), 1),
        "ask_p95_ms": round(_pct(latencies["ask"], 0.95), 1),
    }


def in_process(home: Path, pool: list[str], seconds: float) -> dict[str, Any]:
    """The same mix through the Python API, one caller, no HTTP."""
    from docket import KnowledgeBase, load_settings

    kb = KnowledgeBase(load_settings(home=home))
    kb.search(pool[0])
    times: dict[str, list[float]] = {"search": [], "ask": []}
    until = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < until:
        question = pool[n % len(pool)]
        started = time.perf_counter()
        if n % 4 == 3:
            kb.ask(question)
            times["ask"].append((time.perf_counter() - started) * 1000)
        else:
            kb.search(question, k=10)
            times["search"].append((time.perf_counter() - started) * 1000)
        n += 1
    kb.close()
    return {
        "requests_per_s": round(n / seconds, 1),
        "errors": 0,
        "search_p50_ms": round(_pct(times["search"], 0.5), 1),
        "search_p95_ms": round(_pct(times["search"], 0.95), 1),
        "ask_p50_ms": round(_pct(times["ask"], 0.5), 1),
        "ask_p95_ms": round(_pct(times["ask"], 0.95), 1),
    }


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _goals(load: dict[str, Any], rss: dict[str, Any]) -> dict[str, str]:
    """Each goal met or MISSED for one phase; ``rss`` is that phase's :func:`rss_trend`."""

    def verdict(ok: bool | None) -> str:
        return "not judged" if ok is None else "met" if ok else "MISSED"

    return {
        "requests_per_s >= 50": verdict(load["requests_per_s"] >= GOALS["requests_per_s"]),
        "search p95 <= 500 ms": verdict(load["search_p95_ms"] <= GOALS["search_p95_ms"]),
        "ask p95 <= 1.5 s": verdict(load["ask_p95_ms"] <= GOALS["ask_p95_ms"]),
        "0 errors": verdict(load["errors"] == 0),
        "RSS <= 1 GB": verdict(None if rss["peak"] is None else rss["peak"] <= GOALS["rss_mb"]),
        f"RSS flat (last third of the phase within {FLAT:.0%} of its middle third)": verdict(rss["flat"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="each load phase")
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s the paced phase offers (0: skip it)")
    parser.add_argument("--no-saturation", action="store_true", help="skip the back-to-back phase")
    parser.add_argument("--single-seconds", type=float, default=15.0, help="the one-client phase")
    parser.add_argument("--workers", default="auto", help="docket serve --workers (auto: one per core)")
    parser.add_argument("--rebuild", action="store_true", help="build the knowledge base again")
    parser.add_argument(
        "--server-src", type=Path, default=REPO / "src", help="the docket served (another checkout's src: before/after)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="also print the RESULTS.md text")
    parser.add_argument(
        "--show", type=Path, metavar="JSON", help="print the RESULTS.md text of a saved run (last-run.json) and stop"
    )
    args = parser.parse_args()
    if args.show:
        print(markdown(json.loads(args.show.read_text())))
        return

    home, key, chunks = build_home(args.rebuild)
    pool = questions()
    port = _port()
    log = (OUT / "serve.log").open("wb")
    env = {**os.environ, "PYTHONPATH": str(args.server_src)}
    command = [sys.executable, "-m", "docket", "serve", "--home", str(home), "--port", str(port)]
    if args.workers != "1":  # (a checkout from before --workers serves one process)
        command += ["--workers", "0" if args.workers == "auto" else str(args.workers)]
    proc = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    phases: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"docket serve exited: see {OUT / 'serve.log'}")
            time.sleep(0.1)
        drive(base, key, pool[:8], 4, 3.0)  # warm every worker up (its model, its caches)
        single = drive(base, key, pool, 1, args.single_seconds)
        print(f"one client: {json.dumps(single)}", file=sys.stderr, flush=True)
        rss_before = _tree_rss_mb(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        spans: dict[str, tuple[int, int]] = {}  # each phase's samples: sampler.samples[start:end]
        if args.rate:
            begin = len(sampler.samples)
            phases["paced"] = drive(base, key, pool, args.clients, args.seconds, args.rate)
            spans["paced"] = (begin, len(sampler.samples))
            print(f"paced: {json.dumps(phases['paced'])}", file=sys.stderr, flush=True)
        if not args.no_saturation:
            begin = len(sampler.samples)
            phases["back_to_back"] = drive(base, key, pool, args.clients, args.seconds)
            spans["back_to_back"] = (begin, len(sampler.samples))
            print(f"back to back: {json.dumps(phases['back_to_back'])}", file=sys.stderr, flush=True)
        samples = sampler.stop()
        rss_after = _tree_rss_mb(proc.pid)
        load_after = os.getloadavg()
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    baseline = in_process(home, pool, min(args.seconds, 15.0))
    for name, (begin, end) in spans.items():
        phases[name]["rss_mb"] = rss_trend(samples[begin:end])
    peak = max([rss_before, rss_after, *samples])
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "workers": args.workers,
        "server_src": str(args.server_src),
        "chunks": chunks,
        "clients": args.clients,
        "seconds": args.seconds,
        **phases,
        "single_client": single,
        "in_process": baseline,
        "server_rss_mb": {
            "before": round(rss_before, 1),
            "peak": round(peak, 1),
            "after": round(rss_after, 1),
            "samples": len(samples),
        },
    }
    for name, phase in phases.items():
        result[f"{name}_vs_single_client"] = {
            "throughput": round(phase["requests_per_s"] / max(single["requests_per_s"], 0.1), 2),
            "search_p95": round(phase["search_p95_ms"] / single["search_p95_ms"], 1),
            "ask_p95": round(phase["ask_p95_ms"] / single["ask_p95_ms"], 1),
        }
        result[f"{name}_goals"] = _goals(phase, phase["rss_mb"])
    (OUT / "last-run.json").write_text(json.dumps(result, indent=2))  # for --show
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:28} {v}")
    if args.markdown:
        print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    """The run as bench/RESULTS.md shows it: machine and load, the figures beside one client's, the
    server's memory, and each goal met or MISSED."""

    def ms(value: float) -> str:
        return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:,.0f} ms"

    def row(name: str, f: dict[str, Any], errors: str) -> str:
        return (
            f"| {name} | {f['requests_per_s']} | {errors} | {ms(f['search_p50_ms'])} / {ms(f['search_p95_ms'])} "
            f"| {ms(f['ask_p50_ms'])} / {ms(f['ask_p95_ms'])} |"
        )

    def memory(trend: dict[str, Any] | None) -> str:
        if not trend or trend["peak"] is None:
            return "not sampled"
        text = (
            f"{trend['start']:,.0f} MB at its start, {trend['peak']:,.0f} MB at the peak, "
            f"{trend['end']:,.0f} MB at its end"
        )
        growth = trend["last_vs_middle_third"]
        if growth is None:
            return f"{text} ({trend['samples']} samples: too few to judge)"
        return f"{text}; the last third {growth:+.1%} against the middle third ({trend['samples']} samples)"

    def loads(values: list[float]) -> str:
        return " / ".join(f"{v:.2f}" for v in values)

    chunks, rss = r["chunks"], r["server_rss_mb"]
    served = f"`docket serve --workers {r['workers']}`"
    lines = [
        f"{r['date']} — {r['nproc']} cores (`nproc`), {r['cpu']}, Python {r['python']}; load average "
        f"(1 / 5 / 15 min) {loads(r['load_average_before'])} before the load phases, "
        f"{loads(r['load_average_after'])} after. The demo handbook ({chunks['demo']:,} chunks) plus "
        f"{chunks['extra']:,} chunks of public text: {chunks['total']:,} in all. {served} "
        f"(`auto`: one process per core), {r['clients']} clients, 3 searches (k = 10) to 1 extractive ask, "
        f"{r['seconds']:g} s a phase.",
        "",
        "| | requests/s | errors | search p50 / p95 | ask p50 / p95 |",
        "|---|---|---|---|---|",
    ]
    phases = [name for name in ("paced", "back_to_back") if name in r]
    titles = {
        "paced": f"{r['clients']} clients, {r.get('paced', {}).get('offered_per_s') or 0:g} requests/s offered",
        "back_to_back": f"{r['clients']} clients back to back",
    }
    for name in phases:
        f = r[name]
        lines.append(row(f"{served}, {titles[name]}", f, f"{f['errors']} of {f['requests']}"))
    single = r["single_client"]
    lines.append(row(f"{served}, 1 client", single, f"{single['errors']} of {single['requests']}"))
    lines.append(row("Python API, 1 caller, no HTTP", r["in_process"], "0"))
    lines += [
        "",
        f"Server memory, all processes together, sampled every second over the load phases: "
        f"{rss['before']:,.0f} MB before, {rss['peak']:,.0f} MB at the peak, {rss['after']:,.0f} MB after. "
        f'Within each phase (its first third is warm-up; "flat" compares the mean of its last third with '
        f"that of its middle third, at one load):",
        "",
    ]
    for name in phases:
        lines.append(f"- {titles[name]}: {memory(r[name].get('rss_mb'))}")
    lines += [
        "",
        "| goal | " + " | ".join(titles[name] for name in phases) + " |",
        "|---|" + "---|" * len(phases),
    ]
    for goal in r[f"{phases[0]}_goals"] if phases else []:
        verdicts = [r[f"{name}_goals"][goal] for name in phases]
        lines.append(f"| {goal} | " + " | ".join(f"**{v}**" if v == "MISSED" else v for v in verdicts) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
