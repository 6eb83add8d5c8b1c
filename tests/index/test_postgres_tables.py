"""Spreadsheet tables kept in PostgreSQL: the embedded table store's behaviour, seen from every machine.

The tests of tests/index/test_tables.py that exercise the store itself run again here against a
real PostgreSQL (one database per test), through the same ``store`` and ``kb`` fixture names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.config import Settings, load_settings
from docket.index.tables import QueryError, TableStore
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.types import Access
from tests.index.test_tables import (  # noqa: F401  (collected again with this module's fixtures)
    doc,
    rows,
    test_a_file_that_cannot_be_a_table_leaves_a_note,
    test_a_spreadsheet_that_is_no_table_is_still_indexed,
    test_allowed_queries_report_the_tables_they_read,
    test_decimal_commas_are_read_as_decimals,
    test_long_queries_are_stopped_and_results_capped,
    test_northwind_nulls_and_codes,
    test_numbers_dates_and_codes_get_sensible_types,
    test_only_selects_on_allowed_tables_run,
    test_same_file_name_in_two_folders_gets_two_tables,
    test_spreadsheets_indexed_before_tables_existed_are_loaded_on_sync,
    test_superstore_loads_as_one_typed_table,
    test_tables_of_documents_gone_from_the_index_are_pruned,
    test_tables_that_may_not_be_read_look_missing,
    two,
)
from tests.postgres import PgServer


@pytest.fixture
def settings_pg(tmp_path: Path, pg_url: str) -> Settings:
    return load_settings(home=tmp_path / "kb", overrides={"store": {"url": pg_url}})


@pytest.fixture
def store(settings_pg: Settings) -> Iterator[TableStore]:
    s = TableStore.open(settings_pg)
    yield s
    s.close()


@pytest.fixture
def kb(settings_pg: Settings) -> Iterator[KnowledgeBase]:
    k = KnowledgeBase(settings_pg, embedder=FakeEmbedder())
    yield k
    k.close()


def test_the_settings_choose_the_backend(settings_pg: Settings, tmp_path: Path) -> None:
    from docket.index.postgres.tables import PostgresTableStore

    pg = TableStore.open(settings_pg)
    local = TableStore.open(load_settings(home=tmp_path / "local"))
    try:
        assert isinstance(pg, PostgresTableStore) and not isinstance(local, PostgresTableStore)
        assert local.path == tmp_path / "local" / "tables.db"
    finally:
        pg.close()
        local.close()
    assert not (tmp_path / "kb" / "tables.db").exists()  # nothing local with PostgreSQL


def test_tables_loaded_by_one_process_are_seen_and_queried_by_another(settings_pg: Settings) -> None:
    writer, reader = TableStore.open(settings_pg), TableStore.open(settings_pg)
    try:
        writer.load(doc("stock.csv"), b"item,qty\nbolt,10\nnut,5\n")
        assert [t.name for t in reader.tables()] == ["stock"]
        assert reader.query("SELECT SUM(qty) FROM stock", ["stock"]).rows == ((15,),)
        writer.load(doc("stock.csv", content="h2"), b"item,qty\nbolt,10\nnut,5\nwasher,7\n")
        assert reader.query("SELECT SUM(qty) FROM stock", ["stock"]).rows == ((22,),)  # a new version, not the cache
        writer.drop("stock.csv")
        with pytest.raises(QueryError, match="no such table: stock"):
            reader.query("SELECT SUM(qty) FROM stock", ["stock"])
    finally:
        writer.close()
        reader.close()


def test_only_the_tables_a_caller_may_read_are_copied_for_a_query(store: TableStore) -> None:
    import sqlite3

    store.load(doc("mine.csv"), b"item,qty\nx,1\n")
    store.load(doc("theirs.csv"), b"secret,value\ns,42\n")
    conn = store._reader("SELECT * FROM mine JOIN theirs ON 1", ["mine"])
    try:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["mine"]
    finally:
        conn.close()
    assert isinstance(conn, sqlite3.Connection)


def test_values_sqlite_cannot_hold_are_refused_when_loaded_not_when_queried(store: TableStore) -> None:
    notes = store.load_rows("ledger", "big", ["n"], [(2**70,)])  # as the embedded store refuses it
    assert len(notes) == 1 and notes[0].startswith("not loaded as a table")
    assert store.tables() == []


def test_database_source_rows_are_a_table_replaced_when_they_change(store: TableStore) -> None:
    assert store.load_rows("shop", "orders", ["Region", "Total"], [("West", 10), ("East", 2.5)]) == []
    assert rows(store, "SELECT region, total FROM orders ORDER BY rowid") == [("West", 10.0), ("East", 2.5)]
    assert store.load_rows("shop", "orders", ["Region", "Total"], [("West", 10), ("East", 2.5)]) == []  # unchanged
    store.load_rows("shop", "orders", ["Region", "Total"], [("North", 1)])
    assert rows(store, "SELECT region, total FROM orders") == [("North", 1)]
    assert store.prune(set(), sources=[]) == 1 and store.tables() == []


def test_permissions_decide_which_tables_a_query_may_read(kb: KnowledgeBase, tmp_path: Path) -> None:
    sales, hr = tmp_path / "sales", tmp_path / "hr"
    sales.mkdir()
    hr.mkdir()
    (sales / "deals.csv").write_text("region,amount\nWest,100\nEast,50\n")
    (hr / "salaries.csv").write_text("name,salary\nAnn,90000\n")
    kb.ingest([str(sales)], workspace="sales")
    kb.ingest([str(hr)], workspace="hr")
    visible = kb.tables.visible(kb.store.documents(), Access(workspaces=("sales",)))
    assert [t.name for t in visible] == ["deals"]
    with pytest.raises(QueryError, match=r"^no such table: salaries$"):
        kb.tables.query("SELECT SUM(salary) FROM salaries", [t.name for t in visible])


def test_a_user_who_may_not_create_the_schema_is_told_how(
    pg_server: PgServer, pg_database: str, tmp_path: Path
) -> None:
    from docket.errors import DatabaseError

    pg_server.sql("CREATE ROLE docket_s2_limited LOGIN; REVOKE CREATE ON DATABASE " + pg_database + " FROM PUBLIC")
    try:
        limited = pg_server.url(pg_database, user="docket_s2_limited")
        settings = load_settings(home=tmp_path / "kb", overrides={"store": {"url": limited}})
        with pytest.raises(DatabaseError, match="CREATE SCHEMA docket_tables AUTHORIZATION"):
            TableStore.open(settings)
        pg_server.sql("CREATE SCHEMA docket_tables AUTHORIZATION docket_s2_limited", pg_database)  # as its owner
        store = TableStore.open(settings)
        try:
            store.load(doc("t.csv"), b"a\n1\n")
            assert [t.name for t in store.tables()] == ["t"]
        finally:
            store.close()
    finally:
        pg_server.drop_database(pg_database)
        pg_server.sql("DROP ROLE docket_s2_limited")
