"""Docket against LlamaIndex and LangChain (and plain BM25 / plain dense floors), side by side.

    python bench/compare.py [--quick] [--rounds 2] [--no-write]       # or: make bench-compare

One command, one run, the same data, the same chunks and the same embedding model for every
system. Each peer runs in its own virtual environment, ``bench/.venvs/<peer>``, created here from
the pinned ``bench/peers/requirements-<peer>.txt`` (never part of Docket's dependencies); Docket
runs in the interpreter that runs this script. Every measurement is its own subprocess speaking
the protocol in bench/peers/protocol.py.

Steps, per data set (beir-scifact and cranfield, test queries):

1. Docket's chunker cuts the corpus once (``docket_runner.py export``); every system indexes exactly
   these chunks (Docket re-chunks with the same chunker inside its own pipeline).
2. The shared MiniLM int8 model (bench/peers/minilm.py) embeds every chunk and query once into a
   vector cache that every system's quality and latency runs read (same texts, same model, same
   vectors: the model runs once, not once per system).
3. ``build`` per system (from the cache, saved to disk), then ``query`` rounds interleaved
   A B C D E A B C D E: nDCG@10 and recall@100 (documents ranked by their best chunk out of the top
   100 chunks), retrieval latency p50/p95 (query vector from the cache, so retrieval only), peak
   RSS of the query process, import time.
4. Cold start: a fresh process loads the saved index, loads the model, embeds one question and
   answers it; wall time from process start to the answer, interleaved.

On SciFact, ingestion throughput with the live model on the chunks of the first N documents
(parsing + chunking for Docket, embedding, indexing), interleaved with the model alone on the
same chunk texts. Then Docket's folder ingestion against the model alone (bench/ingest.py) on
18f-handbook and unstructured-example-docs, and every system's own folder ingestion (its own
loader and splitter, the shared live model; runner command ``sync``) on the 18F Markdown folder.

Re-sync: the first ``--resync-docs`` SciFact documents (default 500) written as one .txt file each
into bench/out/compare/folders/, indexed with every system's own incremental ingestion (Docket
``KnowledgeBase.ingest``, LlamaIndex ``IngestionPipeline`` + ``DocstoreStrategy.UPSERTS``, LangChain
``index()`` + ``SQLRecordManager`` over Chroma); then per round 1 % of the files get a sentence
appended and each system updates its saved index, interleaved (default 3 rounds). A fourth row,
Docket with ``ingest.sandbox = false``, shows what the parse worker process costs. Then the scale
curve (bench/scale.py).

A clean checkout needs nothing else: the peers' venvs are created from the pinned requirements and
the vector caches are embedded on the first run (about 12k texts; the slowest step on 2 busy
cores). The wall time is printed at the end and recorded in the report.

Writes bench/out/compare/RESULTS-compare.md and results.json, the plots to bench/plots/, and (unless
``--no-write``) replaces the section between ``<!-- compare:start -->`` and ``<!-- compare:end -->``
of bench/RESULTS.md with exactly the Markdown it prints. ``--quick``: a SciFact / Cranfield subset
(the first 50 test queries, their relevant documents and the first 600 documents), one round,
a small ingestion sample, scale 10k only; for development, never for the table. The default scale
curve is 10k and 100k chunks (`--scale-sizes 10000,100000,1000000` adds a million; not run here yet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
PEERS = HERE / "peers"
VENVS = HERE / ".venvs"
OUT = HERE / "out" / "compare"
PLOTS = HERE / "plots"
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- compare:start -->", "<!-- compare:end -->"
SETS = {"scifact": DATA / "beir-scifact", "cranfield": DATA / "classic-ir" / "cranfield"}
PEER_VENVS = ("llamaindex", "langchain", "floor")
# name -> (venv or None for Docket's interpreter, runner, extra args)
SYSTEMS: dict[str, tuple[str | None, str, list[str]]] = {
    "Docket": (None, "docket_runner.py", []),
    "LlamaIndex": ("llamaindex", "llamaindex_runner.py", []),
    "LangChain": ("langchain", "langchain_runner.py", []),
    "BM25 (bm25s)": ("floor", "floor_runner.py", ["--mode", "bm25"]),
    "dense (numpy)": ("floor", "floor_runner.py", ["--mode", "dense"]),
}
PEER_NAMES = ("LlamaIndex", "LangChain")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def python_of(venv: str | None) -> str:
    return sys.executable if venv is None else str(VENVS / venv / "bin" / "python")


def ensure_venvs() -> dict[str, str]:
    """Create or refresh bench/.venvs/<peer> from its pinned requirements; returns installed versions."""
    versions: dict[str, str] = {}
    for name in PEER_VENVS:
        req = PEERS / f"requirements-{name}.txt"
        digest = hashlib.sha256(req.read_bytes()).hexdigest()
        venv = VENVS / name
        stamp = venv / ".requirements.sha256"
        if not (stamp.is_file() and stamp.read_text() == digest):
            log(f"creating {venv} from {req.name}")
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, "-r", str(req)], check=True)
            stamp.write_text(digest)
        pins = [line.split("==") for line in req.read_text().splitlines() if "==" in line and not line.startswith("#")]
        for package, version in pins:
            if package in ("llama-index-core", "llama-index-retrievers-bm25", "langchain", "langchain-chroma",
                           "chromadb", "rank-bm25", "bm25s"):  # fmt: skip
                versions[package] = version
    return versions


# Query and cold-start processes of every system run with single-threaded BLAS: on these shared,
# oversubscribed cores a 2-thread OpenBLAS matrix-vector product waits tens of ms for its second
# thread to be scheduled (measured: numpy dense p50 36 ms vs 0.04 ms), which would measure the
# machine's load, not the systems. The same setting for every system; ingestion keeps the defaults.
SINGLE_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def call(system: str, command: str, *args: str, timeout: float = 3600) -> dict[str, Any]:
    venv, runner, extra = SYSTEMS[system]
    env = SINGLE_BLAS if command in ("query", "coldstart") else {}
    return run_json([python_of(venv), str(PEERS / runner), command, *args, *extra], timeout, env)


def run_json(argv: list[str], timeout: float = 3600, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0", "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    env.update(extra_env or {})
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:4])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    text = proc.stdout.strip()
    try:  # the runners print one JSON line last; bench/ingest.py and bench/scale.py one indented object
        result: dict[str, Any] = json.loads(text.splitlines()[-1])
    except json.JSONDecodeError:
        result = json.loads(text[text.index("\n{") + 1 :] if not text.startswith("{") else text)
    result["wall_s"] = wall
    return result


# ---------------------------------------------------------------- data


def load_qrels(folder: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] == "query-id":
            continue
        if int(float(parts[2])) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(float(parts[2]))
    return qrels


def prepare(name: str, folder: Path, quick: bool) -> dict[str, Any]:
    """Queries, (quick: a subset corpus), Docket's chunks and the vector cache of one data set."""
    work = OUT / (f"{name}-quick" if quick else name)
    work.mkdir(parents=True, exist_ok=True)
    qrels = load_qrels(folder)
    queries = {
        row["_id"]: row["text"]
        for row in map(json.loads, (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines())
        if row["_id"] in qrels
    }
    beir = folder
    if quick:
        keep = dict(list(queries.items())[:50])
        queries, qrels = keep, {q: qrels[q] for q in keep}
        relevant = {d for rels in qrels.values() for d in rels}
        beir = work / "beir"
        (beir / "qrels").mkdir(parents=True, exist_ok=True)
        lines = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
        kept = [line for i, line in enumerate(lines) if i < 600 or json.loads(line)["_id"] in relevant]
        (beir / "corpus.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    qfile = work / "queries.jsonl"
    qfile.write_text("".join(json.dumps({"id": q, "text": t}) + "\n" for q, t in queries.items()), encoding="utf-8")
    (work / "queries.json").write_text(json.dumps([{"id": q, "text": t} for q, t in queries.items()]))
    chunks = work / "chunks.jsonl"
    exported = call("Docket", "export", "--beir", str(beir), "--chunks", str(chunks))
    cache = work / "cache"
    digest = hashlib.sha256(chunks.read_bytes() + qfile.read_bytes()).hexdigest()
    if not ((cache / "source.sha256").is_file() and (cache / "source.sha256").read_text() == digest):
        log(f"{name}: embedding {exported['chunks']} chunks + {len(queries)} queries once for the cache")
        built = run_json([sys.executable, str(PEERS / "minilm.py"), "cache", str(cache), str(chunks), str(qfile)])
        (cache / "source.sha256").write_text(digest)
        log(f"{name}: cache built in {built['seconds']} s")
    # the query processes load only the queries' vectors, so the cache adds nothing to their memory
    qcache = work / "qcache"
    qcache.mkdir(exist_ok=True)
    keys = (cache / "keys.txt").read_text(encoding="utf-8").split()
    wanted = {hashlib.sha256(t.encode("utf-8")).hexdigest() for t in queries.values()}
    rows = [i for i, k in enumerate(keys) if k in wanted]
    import numpy as np

    np.save(qcache / "vectors.npy", np.load(cache / "vectors.npy")[rows])
    (qcache / "keys.txt").write_text("\n".join(keys[i] for i in rows), encoding="utf-8")
    return {"work": work, "beir": beir, "chunks": chunks, "cache": cache, "qcache": qcache, "queries": queries,
            "qrels": qrels,
            "n_chunks": exported["chunks"], "n_docs": sum(1 for _ in (beir / "corpus.jsonl").open())}  # fmt: skip


def ndcg(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(rels)) / len(rels)


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))] if s else float("nan")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- measurements


def measure_set(name: str, prep: dict[str, Any], rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {name: {} for name in SYSTEMS}
    for system in SYSTEMS:
        index = prep["work"] / "index" / SYSTEMS[system][1].removesuffix("_runner.py")
        if system == "dense (numpy)":  # the floor runner builds both floors in one index
            out[system]["build"] = out["BM25 (bm25s)"]["build"]
            out[system]["index"] = index
            continue
        shutil.rmtree(index, ignore_errors=True)
        index.mkdir(parents=True)
        log(f"{name}: build {system}")
        args = ["--chunks", str(prep["chunks"]), "--cache", str(prep["cache"]), "--index", str(index)]
        out[system]["build"] = call(system, "build", *args, "--beir", str(prep["beir"]))
        out[system]["index"] = index
        if out[system]["build"].get("misses"):
            log(f"warning: {system} embedded {out[system]['build']['misses']} texts the cache lacked")
    question = next(iter(prep["queries"].values()))
    for r in range(rounds):
        for system in SYSTEMS:
            log(f"{name}: round {r + 1} query {system}")
            index = out[system]["index"]
            res = call(system, "query", "--index", str(index), "--cache", str(prep["qcache"]),
                       "--queries", str(prep["work"] / "queries.json"))  # fmt: skip
            out[system].setdefault("latency_ms", []).extend(res["latency_ms"])
            out[system].setdefault("query_rss_mb", []).append(res["peak_rss_mb"])
            out[system].setdefault("import_s", []).append(res["import_s"])
            out[system]["ranked"] = res["ranked"]
        for system in SYSTEMS:
            cold = call(system, "coldstart", "--index", str(out[system]["index"]), "--query", question)
            out[system].setdefault("cold_s", []).append(cold["wall_s"])
            out[system].setdefault("cold_rss_mb", []).append(cold["peak_rss_mb"])
    summary: dict[str, Any] = {}
    for system, m in out.items():
        ranked, qrels = m["ranked"], prep["qrels"]
        summary[system] = {
            "ndcg@10": statistics.fmean(ndcg(ranked.get(q, []), rels) for q, rels in qrels.items()),
            "recall@100": statistics.fmean(recall(ranked.get(q, []), rels) for q, rels in qrels.items()),
            "p50_ms": pct(m["latency_ms"], 0.5),
            "p95_ms": pct(m["latency_ms"], 0.95),
            "query_rss_mb": max(m["query_rss_mb"]),
            "cold_s": statistics.median(m["cold_s"]),
            "cold_rss_mb": max(m["cold_rss_mb"]),
            "import_s": statistics.median(m["import_s"]),
            "index_mb": du(m["index"]) / 1e6 if system != "dense (numpy)" else None,
            "build_s": m["build"]["build_s"],
            "build_rss_mb": m["build"]["peak_rss_mb"],
            "queries": len(qrels),
            "chunks": prep["n_chunks"],
            "docs": prep["n_docs"],
        }
    return summary


def measure_ingest(prep: dict[str, Any], docs: int, rounds: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {}
    chunks: dict[str, int] = {}
    rss: dict[str, float] = {}
    for r in range(rounds):
        for system in ("model", *[s for s in SYSTEMS if s != "dense (numpy)"]):
            log(f"ingest round {r + 1}: {system}")
            if system == "model":
                res = run_json([sys.executable, str(PEERS / "minilm.py"), "model", str(prep["chunks"]), str(docs)])
            elif system == "BM25 (bm25s)":
                res = call(system, "ingest", "--chunks", str(prep["chunks"]), "--docs", str(docs))
                system = "BM25 + dense floor"
            else:
                res = call(
                    system, "ingest", "--chunks", str(prep["chunks"]), "--docs", str(docs), "--beir", str(prep["beir"])
                )
            rates.setdefault(system, []).append(res["chunks_per_s"])
            chunks[system] = res["chunks"]
            rss[system] = max(rss.get(system, 0.0), res["peak_rss_mb"])
    return {
        s: {"chunks_per_s": statistics.median(v), "all": v, "chunks": chunks[s], "rss_mb": rss[s]}
        for s, v in rates.items()
    }


def folder_sample(name: str, quick: bool) -> Path:
    """The folders of real documents: one 18F handbook section (22 Markdown pages; 9 in --quick) and
    one file of every format in unstructured-example-docs (the first by name), copied to bench/out."""
    if name == "18f-handbook":
        return DATA / "18f-handbook" / "pages" / ("office-of-operations" if quick else "travel-and-leave")
    source = DATA / "unstructured-example-docs" / "example-docs"
    target = OUT / "folders" / "unstructured-one-per-format"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    seen: set[str] = set()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        if path.suffix.lower() not in seen and path.suffix.lower() not in (".md", ".txt", ".json"):
            seen.add(path.suffix.lower())
            shutil.copy2(path, target / path.name)
    return target


def measure_folders(quick: bool) -> dict[str, Any]:
    out = {}
    for name in ("18f-handbook", "unstructured-example-docs"):
        if quick and name != "18f-handbook":
            continue
        folder = folder_sample(name, quick)
        log(f"folder ingestion: {name} ({folder.name})")
        res = run_json([sys.executable, str(HERE / "ingest.py"), "--folder", str(folder), "--rounds", "1", "--json"])
        out[f"{name}: {folder.name}"] = res
    return out


SYNC_SYSTEMS = ("Docket", "LlamaIndex", "LangChain")
# a diagnostic row of the re-sync: Docket with ingest.sandbox = false (files parsed in-process)
NO_SANDBOX = "Docket, ingest.sandbox = false"
APPENDED = "This sentence was appended to measure re-sync (round {round})."


def sync(system: str, folder: Path, index: Path) -> dict[str, Any]:
    if system == NO_SANDBOX:
        argv = [sys.executable, str(PEERS / "docket_runner.py"), "sync", "--mode", "nosandbox"]
        return run_json([*argv, "--folder", str(folder), "--index", str(index)], 1800)
    return call(system, "sync", "--folder", str(folder), "--index", str(index), timeout=1800)


def slug(system: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in system.lower())


def measure_peer_folders(quick: bool) -> dict[str, Any]:
    """Every system's own folder ingestion (its loader, splitter, the shared live model) on the
    Markdown folder of the 18F handbook, into a fresh index. unstructured-example-docs is Docket
    only: the peers' loaders need extra packages per format (unstructured, pypdf, docx2txt, ...)."""
    folder = folder_sample("18f-handbook", quick)
    out: dict[str, Any] = {}
    for system in SYNC_SYSTEMS:
        index = OUT / "folders" / "index" / slug(system)
        shutil.rmtree(index, ignore_errors=True)
        log(f"folder ingestion, own loader: {system} on {folder.name}")
        out[system] = sync(system, folder, index)
    return {"folder": f"18f-handbook: {folder.name}", "systems": out}


def scifact_folder(docs: int) -> Path:
    """The first ``docs`` SciFact documents as one text file each (title, blank line, abstract)."""
    target = OUT / "folders" / f"scifact-first-{docs}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written = 0
    with (SETS["scifact"] / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if written == docs:
                break
            row = json.loads(line)
            text = f"{row.get('title') or ''}\n\n{row.get('text') or ''}".strip()
            (target / f"{row['_id']}.txt").write_text(text + "\n", encoding="utf-8")
            written += 1
    return target


def measure_resync(docs: int, rounds: int) -> dict[str, Any]:
    """Index a folder of ``docs`` SciFact files with each system's own incremental ingestion, then,
    per round, append a sentence to 1 % of the files (other files each round) and time each
    system's update of its index, interleaved A B C A B C."""
    folder = scifact_folder(docs)
    work = OUT / "resync"
    shutil.rmtree(work, ignore_errors=True)
    full = {}
    for system in SYNC_SYSTEMS:
        log(f"re-sync: full index of {docs} files with {system}")
        full[system] = sync(system, folder, work / slug(system))
    shutil.copytree(work / slug("Docket"), work / slug(NO_SANDBOX))  # the same index, updated without sandbox
    files = sorted(folder.iterdir())
    per_round = max(1, len(files) // 100)
    systems = (*SYNC_SYSTEMS, NO_SANDBOX)
    updates: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}
    for r in range(rounds):
        for path in files[r * per_round : (r + 1) * per_round]:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(APPENDED.format(round=r + 1) + "\n")
        for system in systems:
            log(f"re-sync round {r + 1}: {system}")
            updates[system].append(sync(system, folder, work / slug(system)))
    return {"docs": docs, "changed": per_round, "rounds": rounds, "full": full, "updates": updates}


def measure_scale(sizes: str) -> dict[str, Any]:
    """bench/scale.py one size at a time, so a size that does not fit here leaves the others."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for n in sizes.split(","):
        log(f"scale curve: {n} chunks")
        argv = [sys.executable, str(HERE / "scale.py"), "--sizes", n, "--no-plot", "--json"]
        if int(n) > 10_000:
            argv += ["--postgres-max", "0"]  # keeps this run within the hour; larger sizes: bench/scale.py
            notes.append(
                f"PostgreSQL not measured at {int(n):,} chunks in this run (it stays within an hour); "
                "see *Scale: one million chunks* below for both stores up to 1M chunks."
            )
        try:
            part = run_json(argv, timeout=2400, extra_env=SINGLE_BLAS)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            notes.append(f"{int(n):,} chunks: did not complete here ({str(exc).strip().splitlines()[0][:200]}).")
            continue
        rows += part["rows"]
        notes += part["notes"]
    rows.sort(key=lambda r: (r["store"], r["chunks"]))
    if rows:
        sys.path.insert(0, str(HERE))
        from scale import plot as plot_scale

        plot_scale(rows, PLOTS / "compare-scale.png")  # plots/scale.png: bench/scale.py up to 1M
    return {"rows": rows, "notes": notes}


# ---------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()}


def fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{digits}f}"


def ratio(docket: float, peer: float) -> str:
    return f"{docket / peer:.2f}" if peer else "–"


def report(res: dict[str, Any], args: argparse.Namespace) -> str:
    m = res["machine"]
    L = [
        f"### Run of {res['date']} — {m['cores']} cores (`os.cpu_count()`), {m['cpu']}, Python {m['python']}",
        "",
        f"`{res['command']}` — wall time {res['wall_min']:.1f} min; load average at start "
        f"{m['load'][0]:.2f} / {m['load'][1]:.2f} / {m['load'][2]:.2f}, at end "
        f"{res['load_end'][0]:.2f} / {res['load_end'][1]:.2f} / {res['load_end'][2]:.2f} (other jobs share the 2 "
        "cores: absolute times are noisy, the ratios come from interleaved runs in the same minutes). "
        f"Peers: {', '.join(f'{k} {v}' for k, v in res['versions'].items())}. "
        "Every system indexes the same Docket chunks (≤ 256 tokens) with the same all-MiniLM-L6-v2 int8 "
        "ONNX model (bench/peers/minilm.py); documents are ranked by their best chunk among the top 100. "
        "Query and cold-start processes run with single-threaded BLAS (`OPENBLAS_NUM_THREADS=1`, all systems; "
        "see bench/compare.py).",
        "",
    ]
    if args.quick:
        L += ["**`--quick` run (subset of queries and corpus): not comparable with the full figures.**", ""]
    for set_name, summary in res["sets"].items():
        d = summary["Docket"]
        L += [
            f"#### {set_name} ({d['queries']} test queries, {d['docs']:,} documents, {d['chunks']:,} chunks)",
            "",
            "| system | nDCG@10 | recall@100 | query p50 / p95 ms | Docket/peer p50 · p95 | query RSS MB | "
            "cold start s | import s | index MB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for system, s in summary.items():
            rat = "" if system == "Docket" else f"{ratio(d['p50_ms'], s['p50_ms'])} · {ratio(d['p95_ms'], s['p95_ms'])}"
            bold = "**" if system == "Docket" else ""
            L.append(
                f"| {bold}{system}{bold} | {s['ndcg@10']:.4f} | {s['recall@100']:.4f} | {fmt(s['p50_ms'], 2)} / "
                f"{fmt(s['p95_ms'], 2)} | {rat} | {fmt(s['query_rss_mb'], 0)} | {fmt(s['cold_s'], 2)} | "
                f"{fmt(s['import_s'], 2)} | {fmt(s['index_mb'])} |"
            )
        L.append("")
    L += ["![nDCG@10, query p50 and query-process memory per system](plots/compare.png)", ""]
    ing = res.get("ingest")
    if ing:
        model = ing["model"]["chunks_per_s"]
        L += [
            f"#### Ingestion, SciFact (first {res['ingest_docs']} documents, {ing['Docket']['chunks']} chunks, "
            "live model)",
            "",
            "Chunks/s including everything the system does to make the chunks searchable (Docket also parses and "
            "chunks; the peers get Docket's chunks ready-made), medians of interleaved rounds; model alone = "
            "bench/peers/minilm.py embedding the same chunk texts.",
            "",
            "| system | chunks/s | / model alone | Docket / system | peak RSS MB |",
            "|---|---|---|---|---|",
        ]
        for system, s in ing.items():
            L.append(
                f"| {system} | {s['chunks_per_s']:.1f} | {s['chunks_per_s'] / model:.2f} | "
                f"{ratio(ing['Docket']['chunks_per_s'], s['chunks_per_s'])} | {s['rss_mb']:.0f} |"
            )
        L.append("")
    if res.get("folders"):
        L += ["#### Folder ingestion (Docket: walk, parse, chunk, embed, write) against the model alone", "",
              "| folder | files | chunks | pipeline chunks/s | model alone chunks/s | ratio |",
              "|---|---|---|---|---|---|"]  # fmt: skip
        for name, f in res["folders"].items():
            L.append(
                f"| {name} | {f['files']} | {f['chunks']} | {f['pipeline_chunks_per_s']} | "
                f"{f['model_only_chunks_per_s']} | {f['ratio']} |"
            )
        L.append("")
    if res.get("peer_folders") or res.get("resync"):
        L += folder_lines(res)
    if res.get("resync"):
        L += resync_lines(res["resync"])
    if res.get("scale"):
        L += scale_lines(res["scale"])
    L += targets(res)
    return "\n".join(L).rstrip() + "\n"


def folder_lines(res: dict[str, Any]) -> list[str]:
    L = [
        "#### Folder ingestion, each system with its own loader and splitter",
        "",
        "`sync` in bench/peers/*_runner.py into a fresh index: Docket `KnowledgeBase.ingest(folder)`; LlamaIndex "
        "`SimpleDirectoryReader` + `IngestionPipeline` (`SentenceSplitter` 256 tokens); LangChain `DirectoryLoader` "
        "(`TextLoader`) + `RecursiveCharacterTextSplitter` (1,000 characters) + `index()` into Chroma. All embed with "
        "the same live model (bench/peers/minilm.py); the splitters differ, so chunk counts differ. Seconds from "
        "opening the index (model loaded) to the index saved; *in model* = share of those seconds spent embedding. "
        "unstructured-example-docs (PDF, DOCX, PPTX, ...) is Docket only: the peers' loaders need extra packages "
        "per format (unstructured, pypdf, docx2txt, ...).",
        "",
        "| folder | system | files | chunks | seconds | chunks/s | in model | Docket / system chunks/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = []
    if res.get("peer_folders"):
        groups.append((res["peer_folders"]["folder"], res["peer_folders"]["systems"]))
    if res.get("resync"):
        groups.append((f"SciFact, first {res['resync']['docs']} documents as .txt files", res["resync"]["full"]))
    for folder, systems in groups:
        rate = {s: r["chunks"] / r["seconds"] if r["seconds"] else 0.0 for s, r in systems.items()}
        for system, r in systems.items():
            L.append(
                f"| {folder} | {system} | {r['files']} | {r['chunks']} | {r['seconds']:.1f} | {rate[system]:.1f} | "
                f"{r['embed_s'] / r['seconds']:.0%} | {ratio(rate['Docket'], rate[system])} |"
            )
    L.append("")
    return L


def resync_summary(resync: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for system, runs in resync["updates"].items():
        out[system] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "wall_s": statistics.median(r["wall_s"] for r in runs),
            "embedded": statistics.median(r["embedded"] for r in runs),
            "embed_s": statistics.median(r["embed_s"] for r in runs),
        }
    return out


def resync_lines(resync: dict[str, Any]) -> list[str]:
    summary = resync_summary(resync)
    d = summary["Docket"]["seconds"]
    L = [
        f"#### Re-sync after changing 1 % of the files (SciFact, {resync['docs']} documents as files, "
        f"{resync['changed']} files changed per round, {resync['rounds']} interleaved rounds)",
        "",
        "Each round appends one sentence to other files, then every system updates its saved index its own "
        "idiomatic way (table above; LlamaIndex `DocstoreStrategy.UPSERTS` with a persisted docstore and "
        'vector store, LangChain `index(..., cleanup="incremental", source_id_key="source")` with a '
        "`SQLRecordManager`). Update s = opening the saved index (model loaded) to saved again, median; process = "
        "the whole subprocess including imports and loading the model.",
        "",
        "| system | update s | all rounds s | process s | chunks embedded | s in model | s outside model | "
        "peer / Docket |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system, s in summary.items():
        rounds = ", ".join(f"{r['seconds']:.2f}" for r in resync["updates"][system])
        speed = "" if system.startswith("Docket") else f"{s['seconds'] / d:.1f}×" if d else "–"
        L.append(
            f"| {system} | {s['seconds']:.2f} | {rounds} | {s['wall_s']:.1f} | {s['embedded']:.0f} | "
            f"{s['embed_s']:.2f} | {s['seconds'] - s['embed_s']:.2f} | {speed} |"
        )
    L += ["", "![re-sync seconds per system](plots/compare-resync.png)", ""]
    return L


def scale_lines(scale: dict[str, Any]) -> list[str]:
    L = [
        "#### Scale curve (synthetic passages, realistic synthetic embeddings)",
        "",
        "`python bench/scale.py` — passages of ~120 words from real handbook sentences; 384-d vectors that "
        "are mixtures of real MiniLM embeddings of the SciFact and Cranfield chunks plus a little noise "
        "(embedding a million real chunks would take days on 2 cores). Retrieval of the real test questions "
        "(query vector given, so retrieval only); recall@10 of the vector search against exact numpy search "
        "on the same matrix; RSS of the query process (for PostgreSQL the client only); disk = the store's "
        "files (PostgreSQL: the database). The method in full: bench/scale.py's docstring.",
        "",
        "| store | chunks | build s | hybrid p50 / p95 ms | vector p50 / p95 ms | recall@10 | RSS MB | disk MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in scale["rows"]:
        L.append(
            f"| {row['store']} | {row['chunks']:,} | {row['build_s']:.0f} | {row['hybrid_ms']['p50']:.2f} / "
            f"{row['hybrid_ms']['p95']:.2f} | {row['vector_ms']['p50']:.2f} / {row['vector_ms']['p95']:.2f} | "
            f"{row['recall@10']:.3f} | {row['rss_mb']:.0f} | {row['disk_mb']:.0f} |"
        )
    L += [
        "",
        *(f"- {n}" for n in scale.get("notes", [])),
        "",
        "![latency and memory against corpus size, this run](plots/compare-scale.png)",
        "",
    ]
    return L


def targets(res: dict[str, Any]) -> list[str]:
    L = ["#### Targets", "", "| target | measured | met |", "|---|---|---|"]

    def row(name: str, measured: str, ok: bool) -> None:
        L.append(f"| {name} | {measured} | {'yes' if ok else '**no**'} |")

    sets = res["sets"]
    for set_name, margin in (("SciFact", 0.02), ("Cranfield", 0.0)):
        s = sets.get(set_name)
        if not s:
            continue
        best = max(PEER_NAMES, key=lambda p: s[p]["ndcg@10"])
        diff = s["Docket"]["ndcg@10"] - s[best]["ndcg@10"]
        row(f"{set_name} nDCG@10 ≥ best peer + {margin}", f"{diff:+.4f} vs {best}", diff >= margin - 1e-9)
    if res.get("ingest"):
        r = res["ingest"]["Docket"]["chunks_per_s"] / res["ingest"]["model"]["chunks_per_s"]
        row("ingestion within 10% of the model alone (SciFact)", f"{r:.2f}", r >= 0.9)
    for name, f in res.get("folders", {}).items():
        row(f"ingestion within 10% of the model alone ({name})", f"{f['ratio']:.2f}", f["ratio"] >= 0.9)
    for set_name, s in sets.items():
        for q in ("p50_ms", "p95_ms"):
            worst = max(s["Docket"][q] / s[p][q] for p in PEER_NAMES)
            row(f"{set_name} query {q[:3]} ≤ 1/3 of each peer", f"Docket/peer ≤ {worst:.3f}", worst <= 1 / 3)
        mem = s["Docket"]["query_rss_mb"] / s["LangChain"]["query_rss_mb"]
        row(f"{set_name} peak memory ≤ 1/3 of LangChain + Chroma", f"{mem:.2f}", mem <= 1 / 3)
    if res.get("resync"):
        summary = resync_summary(res["resync"])
        d = summary["Docket"]["seconds"]
        for peer in PEER_NAMES:
            speed = summary[peer]["seconds"] / d if d else 0.0
            row(f"re-sync after changing 1% of files ≥ 20× faster than {peer}", f"{speed:.1f}×", speed >= 20)
    else:
        row("re-sync after changing 1% of files ≥ 20× faster than each peer", "not measured in this run", False)
    L.append("")
    return L + notes(res)


def notes(res: dict[str, Any]) -> list[str]:
    """Where Docket's time and memory go, from this run's figures (and the profiles named)."""
    L = ["#### Where the time and memory go", ""]
    parts = []
    for set_name, s in res["sets"].items():
        d = s["Docket"]
        parts.append(
            f"{set_name} {d['query_rss_mb']:.0f} MB against {s['LangChain']['query_rss_mb']:.0f} MB for LangChain + "
            f"Chroma ({d['chunks'] * 384 * 4 / 1e6:.0f} MB of it the float32 vector matrix)"
        )
    L.append(
        f"- Query memory: {'; '.join(parts)}. About 37 MB is Python + numpy + `docket.index` (no pydantic "
        "settings: the runner reads the search settings saved at build); the rest is the vector matrix, the BM25 "
        "postings (int32 row + float32 weight per posting) and, while they are built, one batch of rows and the "
        "build's temporaries (`SqliteStore._load` streams rows with `fetchmany` into arrays sized by `COUNT(*)`; "
        "measured with `/proc/self/status` VmHWM after each step and tracemalloc)."
    )
    if res.get("resync"):
        summary = resync_summary(res["resync"])
        d, off = summary["Docket"], summary.get(NO_SANDBOX)
        best = min(summary[p]["seconds"] for p in PEER_NAMES)
        line = (
            f"- Re-sync: Docket's update takes {d['seconds']:.2f} s, {d['embed_s']:.2f} s of it embedding the "
            f"{d['embedded']:.0f} changed chunks; a 20× lead over the faster peer ({best:.2f} s here) would need "
            f"≤ {best / 20:.3f} s."
        )
        if off:
            saved = (d["seconds"] - d["embed_s"]) - (off["seconds"] - off["embed_s"])
            line += (
                f" Outside the model Docket spends {d['seconds'] - d['embed_s']:.2f} s; with `ingest.sandbox = false` "
                f"{off['seconds'] - off['embed_s']:.2f} s (a difference of {saved:.2f} s: small .txt files are "
                "parsed without the sandbox's worker process either way); the rest is opening the knowledge "
                "base, walking and stat-ing the folder, hashing and parsing the changed files, and the SQLite "
                "writes."
            )
        line += (
            f" Even with nothing outside the model, {d['embed_s']:.2f} s of embedding allows at most "
            f"{best / d['embed_s']:.1f}× over the faster peer with the same model."
            if d["embed_s"]
            else ""
        )
        line += (
            " The peers re-read every file of the folder (LlamaIndex also rewrites its JSON docstore and vector "
            "store, LangChain re-splits and hashes every chunk and asks its record manager), so their update "
            "grows with the folder while Docket's stays near its fixed cost; on a folder of this size the "
            "fixed costs and the model dominate, so the 20× target is out of reach here."
        )
        L.append(line)
    L.append("")
    return L


def plot(res: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(exist_ok=True)
    paths = []
    sets = res["sets"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    systems = list(SYSTEMS)
    for ax, (key, label) in zip(axes, (("ndcg@10", "nDCG@10"), ("p50_ms", "query p50 ms (log)"),
                                       ("query_rss_mb", "query process peak RSS MB")), strict=True):  # fmt: skip
        width = 0.8 / max(1, len(sets))
        for i, (set_name, s) in enumerate(sets.items()):
            ax.bar([j + i * width for j in range(len(systems))], [s[x][key] for x in systems], width, label=set_name)
        ax.set_xticks([j + width * (len(sets) - 1) / 2 for j in range(len(systems))])
        ax.set_xticklabels(systems, rotation=20, fontsize=8)
        ax.set_title(label, fontsize=10)
        if key == "p50_ms":
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    paths.append(PLOTS / "compare.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    if res.get("resync"):
        summary = resync_summary(res["resync"])
        fig, ax = plt.subplots(figsize=(6, 3.2))
        names = list(summary)
        model = [summary[n]["embed_s"] for n in names]
        rest = [summary[n]["seconds"] - summary[n]["embed_s"] for n in names]
        labels = [n.replace(", ", ",\n") for n in names]
        ax.bar(labels, model, label="in the model")
        ax.bar(labels, rest, bottom=model, label="everything else")
        ax.set_ylabel("seconds per re-sync (median)")
        ax.set_title(f"re-sync after changing 1% of {res['resync']['docs']} files", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(PLOTS / "compare-resync.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def write_results(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    block = f"{START}\n{section}{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Docket against LlamaIndex and LangChain\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small subset, one round: for development")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 2; --quick 1)")
    parser.add_argument("--ingest-docs", type=int, default=None, help="SciFact documents for ingestion (default 100)")
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=sorted(SETS, reverse=True))
    parser.add_argument("--resync-docs", type=int, default=None, help="SciFact files for re-sync (default 500)")
    parser.add_argument("--resync-rounds", type=int, default=None, help="re-sync rounds (default 3; --quick 1)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("ingest", "folders", "resync", "scale"))
    parser.add_argument("--scale-sizes", default=None, help="comma-separated chunk counts for bench/scale.py")
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    parser.add_argument("--render", type=Path, default=None, help="re-render the report from a results.json")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 2)
    if args.render:  # re-render the report of a finished run (same figures)
        res = json.loads(args.render.read_text())
        finish(res, args)
        return
    started = time.perf_counter()
    res: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": machine(), "command": " ".join(
        ["python bench/compare.py", *sys.argv[1:]])}  # fmt: skip
    res["versions"] = ensure_venvs()
    OUT.mkdir(parents=True, exist_ok=True)
    res["sets"] = {}
    preps = {}
    for key in args.sets:
        label = {"scifact": "SciFact", "cranfield": "Cranfield"}[key]
        preps[key] = prepare(key, SETS[key], args.quick)
        res["sets"][label] = measure_set(label, preps[key], rounds)
    if "ingest" not in args.skip and "scifact" in preps:
        res["ingest_docs"] = args.ingest_docs or (40 if args.quick else 100)
        res["ingest"] = measure_ingest(preps["scifact"], res["ingest_docs"], rounds)
    if "folders" not in args.skip:
        res["folders"] = measure_folders(args.quick)
        res["peer_folders"] = measure_peer_folders(args.quick)
    if "resync" not in args.skip:
        docs = args.resync_docs or (100 if args.quick else 500)
        res["resync"] = measure_resync(docs, args.resync_rounds or (1 if args.quick else 3))
    if "scale" not in args.skip:
        sizes = args.scale_sizes or ("10000" if args.quick else "10000,100000")  # 1,000,000: opt in
        res["scale"] = measure_scale(sizes)
    res["load_end"] = os.getloadavg()
    res["wall_min"] = (time.perf_counter() - started) / 60
    res["quick"] = args.quick
    (OUT / "results.json").write_text(json.dumps(res, indent=1, default=str))
    finish(res, args)
    log(f"wall time {res['wall_min']:.1f} min")


def finish(res: dict[str, Any], args: argparse.Namespace) -> None:
    args.quick = res.get("quick", args.quick)
    plot(res)
    section = report(res, args)
    (OUT / "RESULTS-compare.md").write_text(section, encoding="utf-8")
    print(section, end="")
    if not args.no_write and not args.quick:
        write_results(section)


if __name__ == "__main__":
    main()
