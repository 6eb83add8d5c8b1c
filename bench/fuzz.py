"""Fuzz every parser through the sandbox and count what happens to each mutated input.

    python bench/fuzz.py --per-seed 300 --timeout 10 --memory-mb 1024 --json
    python bench/fuzz.py --overhead ../shared/data/clef-handbook --rounds 5 [--embedder minilm]

Seeds: the small real files in tests/data/fuzz/ (one per format, plus an invoice PDF). Each seed is
mutated ``--per-seed`` times with a seeded random generator (byte flips, truncation, splicing in
bytes of another seed, insertion of a repeated run, corrupting one member inside a valid zip for
DOCX/XLSX/PPTX) and every mutant is parsed in the sandbox (``docket.ingest.sandbox.Sandbox``) under
the time and memory limits. Outcomes: ``parsed``, ``ParseError`` by reason (the message up to its
first colon or number), ``timeout``, ``memory``, ``crash``, and ``unexpected`` (anything that is not
a ParseError: a bug). The batch must survive every input.

``--overhead FOLDER`` instead measures what the sandbox costs: ``KnowledgeBase.ingest`` of the
folder into a fresh knowledge base with ``ingest.sandbox`` on, then off, interleaved for
``--rounds`` rounds (the fake embedder by default, so parsing is not hidden behind embedding).
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import random
import re
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.errors import ParseError
from docket.ingest.sandbox import Sandbox

FUZZ = Path(__file__).resolve().parents[1] / "tests" / "data" / "fuzz"
_NUMBERS = re.compile(r"\d[\d,.]*")


def seeds() -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(FUZZ.iterdir())
        if p.name not in ("README.md",) and "LICENSE" not in p.name
    }


def flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 32)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def rezip(rng: random.Random, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        infos = source.infolist()
        chosen = rng.randrange(len(infos))
        how = rng.choice(["flip", "truncate", "empty"])
        for index, info in enumerate(infos):
            content = source.read(info)
            if index == chosen:
                if how == "flip":
                    content = flip(rng, content)
                elif how == "truncate":
                    content = content[: rng.randrange(len(content) + 1)]
                else:
                    content = b""
            target.writestr(info, content)
    return out.getvalue()


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> tuple[str, bytes]:
    kind = rng.choice(["flip", "truncate", "splice", "repeat", "zip-member"])
    if kind == "flip":
        return kind, flip(rng, data)
    if kind == "truncate":
        return kind, data[: rng.randrange(len(data) + 1)]
    if kind == "splice":
        other = rng.choice(pool)
        start = rng.randrange(len(other) + 1)
        at = rng.randrange(len(data) + 1)
        return kind, data[:at] + other[start : start + rng.randint(1, 8192)] + data[at + rng.randint(0, 8192) :]
    if kind == "repeat":
        start = rng.randrange(len(data) + 1)
        run = data[start : start + rng.randint(1, 64)]
        return kind, data[:start] + run * rng.randint(2, 5000) + data[start:]
    if data.startswith(b"PK\x03\x04"):
        return kind, rezip(rng, data)
    return "flip", flip(rng, data)


def classify(reason: str) -> str:
    if reason.startswith("took longer than"):
        return "timeout"
    if reason.startswith("needed more than"):
        return "memory"
    if reason.startswith("the parser crashed"):
        return "crash"
    head = _NUMBERS.sub("N", reason.split(":")[0] if ":" in reason[:60] else reason[:60])
    return f"ParseError: {head.strip()}"


def run(
    per_seed: int, timeout: float, memory_mb: int, seed: int, only: str | None = None, save: Path | None = None
) -> dict[str, object]:
    pool = seeds()
    rng = random.Random(seed)
    by_format: dict[str, collections.Counter[str]] = {}
    totals: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    slowest = (0.0, "")
    started = time.perf_counter()
    with Sandbox(timeout=timeout, memory_mb=memory_mb) as sandbox:
        for name, data in pool.items():
            if only and only != name:
                continue
            counts = by_format.setdefault(name, collections.Counter())
            for _ in range(per_seed):
                kind, mutant = mutate(rng, data, list(pool.values()))
                kinds[kind] += 1
                began = time.perf_counter()
                try:
                    sandbox.parse(mutant, name)
                    outcome = "parsed"
                except ParseError as exc:
                    outcome = classify(str(exc))
                    if outcome.startswith("ParseError"):
                        totals["ParseError"] += 1
                except Exception as exc:  # a bug: the sandbox must turn everything into ParseError
                    outcome = f"unexpected: {type(exc).__name__}"
                took = time.perf_counter() - began
                if took > slowest[0]:
                    slowest = (took, f"{name} ({kind})")
                counts[outcome] += 1
                if save is not None and not outcome.startswith(("parsed", "ParseError")):
                    save.mkdir(parents=True, exist_ok=True)  # keep the input to reproduce it
                    (save / f"{outcome.split(':')[0]}-{sum(counts.values())}-{name}").write_bytes(mutant)
                if not outcome.startswith("ParseError"):
                    totals[outcome.split(":")[0]] += 1
        workers = sandbox.started
    return {
        "inputs": sum(sum(c.values()) for c in by_format.values()),
        "seconds": round(time.perf_counter() - started, 1),
        "totals": dict(totals),
        "mutations": dict(kinds),
        "workers_started": workers,
        "slowest": {"seconds": round(slowest[0], 2), "input": slowest[1]},
        "by_format": {name: dict(c.most_common()) for name, c in by_format.items()},
        "limits": {"timeout_s": timeout, "memory_mb": memory_mb, "per_seed": per_seed, "seed": seed},
    }


def overhead(folder: Path, rounds: int, embedder_name: str) -> dict[str, object]:
    import statistics
    import tempfile

    from docket.config import load_settings
    from docket.kb import KnowledgeBase
    from docket.models.embedders import FakeEmbedder, MiniLMEmbedder

    embedder = MiniLMEmbedder(threads=1) if embedder_name == "minilm" else FakeEmbedder()
    times: dict[str, list[float]] = {"on": [], "off": []}
    files = 0
    for _ in range(rounds):
        for mode in ("on", "off"):
            with tempfile.TemporaryDirectory() as tmp:
                overrides = {"ingest": {"sandbox": mode == "on"}}
                kb = KnowledgeBase(load_settings(home=tmp, environ={}, overrides=overrides), embedder=embedder)
                began = time.perf_counter()
                report = kb.ingest([str(folder)])
                kb.close()  # stops the worker: its start-up and shut-down are part of the cost
                times[mode].append(time.perf_counter() - began)
                files = report.added + len(report.failed)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    return {
        "folder": str(folder),
        "files": files,
        "embedder": embedder_name,
        "rounds": rounds,
        "sandbox_on_s": [round(t, 3) for t in times["on"]],
        "sandbox_off_s": [round(t, 3) for t in times["off"]],
        "median_on_s": round(on, 3),
        "median_off_s": round(off, 3),
        "ratio_on_off": round(on / off, 2),
        "overhead_ms_per_file": round((on - off) / max(files, 1) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-seed", type=int, default=200, help="mutated inputs per seed file")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per file (ingest.parse_timeout)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="MB per parse (ingest.parse_memory_mb)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--overhead", type=Path, help="measure the sandbox's cost on ingesting this folder instead")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved on/off rounds for --overhead")
    parser.add_argument("--embedder", choices=["fake", "minilm"], default="fake", help="embedder for --overhead")
    parser.add_argument("--only", help="fuzz only this seed file (a name in tests/data/fuzz)")
    parser.add_argument("--save", type=Path, help="write inputs that time out, crash or run out of memory here")
    args = parser.parse_args()
    if args.overhead is not None:
        print(json.dumps(overhead(args.overhead, args.rounds, args.embedder), indent=2))
        return
    result = run(args.per_seed, args.timeout, args.memory_mb, args.seed, args.only, args.save)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['inputs']} inputs in {result['seconds']} s: {result['totals']}")
    for name, counts in result["by_format"].items():  # type: ignore[union-attr]
        print(f"  {name}: {counts}")


if __name__ == "__main__":
    main()
