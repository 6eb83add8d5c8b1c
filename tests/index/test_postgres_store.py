from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("psycopg", reason="the PostgreSQL store needs psycopg: pip install -e '.[test]'")

from docket.config import load_settings, redact_url
from docket.errors import DatabaseError, MissingExtraError
from docket.index import STORES
from docket.index.keywords import analyze_query
from docket.index.postgres import PostgresStore
from docket.index.postgres.sql import KeywordPlan, bm25_sql, glob_regex, keyword_plan, where_sql
from docket.index.sqlite import SqliteStore
from docket.ledger import SourceConfig, Store
from docket.models.embedders import FakeEmbedder
from docket.records.postgres import explain_connect_error
from docket.testing import DIM, StoreContract, make_doc, put
from docket.types import Access, Filters
from tests.conftest import DEMO
from tests.postgres import PgServer

CRANFIELD = next(
    (
        root / "classic-ir" / "cranfield"
        for root in (Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data"))
        if (root / "classic-ir" / "cranfield" / "queries.jsonl").is_file()
    ),
    None,
)


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[PostgresStore]:
        s = PostgresStore(pg_url)
        yield s
        s.close()


def _ingest_demo(store: Store, embedder: FakeEmbedder) -> None:
    """The demo handbook's chunks, written the way ingestion writes them."""
    from docket.ingest.chunking import chunk_document
    from docket.ingest.parsers import parse_bytes

    store.bind_embedder(embedder.name, embedder.dim)
    for i, path in enumerate(sorted((DEMO / "Benefits and Perks").glob("*.md"))):
        parsed = parse_bytes(path.read_bytes(), path.name)
        chunks = chunk_document(parsed, title=parsed.title or path.stem)
        embedded = embedder.embed_passages([c.indexed_text for c in chunks])
        vectors = dict(zip([c.hash for c in chunks], embedded, strict=True))
        doc = make_doc(f"d{i}", path.name, title=parsed.title or path.stem, workspace="hr" if i % 2 else "default")
        store.put_document(doc, chunks, vectors, parsed.text)


def test_keyword_and_vector_rankings_match_the_embedded_store(pg_url: str, tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    pg, lite = PostgresStore(pg_url), SqliteStore(tmp_path / "docket.db")
    try:
        _ingest_demo(pg, embedder)
        _ingest_demo(lite, embedder)
        hr = Access(workspaces=("hr",))
        for query in ["parental leave weeks", "dental insurance", "sabbatical passion project", "gym", "the"]:
            for access in (Access.owner(), hr):
                ours = pg.hits(pg.keyword_search(query, 10, Filters(), access), access)
                theirs = lite.hits(lite.keyword_search(query, 10, Filters(), access), access)
                assert [(h.path, h.text) for h in ours] == [(h.path, h.text) for h in theirs], query
                assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], rel=1e-5)
                vector = embedder.embed_queries([query])[0]
                ours = pg.hits(pg.vector_search(vector, 5, Filters(), access), access)
                theirs = lite.hits(lite.vector_search(vector, 5, Filters(), access), access)
                assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-5)
    finally:
        pg.close()
        lite.close()


def test_two_processes_writing_the_same_document_leave_one_copy(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(2)]
    try:
        for s in stores:
            s.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt")

        def write(store: PostgresStore) -> None:
            for _ in range(10):
                put(store, doc, ["one passage", "another passage"], [0, 1])

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(write, stores))
        assert stores[0].stats()["documents"] == 1 and stores[0].stats()["chunks"] == 2
        assert len(stores[1].keyword_search("passage", 10, Filters(), Access.owner())) == 2
    finally:
        for s in stores:
            s.close()


def test_stores_opening_an_empty_database_at_the_same_moment_all_start(pg_server: PgServer) -> None:
    # several servers or workers started together on a new database: pgvector and the tables are
    # created once, under the schema lock, and every process opens the store
    import threading

    name = pg_server.create_database()
    try:
        url = pg_server.url(name)
        start = threading.Barrier(4)

        def open_one(_: int) -> int:
            start.wait()
            store = PostgresStore(url)
            try:
                return int(store.stats()["documents"])
            finally:
                store.close()

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(open_one, range(4))) == [0, 0, 0, 0]
        assert pg_server.sql("SELECT COUNT(*) FROM pg_extension WHERE extname = 'vector'", name) == [(1,)]
    finally:
        pg_server.drop_database(name)


def test_the_hnsw_index_follows_the_settings_and_the_embedder(pg_server: PgServer, pg_database: str) -> None:
    store = PostgresStore(pg_server.url(pg_database), hnsw_m=8, hnsw_ef_construction=32)
    try:
        assert store.health()["hnsw_index"] is None  # no dimension yet, so no index
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["alpha"], [0])
        index = pg_server.sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_vector'", pg_database)
        assert "hnsw" in index[0][0] and "vector_cosine_ops" in index[0][0] and "m='8'" in index[0][0]
        assert store.health()["hnsw_index"]["valid"] is True

        def wider(pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
            return {h: np.ones(DIM * 2, dtype=np.float32) / np.sqrt(DIM * 2) for h, _ in pairs}

        store.swap_embedder("wide", DIM * 2, None, wider)
        assert store.embedder_info() == ("wide", DIM * 2)
        assert store.vector_search(np.ones(DIM * 2) / np.sqrt(DIM * 2), 1, Filters(), Access.owner())[0][1] > 0.99
        assert store.health()["hnsw_index"]["valid"] is True
        column = pg_server.sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'chunks'::regclass AND attname = 'vector'",
            pg_database,
        )
        assert column[0][0] == f"vector({DIM * 2})"
    finally:
        store.close()


def test_a_newer_schema_is_refused_and_an_older_one_asks_for_an_upgrade(
    pg_url: str, pg_server: PgServer, pg_database: str
) -> None:
    PostgresStore(pg_url).close()
    pg_server.sql("UPDATE meta SET value = '7' WHERE key = 'schema_version'", pg_database)
    with pytest.raises(DatabaseError, match="newer than this Docket supports"):
        PostgresStore(pg_url)


def test_the_upgrade_to_term_statistics_counts_the_postings_already_there(
    pg_url: str, pg_server: PgServer, pg_database: str
) -> None:
    store = PostgresStore(pg_url)
    store.bind_embedder("m", DIM)
    put(store, make_doc("d1", "a.txt"), ["one two two three", "two four"], [0, 1])
    store.close()
    pg_server.sql(  # the database as schema version 4 left it
        "DROP TABLE terms; DROP FUNCTION docket_count_inserted_postings, docket_count_deleted_postings CASCADE; "
        "UPDATE meta SET value = '4' WHERE key = 'schema_version'",
        pg_database,
    )
    with pytest.raises(DatabaseError, match="docket db upgrade"):
        PostgresStore(pg_url)
    store = PostgresStore(pg_url, upgrade=True)
    try:
        kept = pg_server.sql("SELECT term, df, max_tf FROM terms ORDER BY term", pg_database)
        counted = pg_server.sql("SELECT term, COUNT(*), MAX(tf) FROM postings GROUP BY term ORDER BY term", pg_database)
        assert kept == counted and ("two", 2, 2) in kept and ("four", 1, 1) in kept
        assert [c for c, _ in store.keyword_search("two four", 5, Filters(), Access.owner())][:1] != []
    finally:
        store.close()


def test_connection_errors_say_what_to_fix() -> None:
    url = "postgresql://docket:hunter2@db/docket"
    refused = explain_connect_error(Exception('FATAL:  password authentication failed for user "docket"'), url)
    assert "wrong user name or password" in str(refused)
    gone = explain_connect_error(Exception(f"connection refused: {url}\nIs the server running?"), url)
    assert "not reachable" in str(gone) and "\n" not in str(gone) and "hunter2" not in str(gone)


def test_globs_become_anchored_regular_expressions() -> None:
    assert glob_regex("policies/*.md") == r"^policies/.*\.md$"
    assert glob_regex("[^ab]?") == "^[^ab].$"
    assert glob_regex("a[b") == r"^a\[b$"


def test_the_database_password_is_never_printed(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://docket:hunter2@localhost:5432/docket"
    assert redact_url(url) == "postgresql://docket:****@localhost:5432/docket"
    settings = load_settings(environ={"DOCKET_DATABASE_URL": url, "DOCKET_HOME": "/tmp/x"})
    assert settings.store.url == url
    assert "hunter2" not in json.dumps(settings.redacted())


def test_a_missing_postgres_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "docket.index.postgres")
    monkeypatch.delitem(sys.modules, "docket.index.postgres.store")
    with pytest.raises(MissingExtraError, match=r"pip install 'docket\[postgres\]'"):
        STORES.create("postgres", url="postgresql://docket@localhost/docket")


def test_corpus_statistics_follow_every_kind_of_write(pg_server: PgServer, pg_database: str) -> None:
    store = PostgresStore(pg_server.url(pg_database))
    try:
        store.bind_embedder("m", DIM)
        store.ledger.add_source("src", SourceConfig())
        put(store, make_doc("d1", "a.txt"), ["one two three", "four five"], [0, 1])
        put(store, make_doc("d2", "b.txt"), ["six seven"], [2])
        put(store, make_doc("d1", "a.txt"), ["replaced text"], [3])  # replace
        store.delete_document("d2")
        put(store, make_doc("d3", "c.txt"), ["eight nine ten eleven"], [4])
        kept = pg_server.sql("SELECT chunks, total_length FROM corpus", pg_database)
        actual = pg_server.sql("SELECT COUNT(*), COALESCE(SUM(length), 0) FROM chunks", pg_database)
        assert kept == actual and kept[0][0] == 2
        df = "SELECT term, df FROM terms WHERE df > 0 ORDER BY term"
        assert pg_server.sql(df, pg_database) == pg_server.sql(
            "SELECT term, COUNT(*) FROM postings GROUP BY term ORDER BY term", pg_database
        )
        wider = pg_server.sql(
            "SELECT COUNT(*) FROM postings p JOIN terms t USING (term) "
            "WHERE p.tf > t.max_tf OR p.length < t.min_length",
            pg_database,
        )
        assert wider == [(0,)]  # the bounds hold for every posting
        for doc in list(store.documents("src")):  # what removing the source does
            store.delete_document(doc.id)
        assert pg_server.sql("SELECT chunks, total_length FROM corpus", pg_database) == [(0, 0)]
        assert pg_server.sql(df, pg_database) == []
    finally:
        store.close()


def test_the_store_pages_its_documents_in_one_query() -> None:
    assert callable(getattr(PostgresStore, "document_page", None))  # not the fallback that lists every document


@pytest.mark.skipif(CRANFIELD is None, reason="the Cranfield collection is not in ../shared/data")
def test_pruned_keyword_search_equals_the_exhaustive_sql_on_cranfield(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every Cranfield question, as the owner and as a reader of one workspace, against the one-statement
    BM25 over every posting of the query's terms (a small budget, so the pruned path is tried)."""
    assert CRANFIELD is not None
    store = PostgresStore(pg_url)
    finished: list[int] = []
    finish = KeywordPlan.finish
    monkeypatch.setattr(KeywordPlan, "finish", lambda self, *a: finished.append(1) or finish(self, *a))
    monkeypatch.setattr(store, "KEYWORD_BUDGET", 150)
    try:
        store.bind_embedder("m", DIM)
        for i, line in enumerate((CRANFIELD / "corpus.jsonl").read_text().splitlines()):
            d = json.loads(line)
            doc = make_doc(f"c{d['_id']}", f"{d['_id']}.txt", workspace="a" if i % 3 else "b")
            put(store, doc, [f"{d['title']}\n{d['text']}"], [i % DIM])
        questions = [json.loads(x)["text"] for x in (CRANFIELD / "queries.jsonl").read_text().splitlines()]
        for question in questions:
            terms = analyze_query(question)
            for access, k in ((Access.owner(), 10), (Access(workspaces=("a",)), 10), (Access.owner(), 100)):
                where, params = where_sql(Filters(), access)
                with store._tx() as conn:
                    rows = conn.execute(bm25_sql(where), [terms, *params, k]).fetchall()
                exhaustive = [(int(c), float(s)) for c, s in rows if s is not None and s > 0]
                got = store.keyword_search(question, k, Filters(), access)
                assert [s for _, s in got] == pytest.approx([s for _, s in exhaustive], rel=1e-9), question
                # the same chunks, but for the order of ties (the SQL sums in no fixed order)
                assert {c for c, s in got if s > got[-1][1] * (1 + 1e-9)} <= {c for c, _ in exhaustive}
        assert len(finished) >= 5  # some answers came from the pruned path
    finally:
        store.close()


def test_the_keyword_plan_reads_the_rarest_terms_first_within_its_budget() -> None:
    stats = [(100, 1000, "common", 60, 1, 5), (100, 1000, "rare", 2, 3, 5), (100, 1000, "mid", 20, 2, 5)]
    plan = keyword_plan(stats)
    assert plan.order == ["rare", "mid", "common"]
    assert [plan.prefix(b) for b in (1, 2, 21, 22, 81, 82)] == [0, 1, 1, 2, 2, 3]
    assert plan.rest[0] > plan.rest[1] > plan.rest[2] > plan.rest[3] == 0
    assert plan.margin(2) >= plan.weight("common", 1, 5)  # the bound covers every posting of the term
    finished = plan.finish(1, 2, [(7, 3.0), (8, 2.5)], [("mid", 8, 1, 10), ("common", 8, 1, 10)])
    boosted = 2.5 + plan.weight("mid", 1, 10) + plan.weight("common", 1, 10)
    assert finished == [(7, 3.0 / plan.norm), (8, boosted / plan.norm)] or finished == [
        (8, boosted / plan.norm),
        (7, 3.0 / plan.norm),
    ]
    assert [c for c, _ in finished] == ([8, 7] if boosted > 3.0 else [7, 8])


def _ingest_cranfield(store: PostgresStore) -> dict[int, tuple[str, tuple[str, ...], str]]:
    """Every Cranfield abstract as a one-chunk document: a third in workspace ``b``, a fifth readable
    only by ``alice``, every seventh a ``.md``; returns chunk id -> (workspace, access, path)."""
    assert CRANFIELD is not None
    store.bind_embedder("m", DIM)
    for i, line in enumerate((CRANFIELD / "corpus.jsonl").read_text().splitlines()):
        d = json.loads(line)
        doc = make_doc(
            f"c{d['_id']}",
            f"{d['_id']}.{'md' if i % 7 == 0 else 'txt'}",
            workspace="a" if i % 3 else "b",
            access=("alice",) if i % 5 == 0 else (),
        )
        put(store, doc, [f"{d['title']}\n{d['text']}"], [i % DIM])
    with store._tx() as conn:
        rows = conn.execute(
            "SELECT c.id, d.workspace, d.access, d.path FROM chunks c JOIN documents d ON d.id = c.doc_id"
        ).fetchall()
    return {int(cid): (ws, tuple(acl), path) for cid, ws, acl, path in rows}


@pytest.mark.skipif(CRANFIELD is None, reason="the Cranfield collection is not in ../shared/data")
def test_bounded_keyword_search_finds_the_exact_bm25_top_10_on_cranfield(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounded path (forced by small limits on this small set) against the one-statement BM25 over
    every posting, for every Cranfield question, as the owner, as a reader of one workspace, as a
    principal, and with a path filter: its scores are the exact ones, its top 10 holds nearly all of
    the exact top 10, and it returns only chunks the caller may read and the filter allows."""
    import docket.index.postgres.store as module

    store = PostgresStore(pg_url)
    bounded: list[int] = []
    build = module.bounded_sql
    monkeypatch.setattr(module, "bounded_sql", lambda *a: bounded.append(1) or build(*a))
    monkeypatch.setattr(store, "KEYWORD_FULL", 300)
    monkeypatch.setattr(store, "KEYWORD_DEPTH", 40)
    monkeypatch.setattr(store, "KEYWORD_RESCORE", 60)
    try:
        chunks = _ingest_cranfield(store)
        questions = [json.loads(x)["text"] for x in (CRANFIELD / "queries.jsonl").read_text().splitlines()]
        cases = [
            (Filters(), Access.owner(), lambda ws, acl, path: True),
            (Filters(), Access(workspaces=("a",)), lambda ws, acl, path: ws == "a" and not acl),
            (Filters(), Access(workspaces=("a", "b"), principals=("alice",)), lambda ws, acl, path: True),
            (
                Filters(path_glob="*.md"),
                Access(workspaces=("b",)),
                lambda ws, acl, path: ws == "b" and not acl and path.endswith(".md"),
            ),
        ]
        found = wanted = 0
        for question in questions:
            terms = analyze_query(question)
            for filters, access, allowed in cases:
                where, params = where_sql(filters, access)
                with store._tx() as conn:
                    rows = conn.execute(bm25_sql(where), [terms, *params, 10_000]).fetchall()
                exact = {int(c): float(s) for c, s in rows if s is not None and s > 0}
                got = store.keyword_search(question, 10, filters, access)
                assert all(allowed(*chunks[c]) for c, _ in got), question
                assert all(s == pytest.approx(exact[c], rel=1e-9) for c, s in got), question
                top = sorted(exact.values(), reverse=True)[:10]
                if top:
                    found += sum(1 for _, s in got if s >= top[-1] * (1 - 1e-9))
                    wanted += len(top)
        assert len(bounded) > len(questions)  # most answers came from the bounded path
        assert found / wanted >= 0.9, found / wanted
    finally:
        store.close()


def test_the_impact_index_serves_the_bounded_query(pg_url: str) -> None:
    """Migration 6 makes ``postings_impact`` with the expression the store orders by, and records its
    reference length; the bounded statement reads a term's postings from it, best impact first."""
    from docket.index.postgres import schema

    store = PostgresStore(pg_url)
    try:
        store.bind_embedder("m", DIM)
        for i in range(30):
            words = " ".join(["wing"] * (1 + i % 3) + ["flow"] * (i % 5) + ["filler"] * (i % 11))
            put(store, make_doc(f"d{i}", f"{i}.txt"), [words], [i % DIM])
        with store._tx() as conn:
            length = store._impact_length(conn)
            assert length == 100.0  # an empty database at the migration: the default reference length
            conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            conn.execute("SET LOCAL enable_sort = off")
            impact = schema.impact_sql(length, "p")
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    f"EXPLAIN SELECT p.chunk_id FROM postings p WHERE p.term = 'wing' ORDER BY {impact} DESC LIMIT 5"
                ).fetchall()
            )
            assert "postings_impact" in plan and "Sort" not in plan, plan
        store.KEYWORD_FULL, store.KEYWORD_DEPTH, store.KEYWORD_RESCORE = 5, 5, 5
        bounded = store.keyword_search("wing flow", 5, Filters(), Access.owner())
        store.KEYWORD_FULL = 0
        exact = store.keyword_search("wing flow", 5, Filters(), Access.owner())
        assert [s for _, s in bounded] == pytest.approx([s for _, s in exact], rel=1e-9)
    finally:
        store.close()


def test_hybrid_search_queries_both_retrievers_at_once_and_ranks_as_one_after_the_other(pg_url: str) -> None:
    """With ``parallel_retrieval`` the keyword statement runs on another pooled connection while the
    vector one runs; the hits, scores and permissions are those of the sequential search."""
    import threading

    from docket.index.search import search

    embedder = FakeEmbedder()
    store = PostgresStore(pg_url)
    threads: list[str] = []
    keyword = store.keyword_search

    def recorded(*args: object) -> list[tuple[int, float]]:
        threads.append(threading.current_thread().name)
        return keyword(*args)  # type: ignore[arg-type]

    try:
        _ingest_demo(store, embedder)
        store.keyword_search = recorded  # type: ignore[method-assign]
        for query in ["parental leave weeks", "dental insurance", "gym"]:
            for access in (Access.owner(), Access(workspaces=("hr",))):
                store.parallel_retrieval = True
                together = search(store, embedder, query, k=5, access=access)
                store.parallel_retrieval = False
                apart = search(store, embedder, query, k=5, access=access)
                assert [(h.chunk_id, h.score, h.scores) for h in together] == [
                    (h.chunk_id, h.score, h.scores) for h in apart
                ]
        assert threads[0].startswith("docket-keyword") and threads[1] == threading.current_thread().name
    finally:
        store.close()
