"""The SQL connector against real databases: a SQLite file, PostgreSQL (pgserver, tests/postgres.py) and
MariaDB (Debian's mariadb-server, tests/ingest/sources/mariadb.py)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import ConfigError, SourceError
from docket.ingest.sources.base import Listing
from docket.ingest.sources.sql import SqlConnector, check_select
from docket.ingest.sources.sync import add_remote_source
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.types import Access
from tests.ingest.sources.mariadb import PASSWORD, MariaDB, mariadb, mariadb_database  # noqa: F401

pytest.importorskip("sqlalchemy", reason="the sql extra: pip install -e '.[sql]'")

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT,
    balance NUMERIC(10, 2),
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO customers VALUES (1, 'Acme Bakery', 'gold', 120.50, '2026-01-01 10:00:00');
INSERT INTO customers VALUES (2, 'Birch Dental', 'silver', 0, '2026-01-02 10:00:00');
INSERT INTO customers VALUES (3, 'Cedar Cafe', NULL, 35.00, '2026-01-03 10:00:00');
"""
CHANGES = """
UPDATE customers SET plan = 'platinum', updated_at = '2026-02-01 09:00:00' WHERE id = 1;
DELETE FROM customers WHERE id = 2;
INSERT INTO customers VALUES (4, 'Dune Surf Shop', 'bronze', 9.99, '2026-02-02 09:00:00');
"""


def _drain(listing: Listing) -> dict[str, object]:
    return {item.key: item for item in listing.items}


def _known(items: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {key: item.version for key, item in items.items()}


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, Callable[[str], None]]]:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()

    def run(script: str) -> None:
        with sqlite3.connect(path) as c:
            c.executescript(script)
        c.close()

    yield f"sqlite:///{path}", run


@pytest.fixture
def postgres_db(pg_server, pg_database) -> Iterator[tuple[str, Callable[[str], None]]]:  # type: ignore[no-untyped-def]
    def run(script: str) -> None:
        for statement in filter(None, (s.strip() for s in script.split(";"))):
            pg_server.sql(statement, pg_database)

    run(SCHEMA)
    yield pg_server.url(pg_database), run


@pytest.fixture
def mariadb_db(
    mariadb: MariaDB,  # noqa: F811 - the fixture imported above
    mariadb_database: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, Callable[[str], None]]]:
    def run(script: str) -> None:
        mariadb.sql(script, mariadb_database)

    run(SCHEMA)
    # the password travels the way a user gives it: the whole URL in an environment variable
    url = mariadb.url(mariadb_database).replace("docket@", f"docket:{PASSWORD}@")
    monkeypatch.setenv("DOCKET_TEST_MARIADB_URL", url)
    yield "env:DOCKET_TEST_MARIADB_URL", run


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def database(request: pytest.FixtureRequest) -> tuple[str, Callable[[str], None]]:
    return request.getfixturevalue(f"{request.param}_db")  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- the connector on its own


def test_table_rows_become_documents_keyed_by_primary_key(database) -> None:
    url, _ = database
    listing = SqlConnector(url=url, table="customers").fetch({}, {})
    items = _drain(listing)

    assert listing.complete and not listing.failed
    assert sorted(items) == ["customers/1", "customers/2", "customers/3"]
    acme = items["customers/1"]
    assert acme.title == "customers 1" and acme.filetype == "txt"
    text = acme.data.decode()
    assert "name: Acme Bakery" in text and "balance: 120.50" in text and "updated_at: 2026-01-01" in text
    assert "plan: \n" in items["customers/3"].data.decode()
    assert acme.metadata == {"table": "customers", "row_key": "1"}


def test_updated_column_versions_and_incremental_resync(database) -> None:
    url, run = database
    connector = SqlConnector(url=url, table="customers", updated_column="updated_at")
    first = _drain(connector.fetch({}, {}))
    assert first["customers/1"].version.startswith("2026-01-01T10:00:00")
    assert first["customers/1"].mtime is not None

    run(CHANGES)
    second = connector.fetch(_known(first), {})
    changed = _drain(second)

    assert sorted(changed) == ["customers/1", "customers/4"]
    assert "plan: platinum" in changed["customers/1"].data.decode()
    assert second.unchanged == {"customers/3"} and second.complete  # customers/2 is gone: not listed


def test_row_hash_versions_without_updated_column(database) -> None:
    url, run = database
    connector = SqlConnector(url=url, table="customers")
    first = _drain(connector.fetch({}, {}))
    run("UPDATE customers SET balance = 0 WHERE id = 3")
    second = connector.fetch(_known(first), {})
    assert sorted(_drain(second)) == ["customers/3"] and second.unchanged == {"customers/1", "customers/2"}


def test_templates_render_each_row_in_a_sandbox(database) -> None:
    url, _ = database
    connector = SqlConnector(
        url=url,
        query="SELECT id, name, plan FROM customers WHERE id < 3 ORDER BY id",
        key="id",
        template="# {{ name }}\n\nPlan: {{ plan | upper }} ({{ row['id'] }} in {{ table }})",
        title="Customer {{ name }}",
    )
    items = _drain(connector.fetch({}, {}))
    assert sorted(items) == ["query/1", "query/2"]
    assert items["query/1"].title == "Customer Acme Bakery" and items["query/1"].filetype == "md"
    assert items["query/1"].data.decode() == "# Acme Bakery\n\nPlan: GOLD (1 in query)\n"


def test_row_whose_template_fails_is_reported_and_others_go_on(database) -> None:
    url, _ = database
    connector = SqlConnector(url=url, table="customers", template="{{ plan.upper() }} {{ name }}")
    listing = connector.fetch({}, {})
    items = _drain(listing)
    assert sorted(items) == ["customers/1", "customers/2"]
    assert "--template failed" in listing.failed["customers/3"]


def test_sandbox_refuses_python_internals(sqlite_db) -> None:
    url, _ = sqlite_db
    connector = SqlConnector(url=url, table="customers", template="{{ name.__class__.__mro__ }}")
    listing = connector.fetch({}, {})
    assert _drain(listing) == {} and len(listing.failed) == 3


def test_composite_key_and_duplicate_keys(sqlite_db) -> None:
    url, _ = sqlite_db
    listing = SqlConnector(url=url, query="SELECT plan, id FROM customers UNION ALL SELECT 'x', 1", key="id").fetch(
        {}, {}
    )
    items = _drain(listing)
    assert sorted(items) == ["query/1", "query/2", "query/3"]
    assert "same key" in listing.failed["query/1"]
    composite = _drain(SqlConnector(url=url, query="SELECT plan, id FROM customers", key="id, plan").fetch({}, {}))
    assert "query/1,gold" in composite


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM customers",
        "UPDATE customers SET plan = 'x'",
        "SELECT 1; DROP TABLE customers",
        "-- a comment\nDROP TABLE customers",
        "",
    ],
)
def test_anything_but_one_select_is_refused(query: str) -> None:
    with pytest.raises(ConfigError, match="--query"):
        SqlConnector(url="sqlite:///x.db", query=query, key="id")


def test_select_checks_keep_quoted_semicolons_and_comments() -> None:
    assert check_select("SELECT ';' AS x -- trailing\n;") == "SELECT ';' AS x"
    assert check_select("/* header */ WITH t AS (SELECT 1 AS id) SELECT * FROM t").startswith("WITH")


def test_queries_cannot_write_to_postgres(postgres_db) -> None:
    url, run = postgres_db
    connector = SqlConnector(
        url=url, query="WITH gone AS (DELETE FROM customers RETURNING id) SELECT id FROM gone", key="id"
    )
    with pytest.raises(SourceError, match="the query failed"):
        _drain(connector.fetch({}, {}))
    run("CREATE SEQUENCE counter")
    writes = SqlConnector(url=url, query="SELECT nextval('counter') AS id", key="id")
    with pytest.raises(SourceError, match="read-only transaction"):
        _drain(writes.fetch({}, {}))
    assert len(_drain(SqlConnector(url=url, table="customers").fetch({}, {}))) == 3


def test_sqlite_is_opened_read_only(sqlite_db) -> None:
    url, _ = sqlite_db
    connector = SqlConnector(url=url, query="WITH x AS (SELECT 1 AS id) SELECT id FROM x", key="id")
    assert list(_drain(connector.fetch({}, {}))) == ["query/1"]
    path = url.removeprefix("sqlite:///")
    with pytest.raises(SourceError, match="does not exist"):
        SqlConnector(url=url.replace("shop.db", "missing.db"), table="customers").fetch({}, {})
    assert Path(path).exists() and not Path(path.replace("shop.db", "missing.db")).exists()


def test_options_are_checked_when_the_source_is_added() -> None:
    with pytest.raises(ConfigError, match="exactly one of --table"):
        SqlConnector(url="sqlite:///x.db")
    with pytest.raises(ConfigError, match="--key"):
        SqlConnector(url="sqlite:///x.db", query="SELECT 1")
    with pytest.raises(ConfigError, match="holds a password"):
        SqlConnector(url="postgresql://bob:hunter2@db.example/shop", table="t")
    with pytest.raises(ConfigError, match="not supported"):
        SqlConnector(url="oracle://db/x", table="t")
    with pytest.raises(ConfigError, match="template line 1"):
        SqlConnector(url="sqlite:///x.db", table="t", template="{{ name ")
    with pytest.raises(ConfigError, match="not a table name"):
        SqlConnector(url="sqlite:///x.db", table="t; DROP TABLE x")


def test_missing_table_key_or_column_is_a_source_error(database) -> None:
    url, _ = database
    with pytest.raises(SourceError, match="no table 'nope'"):
        SqlConnector(url=url, table="nope").fetch({}, {})
    with pytest.raises(SourceError, match="no column modified"):
        SqlConnector(url=url, table="customers", updated_column="modified").fetch({}, {})
    with pytest.raises(SourceError, match="the query failed"):
        SqlConnector(url=url, query="SELECT * FROM nope", key="id").fetch({}, {})


def test_table_without_primary_key_needs_a_key(sqlite_db) -> None:
    url, run = sqlite_db
    run("CREATE TABLE notes (title TEXT, body TEXT); INSERT INTO notes VALUES ('a', 'b');")
    with pytest.raises(SourceError, match="no primary key; name the column"):
        SqlConnector(url=url, table="notes").fetch({}, {})
    assert list(_drain(SqlConnector(url=url, table="notes", key="title").fetch({}, {}))) == ["notes/a"]


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_server_is_a_source_error(scheme: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connector = SqlConnector(url=f"{scheme}://docket@127.0.0.1:{port}/shop", table="customers", timeout_s=5)
    with pytest.raises(SourceError, match="cannot connect") as err:
        connector.fetch({}, {})
    assert f"127.0.0.1:{port}" in str(err.value) and "refused" in str(err.value)


def test_password_from_environment_is_used_and_never_shown(pg_server, pg_database, monkeypatch) -> None:
    pg_server.sql("DROP ROLE IF EXISTS reader")
    pg_server.sql("CREATE ROLE reader LOGIN PASSWORD 'Rd-pass-1'")
    pg_server.sql("CREATE TABLE t (id int primary key, v text); GRANT SELECT ON t TO reader", pg_database)
    pg_server.sql("INSERT INTO t VALUES (1, 'one')", pg_database)
    url = pg_server.url(pg_database, user="reader").replace("reader:@", "reader@")
    monkeypatch.setenv("SHOP_DB_PW", "Rd-pass-1")
    assert list(_drain(SqlConnector(url=url, table="t", password_env="SHOP_DB_PW").fetch({}, {}))) == ["t/1"]
    monkeypatch.setenv("SHOP_DB_URL", url)
    assert list(_drain(SqlConnector(url="env:SHOP_DB_URL", table="t").fetch({}, {}))) == ["t/1"]
    monkeypatch.delenv("SHOP_DB_PW")
    with pytest.raises(SourceError, match="SHOP_DB_PW") as err:
        SqlConnector(url=url, table="t", password_env="SHOP_DB_PW").fetch({}, {})
    assert "Rd-pass-1" not in str(err.value)


def test_queries_cannot_write_to_mariadb(mariadb, mariadb_database, mariadb_db) -> None:  # noqa: F811
    url, run = mariadb_db
    run("CREATE SEQUENCE counter")
    for query in ("SELECT NEXTVAL(counter) AS id", "SELECT id FROM customers FOR UPDATE"):
        with pytest.raises(SourceError, match="READ ONLY transaction"):
            _drain(SqlConnector(url=url, query=query, key="id").fetch({}, {}))
    assert len(_drain(SqlConnector(url=url, table="customers").fetch({}, {}))) == 3
    # the user may write: it is the connector's read-only transaction that refused
    import pymysql

    conn = pymysql.connect(
        host="127.0.0.1", port=mariadb.port, user="docket", password=PASSWORD, database=mariadb_database
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT NEXTVAL(counter)")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_mariadb_password_from_environment_is_used_and_never_shown(mariadb, mariadb_database, monkeypatch) -> None:  # noqa: F811
    mariadb.sql("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'one')", mariadb_database)
    url = mariadb.url(mariadb_database)
    assert PASSWORD not in url
    monkeypatch.setenv("SHOP_DB_PW", PASSWORD)
    assert list(_drain(SqlConnector(url=url, table="t", password_env="SHOP_DB_PW").fetch({}, {}))) == ["t/1"]
    monkeypatch.setenv("SHOP_DB_PW", "Wrong-pass-2")
    with pytest.raises(SourceError, match=r"cannot connect.*Access denied") as refused:
        SqlConnector(url=url, table="t", password_env="SHOP_DB_PW").fetch({}, {})
    assert "Wrong-pass-2" not in str(refused.value) and PASSWORD not in str(refused.value)
    monkeypatch.setenv("SHOP_DB_URL", url.replace("docket@", "docket:Wrong-pass-2@"))
    with pytest.raises(SourceError) as masked:
        SqlConnector(url="env:SHOP_DB_URL", table="t").fetch({}, {})
    assert "Wrong-pass-2" not in str(masked.value) and "***" in str(masked.value)
    monkeypatch.delenv("SHOP_DB_PW")
    with pytest.raises(SourceError, match="SHOP_DB_PW"):
        SqlConnector(url=url, table="t", password_env="SHOP_DB_PW").fetch({}, {})


# ---------------------------------------------------------------------- through the sync engine


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        yield kb


def test_sync_follows_inserts_updates_and_deletes(database, kb) -> None:
    url, run = database
    add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers", "updated_column": "updated_at"})
    first = kb.sync(["crm"])
    assert (first.added, first.updated, first.deleted, first.failed) == (3, 0, 0, [])
    assert any(h.path == "customers/2" for h in kb.search("Birch Dental"))

    run(CHANGES)
    second = kb.sync(["crm"])
    assert (second.added, second.updated, second.deleted, second.unchanged) == (1, 1, 1, 1)
    assert sorted(d.path for d in kb.store.documents("crm")) == ["customers/1", "customers/3", "customers/4"]

    third = kb.sync(["crm"])
    assert (third.added, third.updated, third.deleted, third.unchanged) == (0, 0, 0, 3)


def test_failed_query_deletes_nothing(sqlite_db, kb) -> None:
    url, run = sqlite_db
    add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers"})
    assert kb.sync(["crm"]).added == 3
    run("DROP TABLE customers")
    report = kb.sync(["crm"])
    assert report.deleted == 0 and "no table 'customers'" in report.failed[0]["error"]
    assert len(list(kb.store.documents("crm"))) == 3


def test_null_updated_value_falls_back_to_the_row_hash(sqlite_db) -> None:
    url, run = sqlite_db
    run("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, updated_at TEXT)")
    run("INSERT INTO notes VALUES (1, 'a', NULL)")
    connector = SqlConnector(url=url, table="notes", updated_column="updated_at")
    first = _drain(connector.fetch({}, {}))
    run("UPDATE notes SET body = 'b' WHERE id = 1")
    assert list(_drain(connector.fetch(_known(first), {}))) == ["notes/1"]


# ---------------------------------------------------------------------- the rows as a SQL table


def _table_sum(kb: KnowledgeBase, sql: str) -> object:
    names = [t.name for t in kb.tables.tables()]
    return kb.tables.query(sql, names).rows[0][0]


def test_every_row_is_offered_as_a_table_with_plain_values(database) -> None:
    url, _ = database
    listing = SqlConnector(url=url, table="customers").fetch({"customers/3": "stale"}, {})
    _drain(listing)
    table = listing.table
    assert table is not None and table.name == "customers" and not table.overflow
    assert list(table.header) == ["id", "name", "plan", "balance", "updated_at"]
    rows = sorted(table.rows)
    assert len(rows) == 3 and rows[0][:4] == (1, "Acme Bakery", "gold", 120.5)
    assert isinstance(rows[1][3], int | float) and rows[2][2] is None
    assert str(rows[0][4]).startswith("2026-01-01")  # dates as ISO text
    query = SqlConnector(url=url, query="SELECT id, plan FROM customers", key="id").fetch({}, {})
    _drain(query)
    assert query.table is not None and query.table.name is None  # named after the source


def test_sync_loads_the_rows_as_a_table_and_keeps_it_in_step(database, kb) -> None:
    url, run = database
    add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers", "updated_column": "updated_at"})
    assert kb.sync(["crm"]).warnings == []
    [table] = kb.tables.tables()
    assert (table.name, table.source, table.row_count) == ("customers", "crm", 3)
    assert [(c.name, c.type) for c in table.columns][:4] == [
        ("id", "INTEGER"),
        ("name", "TEXT"),
        ("plan", "TEXT"),
        ("balance", "REAL"),
    ]
    assert _table_sum(kb, "SELECT SUM(balance) FROM customers") == pytest.approx(155.5)

    run(CHANGES)
    kb.sync(["crm"])
    [table] = kb.tables.tables()
    assert table.row_count == 3
    assert _table_sum(kb, "SELECT SUM(balance) FROM customers") == pytest.approx(165.49)
    assert _table_sum(kb, "SELECT plan FROM customers WHERE id = 1") == "platinum"

    run("DELETE FROM customers")
    kb.sync(["crm"])
    assert kb.tables.tables() == [] and list(kb.store.documents("crm")) == []


def test_a_failed_sync_keeps_the_table(sqlite_db, kb) -> None:
    url, run = sqlite_db
    add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers"})
    kb.sync(["crm"])
    run("DROP TABLE customers")
    assert kb.sync(["crm"]).failed
    assert [t.row_count for t in kb.tables.tables()] == [3]


def test_source_table_is_visible_only_to_readers_of_the_source(sqlite_db, kb) -> None:
    url, _ = sqlite_db
    settings = {"url": url, "table": "customers"}
    add_remote_source(kb.store, "crm", "sql", settings, workspace="sales", access=["group:finance"])
    kb.sync(["crm"])

    def visible(access: Access) -> list[str]:
        return [t.name for t in kb.tables.visible(kb.store.documents(), access)]

    assert visible(Access.owner()) == ["customers"]
    assert visible(Access(workspaces=("sales",), principals=("group:finance",))) == ["customers"]
    assert visible(Access(workspaces=("sales",), all_documents=True)) == ["customers"]
    assert visible(Access(workspaces=("sales",), principals=("user:eve@example.com",))) == []
    assert visible(Access(workspaces=("support",), principals=("group:finance",))) == []


def test_removed_source_loses_its_table(sqlite_db, kb) -> None:
    url, _ = sqlite_db
    add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers"})
    add_remote_source(kb.store, "vip", "sql", {"url": url, "query": "SELECT id, plan FROM customers", "key": "id"})
    kb.sync()
    assert sorted((t.name, t.source) for t in kb.tables.tables()) == [("customers", "crm"), ("vip", "vip")]

    kb.remove_source("crm")
    assert [t.name for t in kb.tables.visible(kb.store.documents())] == ["vip"]  # at once
    kb.sync(["vip"])
    assert [t.name for t in kb.tables.tables()] == ["vip"]  # and dropped by the next sync


def test_source_with_more_rows_than_the_limit_is_not_a_table(sqlite_db, tmp_path) -> None:
    url, _ = sqlite_db
    settings = load_settings(home=tmp_path / "capped", overrides={"ingest": {"table_max_rows": 2}})
    with KnowledgeBase(settings, embedder=FakeEmbedder()) as kb:
        add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers"})
        report = kb.sync(["crm"])
        assert report.added == 3 and kb.tables.tables() == []
        [warning] = report.warnings
        assert warning["path"] == "crm" and "3 rows, more than ingest.table_max_rows (2)" in warning["warning"]


def test_ask_totals_a_source_table_only_for_readers(sqlite_db, kb) -> None:
    from docket.models.chat import FakeChatModel

    url, _ = sqlite_db
    add_remote_source(kb.store, "crm", "sql", {"url": url, "table": "customers"}, workspace="sales")
    kb.sync(["crm"])
    sql = "```sql\nSELECT SUM(balance) AS total_balance FROM customers\n```"

    answer = kb.ask("What is the total balance of all customers?", model=FakeChatModel(replies=[sql]))
    assert answer.method == "sql" and answer.table is not None
    assert answer.table.rows == ((155.5,),) and answer.citations[0].path == "customers"

    outsider = Access(workspaces=("support",))
    model = FakeChatModel(replies=[sql])
    other = kb.ask("What is the total balance of all customers?", model=model, access=outsider)
    assert other.method != "sql" and not any("CREATE TABLE" in p.render() for p in model.prompts)
