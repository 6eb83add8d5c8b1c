"""Scale curve of Docket's stores: latency, recall and memory against corpus size.

    python bench/scale.py --sizes 10000,100000,1000000 [--vectors uniform] [--json]

(default sizes 10k and 100k: bench/compare.py calls this). For each size, one process builds a
knowledge base of synthetic passages (about ``--words`` words assembled from real sentences of the
public-domain handbooks; sizes above ``--words-above SIZE:W``, default 100000:20, get passages of
about W words: 1M chunks of 120 words take too long to load into PostgreSQL on 2 shared cores) with
384-d vectors:

- ``--vectors mixture`` (default): realistic synthetic embeddings. Real all-MiniLM-L6-v2 embeddings
  (int8 ONNX, the model Docket's ``minilm`` embedder runs) of the SciFact and Cranfield chunks are
  the pool, cached in bench/out/scale/real-minilm.npz (taken from bench/compare.py's vector caches
  when present, otherwise embedded here with Docket's embedder). Vector i = normalise(w1·e_a + w2·e_b
  [+ w3·e_c] + noise): 2 or 3 pool rows (even odds) drawn uniformly, weights from Dirichlet(1, 1, 1)
  (the third dropped and the rest renormalised for two), noise N(0, 0.01²) per dimension; numpy
  ``default_rng(seed)``, drawn in blocks of 65,536 rows.
- ``--vectors uniform``: random unit vectors (the worst case for a graph index; real embeddings are
  clustered and anisotropic).

Queries are the real SciFact and Cranfield question embeddings of the same model, split once
(``default_rng(2)`` permutation) into a training half, used only to choose PostgreSQL's
``hnsw.ef_search`` (``--ef-search auto``: the smallest value of a fixed grid whose recall@10 on the
training queries reaches ``--recall-target`` + ``--recall-margin``), and a test half, on which every reported figure is
measured. The exact top-10 of every query is computed with numpy in the build process; a store's hit
counts toward recall@10 when its score reaches the exact 10th score (ties count).

PostgreSQL (pgvector HNSW via a temporary ``pgserver`` under /tmp, up to ``--postgres-max`` chunks)
is bulk-loaded the way ``docket db copy`` does it: the HNSW index is dropped, documents are written
with ``import_document(durable=False)``, then the index is built once (``maintenance_work_mem`` =
``--maintenance-work-mem``, ``max_parallel_maintenance_workers`` = 1) and timed apart from the load.
A second, fresh process times hybrid and vector-only retrieval of the test queries (query vector
given: retrieval only; the question's text drives the keyword side; ``--rounds`` passes after one
warm-up pass), then reads its own RSS and the PostgreSQL server's (sum of RSS and of PSS over the
postmaster and its children, from /proc), then recall. Disk = the store's files (embedded) or
``pg_database_size``; the HNSW index alone = ``pg_relation_size('chunks_vector')``.
Writes bench/plots/scale.png.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
OUT = HERE / "out" / "scale"
COMPARE = HERE / "out" / "compare"
SHARED = HERE.parents[1] / "shared" / "data"
NOISE = 0.01
BLOCK = 65_536
EF_GRID = (40, 64, 100, 150, 200, 300, 400, 600, 800, 1000)
ANN_EF_GRID = (128, 256, 512, 1024, 2048)  # the embedded store's index: its graph's ef per query


# ---------------------------------------------------------------- vectors and queries


def real_embeddings() -> dict[str, Any]:
    """Real MiniLM passage and question embeddings (cached): ``passages``, ``queries``, ``texts``, ``source``."""
    cache = OUT / "real-minilm.npz"
    if not cache.is_file():
        passages, queries, texts, sources = [], [], [], []
        for name in ("scifact", "cranfield"):
            folder = COMPARE / name
            files = [folder / "cache" / "vectors.npy", folder / "qcache" / "vectors.npy", folder / "queries.jsonl"]
            if not all(f.is_file() for f in files):
                continue
            index = {k: i for i, k in enumerate((folder / "qcache" / "keys.txt").read_text().split())}
            qmat = np.load(files[1])
            for line in files[2].read_text(encoding="utf-8").splitlines():
                text = json.loads(line)["text"]
                row = index.get(hashlib.sha256(text.encode("utf-8")).hexdigest())
                if row is not None:
                    texts.append(text)
                    queries.append(qmat[row])
            passages.append(np.load(files[0]))
            sources.append(f"bench/out/compare/{name} vector caches")
        if not passages:  # embed a pool here with Docket's own embedder (a few minutes on 2 cores)
            from docket.models.embedders import MiniLMEmbedder

            embedder = MiniLMEmbedder()
            corpus = [json.loads(x) for x in (SHARED / "beir-scifact" / "corpus.jsonl").read_text().splitlines()]
            asked = [
                json.loads(x)["text"] for x in (SHARED / "beir-scifact" / "queries.jsonl").read_text().splitlines()
            ]
            passages.append(embedder.embed_passages([f"{d.get('title', '')}\n{d['text']}" for d in corpus[:3000]]))
            texts = asked[:600]
            queries = list(embedder.embed_queries(texts))
            sources.append("Docket's minilm embedder over ../shared/data/beir-scifact (3,000 documents, 600 queries)")
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache,
            passages=np.concatenate(passages).astype(np.float32),
            queries=np.array(queries, dtype=np.float32),
            texts=np.array(texts),
            source=np.array("; ".join(sources)),
        )
    data = np.load(cache)
    return {
        "passages": data["passages"],
        "queries": data["queries"],
        "texts": [str(t) for t in data["texts"]],
        "source": str(data["source"]),
    }


def synthetic_vectors(n: int, kind: str, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors: mixtures of real embeddings (see the module docstring) or uniform random."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    pool = real_embeddings()["passages"] if kind == "mixture" else None
    for start in range(0, n, BLOCK):
        b = min(BLOCK, n - start)
        if pool is None:
            x = rng.standard_normal((b, DIM)).astype(np.float32)
        else:
            idx = rng.integers(len(pool), size=(b, 3))
            w = rng.dirichlet(np.ones(3), size=b).astype(np.float32)
            w[rng.random(b) < 0.5, 2] = 0.0
            w /= w.sum(axis=1, keepdims=True)
            x = np.einsum("bk,bkd->bd", w, pool[idx]) + rng.normal(0, NOISE, (b, DIM)).astype(np.float32)
        out[start : start + b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def query_split() -> dict[str, Any]:
    """The real questions, split once into training (tuning only) and test (reported) halves."""
    real = real_embeddings()
    order = np.random.default_rng(2).permutation(len(real["queries"]))
    half = len(order) // 2
    train, test = order[:half], order[half:]
    return {
        "train": real["queries"][train],
        "test": real["queries"][test],
        "test_texts": [real["texts"][i] for i in test],
    }


def exact_kth(matrix: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The exact k-th best cosine score of each query (unit vectors), in blocks of rows."""
    best = np.full((len(queries), k), -2.0, dtype=np.float32)
    for start in range(0, len(matrix), BLOCK):
        scores = queries @ matrix[start : start + BLOCK].T
        both = np.concatenate([best, scores], axis=1)
        best = -np.partition(-both, k - 1, axis=1)[:, :k]
    return best.min(axis=1)


def recall(store: Any, queries: np.ndarray, kth: np.ndarray) -> float:
    from docket.types import Access, Filters

    hits = 0
    for q, t in zip(queries, kth, strict=True):
        got = store.vector_search(q, 10, Filters(), Access.owner())
        hits += sum(1 for _, score in got if score >= t - 1e-4)
    return hits / (10 * len(queries))


# ---------------------------------------------------------------- child processes


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def server_memory(pid: int) -> dict[str, float]:
    """Sum of RSS and of PSS (shared pages split between the processes) of a postmaster and its children, MB."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    rss = pss = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return {"server_rss_mb": rss, "server_pss_mb": pss, "server_processes": len(pids)}


def open_store(kind: str, folder: Path, url: str, opts: dict[str, Any]) -> Any:
    if kind == "postgres":
        from docket.index.postgres import PostgresStore

        return PostgresStore(
            url,
            hnsw_m=opts["m"],
            hnsw_ef_construction=opts["ef_construction"],
            hnsw_ef_search=int(opts.get("ef_search") or 100),
        )
    from docket.index.sqlite import SqliteStore

    if kind == "embedded-ann":  # the approximate vector index (docket[scale]) from opts["ann_min"] chunks
        return SqliteStore(
            folder / "docket.db",
            vector_index_min_chunks=opts.get("ann_min", 100_000),
            ann_candidates=opts.get("ann_candidates") or 200,
            ann_ef_search=opts.get("ann_ef") or 2048,
        )
    return SqliteStore(folder / "docket.db", vector_index_min_chunks=10**12)  # exact: the float32 matrix


def build(kind: str, n: int, folder: Path, url: str, opts: dict[str, Any]) -> dict[str, Any]:
    from latency import build as build_store
    from latency import synthetic_documents

    matrix = synthetic_vectors(n, opts["vectors"])
    queries = query_split()
    np.save(folder / "kth-train.npy", exact_kth(matrix, queries["train"]))
    np.save(folder / "kth-test.npy", exact_kth(matrix, queries["test"]))
    store = open_store(kind, folder, url, opts)
    if kind != "postgres":
        seconds = build_store(store, n, DIM, seed=0, vectors=matrix, words=opts["words"])
        store.close()
        return {"build_s": seconds, "build_peak_rss_mb": rss_mb()[1]}
    import psycopg

    from docket.index.postgres import schema

    store.bind_embedder("synthetic", DIM)
    store.drop_vector_index()  # as `docket db copy`: load first, build the graph once
    t0 = time.perf_counter()
    for doc, chunks, vecs in synthetic_documents(n, DIM, 0, matrix, opts["words"]):
        store.import_document(doc, chunks, vecs, "", durable=False)
    load_s = time.perf_counter() - t0
    del matrix
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET maintenance_work_mem = '{opts['maintenance_work_mem']}'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        t1 = time.perf_counter()
        schema.create_vector_index(conn, DIM, opts["m"], opts["ef_construction"])
        index_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    store.finish_import()  # sequences and ANALYZE
    finish_s = time.perf_counter() - t2
    store.close()
    return {
        "build_s": load_s + index_s + finish_s,
        "load_s": load_s,
        "index_build_s": index_s,
        "analyze_s": finish_s,
        "build_peak_rss_mb": rss_mb()[1],  # the client; the matrix of all vectors is held while loading
    }


def tune(kind: str, n: int, folder: Path, url: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Recall@10 and vector latency on the training queries for every ef_search of the grid; picks the
    smallest whose training recall reaches the target plus a margin (so the test half clears the target)."""
    from docket.types import Access, Filters

    train = query_split()["train"]
    kth = np.load(folder / "kth-train.npy")
    store = open_store(kind, folder, url, opts)
    for q in train[:20]:  # warm the index pages
        store.vector_search(q, 10, Filters(), Access.owner())
    grid = []
    goal = opts["recall_target"] + opts.get("recall_margin", 0.01)
    grid_values = ANN_EF_GRID if kind == "embedded-ann" else EF_GRID
    for ef in grid_values:
        if kind == "embedded-ann":  # the graph's ef (the candidates re-scored stay ann_candidates)
            store._ann_ef = ef
        else:
            store.hnsw_ef_search = ef
        samples = []
        for q in train:
            t0 = time.perf_counter()
            store.vector_search(q, 10, Filters(), Access.owner())
            samples.append((time.perf_counter() - t0) * 1000)
        grid.append(
            {"ef_search": ef, "train_recall@10": recall(store, train, kth), "train_vector_ms": percentiles(samples)}
        )
    store.close()
    chosen = next((g["ef_search"] for g in grid if g["train_recall@10"] >= goal), grid_values[-1])
    return {"ef_search": chosen, "tuning": grid}


def previous_keyword_search(store: Any) -> Any:
    """The keyword search as it was before pruning (every posting of the query's terms scored): the
    baseline every run times next to the current code, on the same store and questions. On
    PostgreSQL it is the one BM25 statement of :func:`docket.index.postgres.sql.bm25_sql`, and its
    hybrid timings run the two retrievers one after the other, as before ``parallel_retrieval``."""
    from docket.index.keywords import analyze_query

    if hasattr(store, "_load"):  # embedded: a dense pass over the BM25 postings, then a partial sort

        def embedded(query: str, k: int, filters: Any, access: Any) -> list[tuple[int, float]]:
            _, row_ids, bm25 = store._load()
            term_ids = list(store._term_ids(set(analyze_query(query)), create=False).values())
            if not term_ids or len(row_ids) == 0:
                return []
            norm = bm25.idf_sum(term_ids)
            if norm <= 0:
                return []
            scores = bm25.scores(term_ids) / norm
            positions = store._allowed(filters, access, row_ids)
            ids = row_ids
            if positions is not None:
                scores, ids = scores[positions], row_ids[positions]
            return [(cid, sc) for cid, sc in store._top(scores, ids, k) if sc > 0]

        return embedded

    from docket.index.postgres.sql import bm25_sql, where_sql

    def postgres(query: str, k: int, filters: Any, access: Any) -> list[tuple[int, float]]:
        terms = analyze_query(query)
        if not terms or k <= 0:
            return []
        where, params = where_sql(filters, access)
        with store._tx() as conn:
            rows = conn.execute(bm25_sql(where), [terms, *params, k]).fetchall()
        return [(int(c), float(sc)) for c, sc in rows if sc is not None and sc > 0]

    return postgres


def exact(kind: str, n: int, folder: Path, url: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Exact vector top 100 of every test question (numpy over the regenerated matrix; chunk id =
    row + 1, the order the build wrote them), for the hybrid recall against exact retrieval."""
    path = folder / "exact-test-top100.npz"
    if not path.is_file():
        matrix = synthetic_vectors(n, opts["vectors"])
        queries = query_split()["test"]
        ids = np.empty((len(queries), 100), dtype=np.int64)
        scores = np.empty((len(queries), 100), dtype=np.float32)
        for i, q in enumerate(queries):
            sc = matrix @ q
            top = np.argpartition(-sc, 99)[:100]
            top = top[np.lexsort((top, -sc[top]))]
            ids[i], scores[i] = top + 1, sc[top]
        np.savez(path, ids=ids, scores=scores)
    return {"exact": str(path)}


def index(kind: str, n: int, folder: Path, url: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Build the embedded store's approximate vector index (when missing or stale) and time it."""
    from docket.index import ann

    store = open_store(kind, folder, url, opts)
    before = ann.read_stamp(store.path)
    t0 = time.perf_counter()
    store._load()
    seconds = time.perf_counter() - t0
    stamp = ann.read_stamp(store.path)
    store.close()
    size = (folder / stamp.file).stat().st_size / 1e6 if stamp else 0.0
    return {
        "index_open_s": seconds,
        "index_rebuilt": stamp != before,
        "index_file_mb": size,
        "index_peak_rss_mb": rss_mb()[1],
    }


def memory_split() -> dict[str, float]:
    """RssAnon (heap: arrays, Python) and RssFile (mapped file pages, the index file among them), MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile") if k in fields}


def query(kind: str, n: int, folder: Path, url: str, opts: dict[str, Any]) -> dict[str, Any]:
    from docket.index.search import fuse_absolute, search
    from docket.types import Access, Filters

    split = query_split()
    limit = opts.get("max_queries") or len(split["test"])
    qvecs, texts = split["test"][:limit], split["test_texts"][:limit]
    store = open_store(kind, folder, url, opts)
    for name in ("keyword_full", "keyword_depth", "keyword_rescore"):  # --keyword-* (PostgreSQL)
        if opts.get(name) is not None:
            setattr(store, name.upper(), opts[name])
    current = store.keyword_search
    previous = previous_keyword_search(store)
    parallel = {"current": getattr(store, "parallel_retrieval", False), "previous": False}
    t0 = time.perf_counter()
    store.vector_search(qvecs[0], 10, Filters(), Access.owner())  # loads the store (embedded: matrix + postings)
    search(store, None, texts[0], k=10, query_vector=qvecs[0])  # type: ignore[arg-type]
    open_s = time.perf_counter() - t0
    modes = ("hybrid", "semantic", "keyword")
    paths = {"current": current, "previous": previous}
    for q, v in zip(texts, qvecs, strict=True):  # warm-up pass, not timed
        for name, path in paths.items():
            store.keyword_search = path
            store.parallel_retrieval = parallel[name]
            for mode in modes:
                search(store, None, q, k=10, mode=mode, query_vector=v)  # type: ignore[arg-type]
    # the vector side does not depend on the keyword path: timed once, with the current code
    timed = {"current": modes, "previous": ("hybrid", "keyword")}
    timings: dict[str, list[float]] = {f"{p}/{m}": [] for p in paths for m in timed[p]}
    for r in range(opts["rounds"]):
        for i, (q, v) in enumerate(zip(texts, qvecs, strict=True)):
            order = list(paths.items())
            if (i + r) % 2:  # alternate which path goes first, so both meet the same noise
                order.reverse()
            for name, path in order:
                store.keyword_search = path
                store.parallel_retrieval = parallel[name]
                for mode in timed[name]:
                    t1 = time.perf_counter()
                    search(store, None, q, k=10, mode=mode, query_vector=v)  # type: ignore[arg-type]
                    timings[f"{name}/{mode}"].append((time.perf_counter() - t1) * 1000)
    rss, peak = rss_mb()
    split_mb = memory_split()
    # agreement: the current keyword top 100 against the exhaustive one, and hybrid top 10 against
    # hybrid over exact retrievers (exhaustive BM25 + exact vector top 100)
    kw_same = kw10 = hy_now = hy_prev = 0.0
    reference = np.load(folder / "exact-test-top100.npz") if (folder / "exact-test-top100.npz").is_file() else None
    for i, (q, v) in enumerate(zip(texts, qvecs, strict=True)):
        now = current(q, 100, Filters(), Access.owner())
        then = previous(q, 100, Filters(), Access.owner())
        kw_same += [c for c, _ in now] == [c for c, _ in then]
        top_then = {c for c, _ in then[:10]}
        kw10 += len({c for c, _ in now[:10]} & top_then) / len(top_then) if top_then else not now
        if reference is not None:
            dense = [(int(c), float(sc)) for c, sc in zip(reference["ids"][i], reference["scores"][i], strict=True)]
            truth = {c for c, _ in fuse_absolute(then, dense, 0.6, 100)[:10]}
            for name, path in paths.items():
                store.keyword_search = path
                store.parallel_retrieval = parallel[name]
                got = {h.chunk_id for h in search(store, None, q, k=10, query_vector=v)}  # type: ignore[arg-type]
                if name == "current":
                    hy_now += len(got & truth) / max(1, len(truth))
                else:
                    hy_prev += len(got & truth) / max(1, len(truth))
    store.keyword_search = current
    store.parallel_retrieval = parallel["current"]
    nq = len(texts)
    agreement = {
        "keyword_top100_identical": kw_same / nq,
        "keyword_recall@10_vs_exhaustive": kw10 / nq,
        **(
            {"hybrid_recall@10_vs_exact": hy_now / nq, "previous_hybrid_recall@10_vs_exact": hy_prev / nq}
            if reference is not None
            else {}
        ),
    }
    extra: dict[str, Any] = {}
    if kind == "postgres":
        extra.update(server_memory(opts["pg_pid"]) if opts.get("pg_pid") else {})
        with store._tx() as conn:
            db, idx, chunks, postings = conn.execute(
                "SELECT pg_database_size(current_database()), pg_relation_size('chunks_vector'), "
                "pg_total_relation_size('chunks'), pg_total_relation_size('postings')"
            ).fetchone()
        disk = db
        extra.update(
            {
                "index_mb": idx / 1e6,
                "chunks_table_mb": chunks / 1e6,
                "postings_table_mb": postings / 1e6,
                "ef_search": store.hnsw_ef_search,
                "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0],
                "m": opts["m"],
                "ef_construction": opts["ef_construction"],
            }
        )
    else:
        disk = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name.startswith("docket.db"))
    r = recall(store, qvecs, np.load(folder / "kth-test.npy")[:limit])
    store.close()
    names = {
        "postgres": "PostgreSQL (pgvector HNSW)",
        "embedded": "embedded (SQLite + numpy)",
        "embedded-ann": "embedded (SQLite + usearch HNSW i8)",
    }
    return {
        "store": names[kind],
        "chunks": n,
        "vectors": opts["vectors"],
        "words": opts["words"],
        "test_queries": len(qvecs),
        "open_s": open_s,
        "hybrid_ms": percentiles(timings["current/hybrid"]),
        "vector_ms": percentiles(timings["current/semantic"]),
        "keyword_ms": percentiles(timings["current/keyword"]),
        "previous": {m: percentiles(timings[f"previous/{m}"]) for m in timed["previous"]},
        "recall@10": r,
        **agreement,
        "rss_mb": rss,
        "peak_rss_mb": peak,
        **{f"{k}_mb": v for k, v in split_mb.items()},
        "disk_mb": disk / 1e6,
        **extra,
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50": s[len(s) // 2], "p95": s[min(len(s) - 1, int(len(s) * 0.95))]}


# ---------------------------------------------------------------- driver


def postgres_available() -> bool:
    try:
        import pgserver  # noqa: F401

        import docket.index.postgres  # noqa: F401
    except ImportError:
        return False
    return True


def start_postgres(root: Path, shared_buffers: str, keep: bool = False) -> Any:
    """A PostgreSQL under ``root`` (deleted on cleanup unless ``keep``), restarted once with ``shared_buffers``."""
    import warnings

    import pgserver

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR inside pgserver
        if shared_buffers:
            server = pgserver.get_server(root, cleanup_mode="stop")
            server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
            server.cleanup()
        return pgserver.get_server(root, cleanup_mode="stop" if keep else "delete")


def child(what: str, kind: str, n: int, folder: str, opts: dict[str, Any], timeout: float) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", what, kind, str(n), folder, "--opts", json.dumps(opts)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 6))
    colours = {"PostgreSQL": "tab:blue", "embedded": "tab:orange"}
    for store in sorted({r["store"] for r in rows}):
        name = store.split(" (")[0]
        colour = colours.get(name, "tab:gray")
        for kind, marker in (("mixture", "o"), ("uniform", "x")):
            rs = sorted(
                (r for r in rows if r["store"] == store and r.get("vectors", "mixture") == kind),
                key=lambda r: r["chunks"],
            )
            if not rs:
                continue
            tag = f"{name}" + (" (uniform vectors)" if kind == "uniform" else "")
            x = [r["chunks"] for r in rs]
            a.plot(
                x, [r["hybrid_ms"]["p95"] for r in rs], marker=marker, ls="-", color=colour, label=f"{tag}: hybrid p95"
            )
            a.plot(
                x, [r["vector_ms"]["p95"] for r in rs], marker=marker, ls=":", color=colour, label=f"{tag}: vector p95"
            )
            if kind == "mixture":
                ram = [r["rss_mb"] + r.get("server_pss_mb", 0.0) for r in rs]
                b.plot(x, ram, marker=marker, ls="-", color=colour, label=f"{tag}: RAM (client RSS + server PSS)")
                b.plot(x, [r["disk_mb"] for r in rs], marker=marker, ls="--", color=colour, label=f"{tag}: disk")
    for ax, title in ((a, "retrieval latency p95, ms (test questions)"), (b, "memory and disk, MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks (1M: ~20-word passages)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def words_for(n: int, words: int, above: str) -> int:
    if not above:
        return words
    size, short = (int(x) for x in above.split(":"))
    return short if n > size else words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--stores",
        default="embedded,postgres",
        help="comma-separated: embedded (exact), embedded-ann (approximate index), postgres",
    )
    parser.add_argument("--ann-min", type=int, default=100_000, help="embedded-ann: index from this many chunks")
    parser.add_argument(
        "--ann-candidates",
        type=int,
        default=200,
        help="embedded-ann: candidates taken from the graph and re-scored exactly",
    )
    parser.add_argument(
        "--ann-ef", type=int, default=128, help="embedded-ann: HNSW ef at query time (0: tuned on training questions)"
    )
    parser.add_argument("--postgres-max", type=int, default=1_000_000, help="largest size for PostgreSQL (0: none)")
    parser.add_argument("--vectors", choices=("mixture", "uniform"), default="mixture")
    parser.add_argument("--words", type=int, default=120, help="words per synthetic passage")
    parser.add_argument(
        "--words-above",
        default="100000:20",
        metavar="SIZE:WORDS",
        help="shorter passages above SIZE chunks ('': none)",
    )
    parser.add_argument(
        "--ef-search", default="auto", help="PostgreSQL hnsw.ef_search, or auto (tuned on training queries)"
    )
    parser.add_argument("--recall-target", type=float, default=0.95)
    parser.add_argument(
        "--recall-margin", type=float, default=0.01, help="tuning asks target + margin of the training half"
    )
    parser.add_argument("--hnsw-m", type=int, default=16)
    parser.add_argument("--hnsw-ef-construction", type=int, default=64)
    parser.add_argument("--maintenance-work-mem", default="3GB")
    parser.add_argument("--shared-buffers", default="1GB", help="PostgreSQL shared_buffers ('' : pgserver's default)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the test queries")
    parser.add_argument("--max-queries", type=int, default=0, help="only the first N test questions (0: all)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per build or query process")
    for name, what in (
        ("full", "postings a query may read whole before it is bounded (0: exact BM25 always)"),
        ("depth", "postings read per frequent term, best impact first"),
        ("rescore", "candidates scored exactly"),
    ):
        parser.add_argument(f"--keyword-{name}", type=int, help=f"PostgreSQL bounded keyword search: {what}")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="build each store under DIR and keep it; a later run with the same DIR reuses it (no rebuild)",
    )
    parser.add_argument("--build-only", action="store_true", help="build (or reuse) the stores, measure nothing")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="print the results table (peak RSS included)")
    parser.add_argument("--out", default="", help="JSON results file (default bench/out/scale-DATE.json; '-': none)")
    parser.add_argument("--no-plot", action="store_true", help="do not write bench/plots/scale.png")
    parser.add_argument("--child", nargs=4, metavar=("WHAT", "KIND", "N", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--opts", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, kind, n, folder = args.child
        opts = json.loads(args.opts)
        fn = {"build": build, "tune": tune, "exact": exact, "query": query, "index": index}[what]
        print(json.dumps(fn(kind, int(n), Path(folder), opts.get("url", ""), opts)))
        return
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    wanted = args.stores.split(",")
    kinds = [k for k in ("embedded", "embedded-ann", "postgres") if k in wanted]
    if "postgres" in kinds and not (args.postgres_max and postgres_available()):
        kinds.remove("postgres")
        if args.postgres_max:
            notes.append("PostgreSQL: not measured (`docket.index.postgres` or `pgserver` not importable).")
    started_load = os.getloadavg()
    real_embeddings()  # cache once, before the children
    for kind in kinds:
        for n in (int(s) for s in args.sizes.split(",")):
            if kind == "postgres" and n > args.postgres_max:
                notes.append(f"PostgreSQL at {n:,} chunks: not measured (above --postgres-max {args.postgres_max:,}).")
                continue
            opts: dict[str, Any] = {
                "vectors": args.vectors,
                "words": words_for(n, args.words, args.words_above),
                "m": args.hnsw_m,
                "ef_construction": args.hnsw_ef_construction,
                "ef_search": None if args.ef_search == "auto" else int(args.ef_search),
                "recall_target": args.recall_target,
                "recall_margin": args.recall_margin,
                "maintenance_work_mem": args.maintenance_work_mem,
                "rounds": args.rounds,
                "max_queries": args.max_queries,
                "ann_min": args.ann_min,
                "ann_candidates": args.ann_candidates,
                "ann_ef": args.ann_ef,
                "keyword_full": args.keyword_full,
                "keyword_depth": args.keyword_depth,
                "keyword_rescore": args.keyword_rescore,
            }
            with contextlib.ExitStack() as stack:
                if args.keep:  # a store built once and kept for later runs (same size, vectors and words)
                    folder = "embedded" if kind == "embedded-ann" else kind  # the same SQLite store
                    tmp = str(Path(args.keep) / f"{folder}-{n}-{args.vectors}-{opts['words']}w")
                    Path(tmp).mkdir(parents=True, exist_ok=True)
                else:
                    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dk-scale-", dir="/tmp"))
                server = None
                if kind == "postgres":
                    server = start_postgres(Path(tmp) / "pg", args.shared_buffers, keep=bool(args.keep))
                    opts["url"], opts["pg_pid"] = server.get_uri(), server.get_pid()
                try:
                    t0 = time.perf_counter()
                    done = Path(tmp) / "built.json"
                    if done.is_file():
                        built = {**json.loads(done.read_text()), "reused": True}
                    else:
                        built = child("build", kind, n, tmp, opts, args.timeout)
                        if args.keep:
                            done.write_text(json.dumps(built))
                    print(f"[scale] {kind} {n}: built {built}", file=sys.stderr, flush=True)
                    if args.build_only:
                        continue
                    tuned: dict[str, Any] = {}
                    if kind == "postgres" and opts["ef_search"] is None:
                        tuned = child("tune", kind, n, tmp, opts, args.timeout)
                        opts["ef_search"] = tuned["ef_search"]
                        print(f"[scale] {kind} {n}: tuned {tuned}", file=sys.stderr, flush=True)
                    if kind == "embedded-ann":
                        tuned = child("index", kind, n, tmp, opts, args.timeout)
                        print(f"[scale] {kind} {n}: index {tuned}", file=sys.stderr, flush=True)
                        if args.ann_ef == 0:  # tuned on the training questions, as PostgreSQL's ef_search
                            tuned.update(child("tune", kind, n, tmp, opts, args.timeout))
                            opts["ann_ef"] = tuned["ef_search"]
                            print(f"[scale] {kind} {n}: tuned {tuned}", file=sys.stderr, flush=True)
                    child("exact", kind, n, tmp, opts, args.timeout)  # the exact hybrid reference
                    row = child("query", kind, n, tmp, opts, args.timeout)
                    rows.append({**row, **built, **tuned})
                    print(f"[scale] {kind} {n}: {time.perf_counter() - t0:.0f} s {row}", file=sys.stderr, flush=True)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    why = (str(exc).strip().splitlines() or [repr(exc)])[-1][:160]
                    notes.append(f"{kind} at {n:,} chunks: did not complete here ({why}).")
                finally:
                    if server is not None:
                        server.cleanup()
    if rows and not args.no_plot:
        plot(rows, HERE / "plots" / "scale.png")
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "data": "synthetic passages (real handbook sentences) and synthetic 384-d vectors (mixtures of real "
        "MiniLM embeddings); real SciFact/Cranfield questions",
        "rows": rows,
        "notes": notes,
        "load_start": started_load,
        "load_end": os.getloadavg(),
        "vectors_source": real_embeddings()["source"] if args.vectors == "mixture" else "uniform random",
    }
    if rows and args.out != "-":
        target = Path(args.out or HERE / "out" / f"scale-{time.strftime('%Y-%m-%d', time.gmtime())}.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=1))
        print(f"[scale] wrote {target}", file=sys.stderr)
    if args.markdown:
        print(markdown(rows))
    else:
        print(json.dumps(out, indent=1) if args.json else out)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "?",
    )
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0]}


def markdown(rows: list[dict[str, Any]]) -> str:
    """Latency (current code and, in brackets, the previous keyword path with the ratio), agreement
    with exact retrieval, and memory: one line per store and size."""

    def ms(now: dict[str, float], then: dict[str, float]) -> str:
        return (
            f"{now['p50']:.1f} / {now['p95']:.1f} ({then['p50']:.1f} / {then['p95']:.1f}; "
            f"p95 ×{now['p95'] / then['p95']:.2f})"
        )

    lines = [
        "| store | chunks (synthetic) | keyword p50 / p95 ms (previous; ratio) | hybrid p50 / p95 ms (previous; ratio)"
        " | vector p50 / p95 ms | vector recall@10 | keyword top 100 = exhaustive | hybrid recall@10 vs exact"
        " (previous) | query RSS / peak MB | server RSS / PSS MB | build peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        prev = r["previous"]
        hy = r.get("hybrid_recall@10_vs_exact")
        hybrid_recall = "–" if hy is None else f"{hy:.3f} ({r['previous_hybrid_recall@10_vs_exact']:.3f})"
        server = f"{r['server_rss_mb']:.0f} / {r['server_pss_mb']:.0f}" if "server_rss_mb" in r else "–"
        build_peak = f"{r['build_peak_rss_mb']:.0f}" if "build_peak_rss_mb" in r else "–"
        split = f" (anon {r['RssAnon_mb']:.0f} + file {r['RssFile_mb']:.0f})" if "RssAnon_mb" in r else ""
        lines.append(
            f"| {r['store']} | {r['chunks']:,} (~{r['words']} words) | {ms(r['keyword_ms'], prev['keyword'])} "
            f"| {ms(r['hybrid_ms'], prev['hybrid'])} | {r['vector_ms']['p50']:.1f} / {r['vector_ms']['p95']:.1f} "
            f"| {r['recall@10']:.3f} | {r['keyword_top100_identical']:.3f} | {hybrid_recall} "
            f"| {r['rss_mb']:.0f} / {r['peak_rss_mb']:.0f}{split} | {server} | {build_peak} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
