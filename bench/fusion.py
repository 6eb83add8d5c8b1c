"""Hybrid fusion rules compared on several retrieval sets, with dev/test splits.

    python bench/make_sets.py                      # bank FAQ and TAT-QA as BEIR folders (once)
    python bench/fusion.py cache                   # index every set once, store both candidate lists
    python bench/fusion.py report --json           # dense, keyword, fixed, adaptive and full hybrid per split

Each set is indexed once through Docket's own pipeline (chunking, the configured embedder, SQLite)
into ``bench/out/fusion-cache/<set>/``; the keyword and semantic candidate lists of every query
(``search.candidates`` each, the same lists ``search()`` fuses) are stored beside it. Fusion rules
are then compared on the stored lists in seconds, without embedding anything again; the hybrid
figures are exactly what ``docket.index.search.search`` returns for those lists: what the full
pipeline asks the store beyond them (each query term's passage count, each candidate's best
sentence) is stored too, and the ranking is replayed with the same ``fuse_hybrid``.

Splits: SciFact has its own train (dev here) and test qrels. Cranfield, the bank FAQ and TAT-QA have
one qrels file; their queries are split in halves by a hash of the query id (``dev`` / ``test``),
fixed for all runs. Rules are chosen on the dev halves of all sets together and reported on test.
The paraphrased handbook questions (``handbooks``, built by make_sets.py) have no dev half: they are
only reported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.config import load_settings
from docket.index.search import (
    COVERAGE_POWER,
    SENTENCE_DEPTH,
    SENTENCE_WEIGHT,
    fuse_absolute,
    fuse_adaptive,
    fuse_hybrid,
    term_counts,
    term_coverage,
)
from docket.types import Access, Filters

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
CACHE = HERE / "out" / "fusion-cache"

# name -> (folder, {split: qrels file}); a split named "half:dev"/"half:test" is a hash half of test.tsv
SETS: dict[str, tuple[Path, dict[str, str]]] = {
    "scifact": (DATA / "beir-scifact", {"dev": "train", "test": "test"}),
    "cranfield": (DATA / "classic-ir" / "cranfield", {"dev": "half:dev", "test": "half:test"}),
    "bankfaq": (HERE / "out" / "sets" / "bankfaq", {"dev": "half:dev", "test": "half:test"}),
    "tatqa": (HERE / "out" / "sets" / "tatqa", {"dev": "half:dev", "test": "half:test"}),
    # paraphrased handbook questions (bench/sets/handbook-questions.jsonl): reported, never tuned on
    "handbooks": (HERE / "out" / "sets" / "handbooks", {"test": "test"}),
}


def half(qid: str) -> str:
    """The fixed half a query of a single-qrels set belongs to."""
    return "dev" if hashlib.sha256(qid.encode()).digest()[0] % 2 == 0 else "test"


def load_qrels(folder: Path, spec: str) -> dict[str, dict[str, int]]:
    name, keep = (spec.split(":")[0], spec.split(":")[1]) if ":" in spec else (spec, None)
    fname = "test" if name == "half" else name
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{fname}.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0] == "query-id":
                continue
            qid, did, score = parts[0], parts[1], int(float(parts[2]))
            if score > 0 and (keep is None or half(qid) == keep):
                qrels.setdefault(qid, {})[did] = score
    return qrels


def cache_set(name: str, pool: int) -> Path:
    from docket.index.sqlite import SqliteStore
    from docket.models.embedders import EMBEDDERS
    from retrieval import build_index

    folder, splits = SETS[name]
    out = CACHE / name
    out.mkdir(parents=True, exist_ok=True)
    target = out / "candidates.json"
    if target.exists():
        add_probes(target)
        return target
    settings = load_settings(home=out, environ={})
    embedder = EMBEDDERS.create(settings.embedder.name)
    db = out / "docket.db"
    indexing: dict[str, float] = {}
    if not (out / "indexed").exists():
        db.unlink(missing_ok=True)
        corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
        indexing = build_index(corpus, out, embedder, settings)
        (out / "indexed").write_text(json.dumps(indexing))
    texts = {
        q["_id"]: q["text"]
        for q in (json.loads(line) for line in (folder / "queries.jsonl").open(encoding="utf-8") if line.strip())
    }
    qrels = {split: load_qrels(folder, spec) for split, spec in splits.items()}
    qids = sorted({q for rel in qrels.values() for q in rel if q in texts})
    vectors = embedder.embed_queries([texts[q] for q in qids])
    store = SqliteStore(db)
    con = sqlite3.connect(db)
    doc_of = {int(cid): did for cid, did in con.execute("SELECT id, doc_id FROM chunks")}
    con.close()
    queries = {}
    for qid, vec in zip(qids, vectors, strict=True):
        queries[qid] = {
            "text": texts[qid],
            "keyword": store.keyword_search(texts[qid], pool, Filters(), Access.owner()),
            "dense": store.vector_search(vec, pool, Filters(), Access.owner()),
        }
    store.close()
    used = {cid for q in queries.values() for cid, _ in q["keyword"] + q["dense"]}
    payload = {
        "set": name,
        "pool": pool,
        "embedder": embedder.name,
        "chunks": len(doc_of),
        "indexing": indexing,
        "doc_of": {str(cid): doc_of[cid] for cid in sorted(used)},
        "qrels": qrels,
        "queries": queries,
    }
    target.write_text(json.dumps(payload))
    add_probes(target)
    return target


def add_probes(target: Path) -> None:
    """Store what the full hybrid pipeline asks the store beyond the two lists, per query: each
    query term's passage count (:func:`docket.index.search.term_counts`) and the best sentence cosine
    of every candidate in either list (what :func:`docket.index.search.search` reads for its head)."""
    from docket.index.search import _best_sentences
    from docket.index.sqlite import SqliteStore
    from docket.models.embedders import EMBEDDERS

    payload = json.loads(target.read_text())
    if all("terms" in q and "sentences" in q for q in payload["queries"].values()):
        return
    settings = load_settings(home=target.parent, environ={})
    embedder = EMBEDDERS.create(settings.embedder.name)
    store = SqliteStore(target.parent / "docket.db")
    qids = list(payload["queries"])
    vectors = embedder.embed_queries([payload["queries"][q]["text"] for q in qids])
    for qid, vec in zip(qids, vectors, strict=True):
        q = payload["queries"][qid]
        q["terms"] = term_counts(store, q["text"], payload["pool"], Filters(), Access.owner())
        ids = list(dict.fromkeys(int(cid) for cid, _ in q["keyword"] + q["dense"]))
        hits = store.hits([(cid, 0.0) for cid in ids], Access.owner())
        q["sentences"] = {str(c): round(v, 6) for c, v in _best_sentences(store, embedder, vec, hits).items()}
    store.close()
    target.write_text(json.dumps(payload))


def load_cached(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CACHE / name / "candidates.json").read_text())
    data["doc_of"] = {int(k): v for k, v in data["doc_of"].items()}
    for q in data["queries"].values():
        q["keyword"] = [(int(c), float(s)) for c, s in q["keyword"]]
        q["dense"] = [(int(c), float(s)) for c, s in q["dense"]]
        q["sentences"] = {int(c): float(v) for c, v in q.get("sentences", {}).items()}
    return data


def ndcg_at(ranked: Sequence[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


Rule = Callable[[dict[str, Any], int], list[tuple[int, float]]]


def evaluate(data: dict[str, Any], split: str, rule: Rule) -> float:
    doc_of, pool = data["doc_of"], data["pool"]
    scores = []
    for qid, rels in data["qrels"][split].items():
        q = data["queries"].get(qid)
        if q is None:
            continue
        ranked = rule(q, pool)
        docs = list(dict.fromkeys(doc_of[cid] for cid, _ in ranked[:100]))
        scores.append(ndcg_at(docs, rels))
    return statistics.fmean(scores)


def keyword_only(q: dict[str, Any], pool: int) -> list[tuple[int, float]]:
    return list(q["keyword"])


def dense_only(q: dict[str, Any], pool: int) -> list[tuple[int, float]]:
    return list(q["dense"])


def fixed(alpha: float) -> Rule:
    return lambda q, pool: fuse_absolute(q["keyword"], q["dense"], alpha, pool)


def adaptive(alpha: float) -> Rule:
    """Adaptive fusion alone, as the default was before coverage and sentence re-scoring."""
    return lambda q, pool: fuse_adaptive(q["keyword"], q["dense"], alpha, pool)


def hybrid(
    alpha: float = 0.75,
    power: float = COVERAGE_POWER,
    sentences: int = SENTENCE_DEPTH,
    weight: float = SENTENCE_WEIGHT,
) -> Rule:
    """The full pipeline of :func:`docket.index.search.search`, replayed on the stored probes."""

    def rule(q: dict[str, Any], pool: int) -> list[tuple[int, float]]:
        return fuse_hybrid(
            q["keyword"],
            q["dense"],
            alpha,
            pool,
            coverage=lambda: term_coverage(q["terms"], pool),
            best_sentence=lambda ids: q["sentences"],
            sentences=sentences,
            power=power,
            sentence_weight=weight,
        )

    return rule


# the candidates compared on dev: (name, rule); adaptive 0.75 with the keyword list scaled by
# coverage ** power (0: off) and the fused top `sentences` (0: none) scored again by their best
# sentence with this weight
GRID: list[tuple[str, Rule]] = [("adaptive@0.75", adaptive(0.75))] + [
    (f"hybrid@0.75 cov^{p:g} sent{n}x{w:g}", hybrid(0.75, p, n, w))
    for p in (0.0, 1.0, 2.0, 3.0)
    for n, w in ((0, 0.0), (10, 0.5), (10, 1.0), (30, 0.5), (30, 1.0))
]


def choose(dev: dict[str, dict[str, float]], singles: dict[str, float]) -> str:
    """The rule with the best mean nDCG@10 over the sets among those no worse than the better single
    retriever minus 0.005 on any set (if none is, the one with the best worst-set margin)."""

    def margin(name: str) -> float:
        return min(dev[s][name] - singles[s] for s in dev)

    names = [name for name, _ in GRID]
    ok = [n for n in names if margin(n) >= -0.005]
    if not ok:
        return max(names, key=margin)
    return max(ok, key=lambda n: statistics.fmean(dev[s][n] for s in dev))


def machine() -> dict[str, Any]:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), platform.processor())
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def latency(name: str, limit: int) -> dict[str, Any]:
    """Milliseconds per ``search()`` on a cached set (query vectors given, so no model time): the
    default before (adaptive fusion alone: no term probes, no sentence re-scoring) against the full
    pipeline, interleaved query by query so both see the same machine load."""
    import docket.index.search as search_module
    from docket.index.sqlite import SqliteStore
    from docket.models.embedders import EMBEDDERS

    out = CACHE / name
    data = json.loads((out / "candidates.json").read_text())
    settings = load_settings(home=out, environ={})
    embedder = EMBEDDERS.create(settings.embedder.name)
    texts = [q["text"] for q in data["queries"].values()][:limit]
    vectors = embedder.embed_queries(texts)
    store = SqliteStore(out / "docket.db")
    times: dict[str, list[float]] = {"adaptive": [], "new hybrid": []}
    for text, vec in zip(texts, vectors, strict=True):
        for rule in ("adaptive", "new hybrid") if len(times["adaptive"]) % 2 else ("new hybrid", "adaptive"):
            new = rule == "new hybrid"  # the opt-in corrections: search.coverage = 2, search.sentences = 30
            t0 = time.perf_counter()
            search_module.search(
                store,
                embedder,
                text,
                query_vector=vec,
                coverage=COVERAGE_POWER if new else 0.0,
                sentences=SENTENCE_DEPTH if new else 0,
            )
            times[rule].append((time.perf_counter() - t0) * 1000)
    store.close()
    result: dict[str, Any] = {"set": name, "queries": len(texts), "machine": machine()}
    for rule, ms in times.items():
        ms.sort()
        result[rule] = {"p50_ms": round(ms[len(ms) // 2], 2), "p95_ms": round(ms[int(len(ms) * 0.95)], 2)}
    result["p50_ratio"] = round(result["new hybrid"]["p50_ms"] / result["adaptive"]["p50_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache", help="index the sets and store both candidate lists per query")
    c.add_argument("--sets", nargs="+", default=list(SETS))
    r = sub.add_parser("report", help="compare rules on the stored lists")
    r.add_argument("--sets", nargs="+", default=list(SETS))
    r.add_argument("--json", action="store_true")
    r.add_argument("--dev-only", action="store_true", help="the dev comparison only: read no test split")
    r.add_argument("--out", type=Path, default=None, help="also write the JSON result to this file")
    lat = sub.add_parser("latency", help="search() time per query: the default before against the full pipeline")
    lat.add_argument("--set", default="scifact")
    lat.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.cmd == "latency":
        print(json.dumps(latency(args.set, args.queries), indent=2))
        return
    if args.cmd == "cache":
        pool = load_settings(environ={}).search.candidates
        for name in args.sets:
            t0 = time.perf_counter()
            print(name, cache_set(name, pool), f"{time.perf_counter() - t0:.0f} s", flush=True)
        return
    settings = load_settings(environ={})
    data = {name: load_cached(name) for name in args.sets}
    tuning = {name: d for name, d in data.items() if "dev" in d["qrels"]}  # report-only sets have no dev
    singles = {
        name: max(evaluate(d, "dev", dense_only), evaluate(d, "dev", keyword_only)) for name, d in tuning.items()
    }
    dev = {name: {rule: evaluate(d, "dev", fn) for rule, fn in GRID} for name, d in tuning.items()}
    chosen = choose(dev, singles)
    if args.dev_only:
        print(f"chosen on dev: {chosen}")
        print("rule".ljust(34), " ".join(name[:9].rjust(9) for name in dev), "     mean")
        for rule, _ in GRID:
            vals = [dev[name][rule] for name in dev]
            print(rule.ljust(34), " ".join(f"{v:9.4f}" for v in vals), f"{statistics.fmean(vals):9.4f}")
        print("better single".ljust(34), " ".join(f"{singles[name]:9.4f}" for name in dev))
        return
    cfg = settings.search
    # "new hybrid": adaptive fusion with the corrections the dev splits chose (search.coverage = 2,
    # search.sentences = 30); they are opt-in, so the default is the "adaptive" column
    product = (
        f"hybrid@{cfg.alpha} cov^{COVERAGE_POWER:g} sent{SENTENCE_DEPTH}x{SENTENCE_WEIGHT:g}"
        if cfg.fusion == "adaptive"
        else f"{cfg.fusion}@{cfg.alpha}"
    )
    rules: dict[str, Rule] = {
        "dense": dense_only,
        "keyword": keyword_only,
        "old hybrid": fixed(0.6),
        "adaptive": adaptive(0.75),
        "new hybrid": dict(GRID).get(product) or hybrid(cfg.alpha),
    }
    test = {name: {rule: round(evaluate(d, "test", fn), 4) for rule, fn in rules.items()} for name, d in data.items()}
    for row in test.values():
        best = max(row["dense"], row["keyword"])
        row["new - adaptive"] = round(row["new hybrid"] - row["adaptive"], 4)
        row["new - better single"] = round(row["new hybrid"] - best, 4)
        row["adaptive - better single"] = round(row["adaptive"] - best, 4)
    result = {
        "machine": machine(),
        "queries": {name: {split: len(q) for split, q in d["qrels"].items()} for name, d in data.items()},
        "chosen_on_dev": chosen,
        "product_default": product,
        "baseline": "adaptive@0.75 (the default before: adaptive fusion alone)",
        "dev_ndcg@10": {name: {rule: round(v, 4) for rule, v in row.items()} for name, row in dev.items()},
        "dev_mean_ndcg@10": {rule: round(statistics.fmean(dev[s][rule] for s in dev), 4) for rule, _ in GRID},
        "dev_better_single": {name: round(v, 4) for name, v in singles.items()},
        "test_ndcg@10": test,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"chosen on dev: {chosen}; product default: {product}")
    print(
        "| set (test split, queries) | dense | keyword | old hybrid | adaptive | new hybrid | new − adaptive "
        "| new − better single |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, row in test.items():
        print(
            f"| {name} ({result['queries'][name]['test']}) | {row['dense']:.4f} | {row['keyword']:.4f} | "
            f"{row['old hybrid']:.4f} | {row['adaptive']:.4f} | **{row['new hybrid']:.4f}** | "
            f"{row['new - adaptive']:+.4f} | {row['new - better single']:+.4f} |"
        )


if __name__ == "__main__":
    main()
