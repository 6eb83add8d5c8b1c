"""Hybrid fusion rules compared on several retrieval sets, with dev/test splits.

    python bench/make_sets.py                      # bank FAQ and TAT-QA as BEIR folders (once)
    python bench/fusion.py cache                   # index every set once, store both candidate lists
    python bench/fusion.py report --json           # dense, keyword, fixed and adaptive fusion per split

Each set is indexed once through Docket's own pipeline (chunking, the configured embedder, SQLite)
into ``bench/out/fusion-cache/<set>/``; the keyword and semantic candidate lists of every query
(``search.candidates`` each, the same lists ``search()`` fuses) are stored beside it. Fusion rules
are then compared on the stored lists in seconds, without embedding anything again; the hybrid
figures are exactly what ``docket.index.search.search`` returns for those lists.

Splits: SciFact has its own train (dev here) and test qrels. Cranfield, the bank FAQ and TAT-QA have
one qrels file; their queries are split in halves by a hash of the query id (``dev`` / ``test``),
fixed for all runs. Rules are chosen on the dev halves of all sets together and reported on test.
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
from docket.index.search import LEAD_DEPTH, fuse_absolute, fuse_adaptive
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
    return target


def load_cached(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CACHE / name / "candidates.json").read_text())
    data["doc_of"] = {int(k): v for k, v in data["doc_of"].items()}
    for q in data["queries"].values():
        q["keyword"] = [(int(c), float(s)) for c, s in q["keyword"]]
        q["dense"] = [(int(c), float(s)) for c, s in q["dense"]]
    return data


def ndcg_at(ranked: Sequence[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


Rule = Callable[[list[tuple[int, float]], list[tuple[int, float]], int], list[tuple[int, float]]]


def evaluate(data: dict[str, Any], split: str, rule: Rule) -> float:
    doc_of, pool = data["doc_of"], data["pool"]
    scores = []
    for qid, rels in data["qrels"][split].items():
        q = data["queries"].get(qid)
        if q is None:
            continue
        ranked = rule(q["keyword"], q["dense"], pool)
        docs = list(dict.fromkeys(doc_of[cid] for cid, _ in ranked[:100]))
        scores.append(ndcg_at(docs, rels))
    return statistics.fmean(scores)


def keyword_only(kw: list[tuple[int, float]], dn: list[tuple[int, float]], pool: int) -> list[tuple[int, float]]:
    return kw


def dense_only(kw: list[tuple[int, float]], dn: list[tuple[int, float]], pool: int) -> list[tuple[int, float]]:
    return dn


def fixed(alpha: float) -> Rule:
    return lambda kw, dn, pool: fuse_absolute(kw, dn, alpha, pool)


def adaptive(alpha: float, depth: int = LEAD_DEPTH) -> Rule:
    if depth == LEAD_DEPTH:
        return lambda kw, dn, pool: fuse_adaptive(kw, dn, alpha, pool)
    from docket.index.search import adaptive_alpha

    return lambda kw, dn, pool: fuse_absolute(kw, dn, adaptive_alpha(kw, dn, alpha, pool, depth), pool)


# the candidates compared on dev: (name, rule)
GRID: list[tuple[str, Rule]] = [(f"absolute@{a}", fixed(a)) for a in (0.5, 0.6, 0.7, 0.8)] + [
    (f"adaptive@{a}/{d}", adaptive(a, d)) for a in (0.6, 0.65, 0.7, 0.75, 0.8) for d in (5, 10, 20)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache", help="index the sets and store both candidate lists per query")
    c.add_argument("--sets", nargs="+", default=list(SETS))
    r = sub.add_parser("report", help="compare rules on the stored lists")
    r.add_argument("--sets", nargs="+", default=list(SETS))
    r.add_argument("--json", action="store_true")
    r.add_argument("--out", type=Path, default=None, help="also write the JSON result to this file")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.cmd == "cache":
        pool = load_settings(environ={}).search.candidates
        for name in args.sets:
            t0 = time.perf_counter()
            print(name, cache_set(name, pool), f"{time.perf_counter() - t0:.0f} s", flush=True)
        return
    settings = load_settings(environ={})
    data = {name: load_cached(name) for name in args.sets}
    singles = {name: max(evaluate(d, "dev", dense_only), evaluate(d, "dev", keyword_only)) for name, d in data.items()}
    dev = {name: {rule: evaluate(d, "dev", fn) for rule, fn in GRID} for name, d in data.items()}
    chosen = choose(dev, singles)
    product = f"{settings.search.fusion}@{settings.search.alpha}" + (
        f"/{LEAD_DEPTH}" if settings.search.fusion == "adaptive" else ""
    )
    rules: dict[str, Rule] = {
        "dense": dense_only,
        "keyword": keyword_only,
        "old hybrid": fixed(0.6),
        "new hybrid": dict(GRID)[product] if product in dict(GRID) else adaptive(settings.search.alpha),
    }
    test = {name: {rule: round(evaluate(d, "test", fn), 4) for rule, fn in rules.items()} for name, d in data.items()}
    for row in test.values():
        row["new - better single"] = round(row["new hybrid"] - max(row["dense"], row["keyword"]), 4)
        row["old - better single"] = round(row["old hybrid"] - max(row["dense"], row["keyword"]), 4)
    result = {
        "machine": machine(),
        "queries": {name: {split: len(q) for split, q in d["qrels"].items()} for name, d in data.items()},
        "chosen_on_dev": chosen,
        "product_default": product,
        "dev_ndcg@10": {name: {rule: round(v, 4) for rule, v in row.items()} for name, row in dev.items()},
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
    print("| set (test split, queries) | dense | keyword | old hybrid | new hybrid | new − better single |")
    print("|---|---|---|---|---|---|")
    for name, row in test.items():
        print(
            f"| {name} ({result['queries'][name]['test']}) | {row['dense']:.4f} | {row['keyword']:.4f} | "
            f"{row['old hybrid']:.4f} | **{row['new hybrid']:.4f}** | {row['new - better single']:+.4f} |"
        )


if __name__ == "__main__":
    main()
