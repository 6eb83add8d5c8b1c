"""Spreadsheets loaded as SQL tables: names, types, re-sync, deletion, failures, and the query sandbox."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.index.tables import QueryError, TableStore, identifier, visible_to
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.types import Access, Document, Filters


def doc(name: str, filetype: str = "csv", *, id_: str | None = None, content: str = "h", **kw: object) -> Document:
    return Document(
        id=id_ or name,
        source="s",
        path=name,
        title=name,
        filetype=filetype,
        content_hash=content,
        size=1,
        mtime=0.0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TableStore]:
    s = TableStore(tmp_path / "tables.db")
    yield s
    s.close()


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    k = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder())
    yield k
    k.close()


def rows(store: TableStore, sql: str) -> list[tuple]:
    return list(store.query(sql, [t.name for t in store.tables()], max_rows=10_000).rows)


# ---------------------------------------------------------------------- names and types


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Order Date", "order_date"),
        ("categoryID", "category_id"),
        ("Sub-Category", "sub_category"),
        ("unitsInStock", "units_in_stock"),
        ("2019", "n2019"),
        ("Order", "order_"),
        ("Größe (cm)", "größe_cm"),
        ("  ", "column_3"),
    ],
)
def test_headers_become_sql_identifiers(header: str, name: str) -> None:
    assert identifier(header, "column_3") == name


def test_numbers_dates_and_codes_get_sensible_types(store: TableStore) -> None:
    data = (
        "Code,Amount,Price,Share,Loss,Day,Shipped,Note\n"
        '00123,"1,234",$5.50,12%,(1.5),11/8/2018,2018-11-08 00:00:00.000,NULL\n'
        '00456,"12,000",€1000,7.5%,2,25/12/2018,2019-01-02 00:00:00.000,ok\n'
        "00789,3,£0.25,100%,-3,1/2/2019,NULL,N/A\n"
    )
    assert store.load(doc("mixed.csv"), data.encode()) == []
    (table,) = store.tables()
    types = {c.name: c.type for c in table.columns}
    assert types == {
        "code": "TEXT",  # leading zeros: an identifier, not a quantity
        "amount": "INTEGER",
        "price": "REAL",
        "share": "REAL",
        "loss": "REAL",
        "day": "TEXT",
        "shipped": "TEXT",
        "note": "TEXT",
    }
    got = rows(store, "SELECT code, amount, price, share, loss, day, shipped, note FROM mixed ORDER BY rowid")
    assert got == [
        ("00123", 1234, 5.5, 0.12, -1.5, "2018-08-11", "2018-11-08", None),
        ("00456", 12000, 1000.0, 0.075, 2.0, "2018-12-25", "2019-01-02", "ok"),
        ("00789", 3, 0.25, 1.0, -3.0, "2019-02-01", None, None),
    ]  # "25/12/2018" shows the column is day-first
    notes = {c.name: c.note for c in table.columns}
    assert notes["share"].startswith("percentages") and notes["day"] == "dates as YYYY-MM-DD"
    assert rows(store, "SELECT rowid FROM mixed ORDER BY rowid") == [(2,), (3,), (4,)]  # file row numbers


def test_decimal_commas_are_read_as_decimals(store: TableStore) -> None:
    data = "Artikel;Preis;Menge\nA;1.234,50;2\nB;12,25;3\nC;0,5;1\n"
    store.load(doc("preise.csv"), data.encode())
    assert rows(store, "SELECT artikel, preis FROM preise ORDER BY rowid") == [("A", 1234.5), ("B", 12.25), ("C", 0.5)]


def test_superstore_loads_as_one_typed_table(store: TableStore, shared_data: Path) -> None:
    path = shared_data / "sample-superstore" / "Sample - Superstore.csv"
    assert store.load(doc(path.name), path.read_bytes()) == []
    (table,) = store.tables()
    assert table.name == "sample_superstore" and table.row_count == 9994
    assert (table.row_start, table.row_end, table.header_row) == (2, 9995, 1)
    types = {c.name: c.type for c in table.columns}
    assert types["sales"] == "REAL" and types["quantity"] == "INTEGER" and types["order_date"] == "TEXT"
    assert {c.name: c.header for c in table.columns}["sub_category"] == "Sub-Category"
    assert (table.distinct_values or {})["region"] == ["West", "East", "Central", "South"]
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = next(csv.DictReader(f))
    assert first["Order Date"] == "11/8/2018"
    assert rows(store, "SELECT order_date FROM sample_superstore WHERE rowid = 2") == [("2018-11-08",)]


def test_northwind_nulls_and_codes(store: TableStore, shared_data: Path) -> None:
    folder = shared_data / "northwind-csv" / "examples" / "northwind" / "data" / "csv"
    for name in ("orders.csv", "territories.csv"):
        store.load(doc(name), (folder / name).read_bytes())
    assert {t.name for t in store.tables()} == {"orders", "territories"}
    assert rows(store, "SELECT territory_id FROM territories WHERE rowid = 2") == [("01581",)]
    with (folder / "orders.csv").open(encoding="utf-8", newline="") as f:
        unshipped = sum(1 for r in csv.DictReader(f) if r["shippedDate"] == "NULL")
    assert rows(store, "SELECT COUNT(*) FROM orders WHERE shipped_date IS NULL") == [(unshipped,)]


def test_every_sheet_of_a_workbook_is_a_table(store: TableStore, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Q1 Sales"
    ws.append(["Quarterly report"])  # a title above the header
    ws.append([])
    ws.append(["Rep", "Amount"])
    ws.append(["Ann", 100])
    ws.append(["Bob", 250.5])
    other = book.create_sheet("Staff")
    other.append(["Name", "Start"])
    import datetime as dt

    other.append(["Ann", dt.datetime(2020, 3, 1)])
    book.save(tmp_path / "report.xlsx")
    store.load(doc("report.xlsx", "xlsx"), (tmp_path / "report.xlsx").read_bytes())
    tables = {t.name: t for t in store.tables()}
    assert set(tables) == {"report_q1_sales", "report_staff"}
    assert tables["report_q1_sales"].sheet == "Q1 Sales" and tables["report_q1_sales"].row_start == 4
    assert rows(store, "SELECT SUM(amount) FROM report_q1_sales") == [(350.5,)]
    assert rows(store, "SELECT start FROM report_staff") == [("2020-03-01",)]


def test_same_file_name_in_two_folders_gets_two_tables(store: TableStore) -> None:
    store.load(doc("a/prices.csv", id_="1"), b"item,price\nx,1\n")
    store.load(doc("b/prices.csv", id_="2"), b"item,price\ny,2\n")
    assert {t.name: t.path for t in store.tables()} == {"prices": "a/prices.csv", "prices_2": "b/prices.csv"}
    store.load(doc("a/prices.csv", id_="1", content="h2"), b"item,price\nx,5\n")  # reloading keeps its name
    assert rows(store, "SELECT price FROM prices") == [(5,)]


def test_a_file_that_cannot_be_a_table_leaves_a_note(store: TableStore) -> None:
    store.load(doc("ok.csv"), b"a,b\n1,2\n")
    notes = store.load(doc("ok.csv", content="h2"), b"just a header,and nothing else\n")
    assert notes and notes[0].startswith("not loaded as a table")
    assert store.tables() == [] and store.note("ok.csv") == notes[0]  # the old version's table is gone


def test_replacing_a_documents_tables_is_one_transaction(store: TableStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.load(doc("t.csv"), b"a\n1\n")

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # as if the process died after the new table was written

    monkeypatch.setattr(store, "_record", crash)
    with pytest.raises(KeyboardInterrupt):
        store.load(doc("t.csv", content="h2"), b"a\n2\n")
    monkeypatch.undo()
    assert rows(store, "SELECT a FROM t") == [(1,)]
    assert store.missing(doc("t.csv", content="h2")) and not store.missing(doc("t.csv"))


# ---------------------------------------------------------------------- the query sandbox


@pytest.fixture
def two(store: TableStore) -> TableStore:
    store.load(doc("mine.csv"), b"item,qty\nx,1\ny,2\n")
    store.load(doc("theirs.csv"), b"secret,value\ns,42\n")
    return store


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE mine",
        "INSERT INTO mine VALUES ('z', 3)",
        "DELETE FROM mine",
        "UPDATE mine SET qty = 0",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA table_info(mine)",
        "CREATE TABLE z (a)",
        "SELECT * FROM mine; DROP TABLE mine",
        "SELECT name FROM sqlite_master",
        "SELECT * FROM _docket_tables",
        "SELECT * FROM theirs",
        "SELECT COUNT(*) FROM theirs",
        "SELECT m.item FROM mine m JOIN theirs t ON 1",
        "WITH x AS (SELECT value FROM theirs) SELECT * FROM x",
        "SELECT load_extension('evil')",
    ],
)
def test_only_selects_on_allowed_tables_run(two: TableStore, sql: str) -> None:
    with pytest.raises(QueryError):
        two.query(sql, ["mine"])
    assert rows(two, "SELECT COUNT(*) FROM mine") == [(2,)]  # nothing changed


def test_tables_that_may_not_be_read_look_missing(two: TableStore) -> None:
    for sql in ("SELECT * FROM theirs", "SELECT COUNT(*) FROM theirs", "SELECT * FROM mine JOIN theirs ON 1"):
        with pytest.raises(QueryError, match=r"^no such table: theirs$"):
            two.query(sql, ["mine"])
    with pytest.raises(QueryError, match=r"^no such table: nowhere$"):
        two.query("SELECT * FROM nowhere", ["mine"])


def test_allowed_queries_report_the_tables_they_read(two: TableStore) -> None:
    result = two.query(
        "WITH t AS (SELECT item, qty FROM mine) SELECT item, SUM(qty) AS n, median(qty) FROM t GROUP BY item",
        ["mine"],
    )
    assert result.tables == ("mine",) and result.columns == ("item", "n", "median(qty)")
    assert result.rows == (("x", 1, 1.0), ("y", 2, 2.0))


def test_long_queries_are_stopped_and_results_capped(two: TableStore) -> None:
    forever = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
    with pytest.raises(QueryError, match="longer than"):
        two.query(forever, ["mine"], timeout_s=0.2)
    many = two.query("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r", [], max_rows=5)
    assert len(many.rows) == 5 and many.truncated


def test_the_database_file_is_never_opened_for_writing(two: TableStore) -> None:
    before = two.path.stat().st_mtime_ns
    with pytest.raises(QueryError):
        two.query("SELECT * FROM mine WHERE qty = (SELECT 1 FROM nowhere)", ["mine"])
    assert two.path.stat().st_mtime_ns == before
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        sqlite3.connect(f"{two.path.resolve().as_uri()}?mode=ro", uri=True).execute("CREATE TABLE z (a)")


# ---------------------------------------------------------------------- permissions


def test_visibility_follows_workspace_access_and_filters() -> None:
    public = doc("p.csv", workspace="sales")
    private = doc("q.csv", workspace="sales", access=("group:finance",))
    other = doc("r.xlsx", "xlsx", workspace="hr")
    finance = Access(workspaces=("sales",), principals=("group:finance",))
    sales = Access(workspaces=("sales",))
    assert [visible_to(d, Access.owner()) for d in (public, private, other)] == [True, True, True]
    assert [visible_to(d, finance) for d in (public, private, other)] == [True, True, False]
    assert [visible_to(d, sales) for d in (public, private, other)] == [True, False, False]
    assert [visible_to(d, Access.owner(), Filters(filetypes=("xlsx",))) for d in (public, other)] == [False, True]
    assert visible_to(public, Access.owner(), Filters(path_glob="p*")) is True
    assert visible_to(public, Access.owner(), Filters(path_glob="q*")) is False


# ---------------------------------------------------------------------- through sync


def test_sync_loads_replaces_and_drops_tables(kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "stock.csv").write_text("item,qty\nbolt,10\nnut,5\n")
    (docs / "notes.md").write_text("# Notes\n\nNothing tabular here.")
    kb.ingest([str(docs)])
    (table,) = kb.tables.tables()
    assert table.name == "stock" and table.path == "stock.csv"
    assert rows(kb.tables, "SELECT SUM(qty) FROM stock") == [(15,)]

    (docs / "stock.csv").write_text("item,qty\nbolt,10\nnut,5\nwasher,7\n")
    report = kb.sync()
    assert report.updated == 1
    assert [t.name for t in kb.tables.tables()] == ["stock"]
    assert rows(kb.tables, "SELECT SUM(qty) FROM stock") == [(22,)]

    (docs / "stock.csv").unlink()
    assert kb.sync().deleted == 1
    assert kb.tables.tables() == []
    with sqlite3.connect(kb.tables.path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'stock'").fetchall() == []


def test_a_spreadsheet_that_is_no_table_is_still_indexed(kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "header-only.csv").write_text("region,target\n")
    (docs / "fine.csv").write_text("region,target\nWest,10\n")
    report = kb.ingest([str(docs)])
    assert report.added == 2 and report.failed == []
    assert [w["path"] for w in report.warnings] == ["header-only.csv"]
    assert "not loaded as a table" in report.warnings[0]["warning"]
    assert [t.name for t in kb.tables.tables()] == ["fine"]
    assert kb.search("region target", k=5)  # its text is searchable all the same


def test_a_table_loader_crash_does_not_fail_the_document(
    kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docket.ingest import sheet_tables

    def broken(*_: object) -> list:
        raise RuntimeError("loader bug")

    monkeypatch.setattr(sheet_tables, "raw_tables", broken)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.csv").write_text("x,y\n1,2\n")
    report = kb.ingest([str(docs)])
    assert report.added == 1 and report.failed == []
    assert report.warnings == [{"path": "a.csv", "warning": "not loaded as a table: loader bug"}]


def test_spreadsheets_indexed_before_tables_existed_are_loaded_on_sync(kb: KnowledgeBase, tmp_path: Path) -> None:
    from docket.ingest.sync import source_for_path, sync_source

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "old.csv").write_text("a,b\n1,2\n")
    sync_source(kb.store, kb.embedder, source_for_path(str(docs)))  # an index built without tables
    assert kb.tables.tables() == []
    report = kb.sync()
    assert report.unchanged == 1 and report.chunks_embedded == 0
    assert [t.name for t in kb.tables.tables()] == ["old"]


def test_tables_of_documents_gone_from_the_index_are_pruned(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.tables.load(doc("orphan.csv", id_="not-in-the-index"), b"a\n1\n")  # as left by an interrupted sync
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kept.csv").write_text("a\n1\n")
    kb.ingest([str(docs)])
    assert [t.name for t in kb.tables.tables()] == ["kept"]
