"""Re-sync after changing 1 % of the files: this checkout against a baseline checkout and the peers.

    python bench/resync.py --baseline DIR [--docs 500] [--rounds 3] [--no-peers]

``DIR`` is another checkout of Docket (e.g. ``git archive main | tar -x -C DIR``); its ``src`` runs
under this checkout's harness (bench/peers/docket_runner.py with ``DOCKET_BENCH_SRC``), so both
are measured the same way, in the same run, interleaved. The workload is bench/compare.py's
re-sync: the first ``--docs`` SciFact documents as one .txt file each; every system indexes the
folder with its own incremental ingestion (LlamaIndex ``IngestionPipeline`` + ``UPSERTS``,
LangChain ``index()`` + ``SQLRecordManager``, peers from bench/.venvs as compare.py makes them),
all with the same live model (bench/peers/minilm.py, loaded and warmed before the clock starts).
Then per round 1 % of the files get a sentence appended and every system updates its index,
interleaved A B C D. ``update s`` = opening the saved index to saved again (compare.py's figure);
``process s`` = the whole subprocess, imports and model load included.

After the rounds, two ``docket sync --json`` processes per Docket (the CLI as a user or cron runs
it, the configured MiniLM loaded by Docket itself): one with nothing changed, one after another
1 % change, interleaved.

Writes bench/out/resync-<date>.json (keys described in ``KEYS``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
THIS, BASE = "Docket", "Docket, baseline"
PEERS = ("LlamaIndex", "LangChain")
KEYS = {
    "docket, baseline, llamaindex, langchain": "medians per system: update_s, model_s, outside_model_s, "
    "chunks_embedded, process_s (the keys bench/figures.py reads)",
    "speedup": "system -> its update_s / Docket's update_s (baseline: the other checkout)",
    "updates": "system -> one entry per round: seconds (update s), wall_s (process s), embedded, embed_s, "
    "stages (Docket only)",
    "summary": "system -> medians over the rounds: seconds, wall_s, embedded, embed_s, outside_model_s",
    "ratios": "peer / Docket update s for Docket and for the baseline, and baseline / Docket",
    "cli": "Docket variant -> {'unchanged': run, 'changed': run}, run = wall_s (the docket sync process), "
    "seconds (its report), stages",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def docket_sync(folder: Path, index: Path, src: Path | None) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / "peers" / "docket_runner.py"), "sync", "--folder", str(folder)]
    env = {"DOCKET_BENCH_SRC": str(src / "src")} if src is not None else {}
    return compare.run_json([*argv, "--index", str(index)], 1800, env)


def cli_sync(home: Path, src: Path) -> dict[str, Any]:
    """``docket sync --json`` as a user runs it: a fresh process, Docket's own embedder."""
    env = {**os.environ, "DOCKET_HOME": str(home), "PYTHONPATH": str(src / "src"), "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "docket", "sync", "--json"], capture_output=True, text=True, env=env, timeout=1800
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"docket sync failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    return {
        "wall_s": round(wall, 3),
        "seconds": report["seconds"],
        "updated": report["updated"],
        "embedded": report["chunks_embedded"],
        "stages": report["stages"],
    }


def append(files: list[Path], label: str) -> None:
    for path in files:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(compare.APPENDED.format(round=label) + "\n")


def summarise(runs: list[dict[str, Any]]) -> dict[str, float]:
    med = {k: statistics.median(float(r[k]) for r in runs) for k in ("seconds", "wall_s", "embedded", "embed_s")}
    med["outside_model_s"] = statistics.median(float(r["seconds"]) - float(r["embed_s"]) for r in runs)
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another Docket checkout (its src/ is run); required to run")
    parser.add_argument("--rewrite", type=Path, help="add the headline keys to a finished run's JSON")
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="Docket and the baseline only")
    args = parser.parse_args()
    if args.baseline is None and args.rewrite is None:
        parser.error("--baseline DIR is required: another checkout of Docket to compare with (e.g. of main)")
    if args.rewrite:  # a finished run's JSON: add the headline keys, print the table again
        res = json.loads(args.rewrite.read_text(encoding="utf-8"))
        res.setdefault("started", res["date"])
        res["date"] = str(res["date"])[:10]  # YYYY-MM-DD, as bench/figures.py dates a file
        res.update(headline(res))
        args.rewrite.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
        print(table(res))
        return
    res: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python bench/resync.py", *sys.argv[1:]]),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": compare.machine().get("cpu"),
            "python": platform.python_version(),
            "load_start": os.getloadavg(),
        },
        "keys": KEYS,
        "baseline": str(args.baseline.resolve()),
    }
    if not args.no_peers:
        res["versions"] = compare.ensure_venvs()
    for src in (compare.ROOT, args.baseline):  # byte-compiled before the clock, for both alike
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src / "src")], check=True)
    folder = compare.scifact_folder(args.docs)
    work = OUT / "resync-work"
    shutil.rmtree(work, ignore_errors=True)
    res["full"] = {THIS: docket_sync(folder, work / "docket", None)}
    log(f"full index: {res['full'][THIS]['seconds']:.1f} s")
    shutil.copytree(work / "docket", work / "baseline")  # the same index, updated by the baseline's code
    systems = [THIS, BASE] + ([] if args.no_peers else list(PEERS))
    for peer in systems[2:]:
        log(f"full index: {peer}")
        res["full"][peer] = compare.sync(peer, folder, work / compare.slug(peer))
    files = sorted(folder.iterdir())
    per_round = max(1, len(files) // 100)
    res.update(docs=args.docs, changed=per_round, rounds=args.rounds)
    updates: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    for r in range(args.rounds):
        append(files[r * per_round : (r + 1) * per_round], str(r + 1))
        order = systems if r % 2 == 0 else systems[::-1]  # alternate who goes first
        for system in order:
            if system == THIS:
                run = docket_sync(folder, work / "docket", None)
            elif system == BASE:
                run = docket_sync(folder, work / "baseline", args.baseline)
            else:
                run = compare.sync(system, folder, work / compare.slug(system))
            log(f"round {r + 1}: {system} {run['seconds']:.3f} s ({run['embedded']} embedded, {run['embed_s']:.3f} s)")
            updates[system].append(run)
    res["updates"] = updates
    res["summary"] = {s: summarise(runs) for s, runs in updates.items()}
    d, b = res["summary"][THIS]["seconds"], res["summary"][BASE]["seconds"]
    res["ratios"] = {"baseline / Docket": round(b / d, 2)}
    for peer in systems[2:]:
        p = res["summary"][peer]["seconds"]
        res["ratios"][f"{peer} / Docket"] = round(p / d, 2)
        res["ratios"][f"{peer} / baseline"] = round(p / b, 2)
    # the CLI as users run it: nothing changed, then another 1 % changed
    res["cli"] = {THIS: {}, BASE: {}}
    srcs = {THIS: compare.ROOT, BASE: args.baseline}
    homes = {THIS: work / "docket", BASE: work / "baseline"}
    for label, change in (("unchanged", False), ("changed", True)):
        if change:
            r = args.rounds
            append(files[r * per_round : (r + 1) * per_round], "cli")
        for variant in (BASE, THIS) if change else (THIS, BASE):
            res["cli"][variant][label] = cli_sync(homes[variant], srcs[variant])
            log(f"cli {label}: {variant} {res['cli'][variant][label]['wall_s']:.2f} s")
    res["machine"]["load_end"] = os.getloadavg()
    res.update(headline(res))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"resync-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    print(table(res))
    log(f"wrote {path}")


def headline(res: dict[str, Any]) -> dict[str, Any]:
    """The keys bench/figures.py reads from ``resync*.json`` (``docket.update_s``, ``speedup.langchain``,
    ...), one block per system, named as there; ``baseline`` is the other checkout."""
    names = {THIS: "docket", BASE: "baseline", "LlamaIndex": "llamaindex", "LangChain": "langchain"}
    out: dict[str, Any] = {"files": res["docs"], "changed_per_round": res["changed"]}
    for system, s in res["summary"].items():
        out[names[system]] = {
            "update_s": round(s["seconds"], 3),
            "model_s": round(s["embed_s"], 3),
            "outside_model_s": round(s["outside_model_s"], 3),
            "chunks_embedded": s["embedded"],
            "process_s": round(s["wall_s"], 2),
        }
    d = res["summary"][THIS]["seconds"]
    out["speedup"] = {
        names[system]: round(s["seconds"] / d, 1) for system, s in res["summary"].items() if system != THIS
    }
    return out


def table(res: dict[str, Any]) -> str:
    d = res["summary"][THIS]["seconds"]
    lines = [
        "| system | update s | all rounds s | process s | chunks embedded | s in model | s outside model | × Docket |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system, s in res["summary"].items():
        rounds = ", ".join(f"{r['seconds']:.3f}" for r in res["updates"][system])
        lines.append(
            f"| {system} | {s['seconds']:.3f} | {rounds} | {s['wall_s']:.2f} | {s['embedded']:.0f} | "
            f"{s['embed_s']:.3f} | {s['outside_model_s']:.3f} | {s['seconds'] / d:.1f}× |"
        )
    lines += ["", "| docket sync process | nothing changed: process s / sync s | 1 % changed: process s / sync s |"]
    lines.append("|---|---|---|")
    for variant, runs in res["cli"].items():
        u, c = runs["unchanged"], runs["changed"]
        lines.append(f"| {variant} | {u['wall_s']:.2f} / {u['seconds']:.3f} | {c['wall_s']:.2f} / {c['seconds']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
