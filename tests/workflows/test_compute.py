"""The compute step on DuckDB: several tables from CSV files, SQLite and PostgreSQL, figures checked
against an independent computation, and the lock-down (no files, one SELECT, a time limit, a row cap)."""

from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from docket.errors import UserError
from docket.workflows import parse_workflow, resolve_workflow, run_workflow
from docket.workflows.database import Database
from docket.workflows.readers import load_table
from tests import postgres
from tests.conftest import REPO, SHARED_DATA

NORTHWIND = SHARED_DATA / "northwind-csv" / "examples" / "northwind" / "data" / "csv"
EXAMPLE = REPO / "src" / "docket" / "workflows" / "examples" / "northwind-monthly.yml"

pg_server = postgres.pg_server
pg_database = postgres.pg_database
pg_url = postgres.pg_url


def _compute(tmp_path: Path, step: str, data: str | None = None) -> Any:
    """Run a one-step workflow (``step`` is the compute step's YAML options, indented by 4)."""
    flow = tmp_path / "flow.yml"  # relative paths in the step are read from this folder
    flow.write_text(f"name: c\nbatch: false\nsteps:\n  - id: figures\n    kind: compute\n{step}")
    return run_workflow(resolve_workflow(str(flow)), data or str(tmp_path), output=tmp_path / "out")


def _rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.skipif(not NORTHWIND.is_dir(), reason="the northwind CSVs are not in ../shared/data")
def test_northwind_monthly_report_joins_three_csv_tables_and_matches_plain_python(tmp_path: Path) -> None:
    summary = run_workflow(resolve_workflow(str(EXAMPLE)), str(NORTHWIND), output=tmp_path, runs_dir=tmp_path)
    assert summary.ok == 1, summary.failed

    order_month = {r["orderID"]: r["orderDate"][:7] for r in _rows(NORTHWIND / "orders.csv")}
    names = {r["productID"]: r["productName"] for r in _rows(NORTHWIND / "products.csv")}
    revenue: dict[str, float] = defaultdict(float)
    orders: dict[str, set[str]] = defaultdict(set)
    by_product: dict[str, float] = defaultdict(float)
    units: dict[str, int] = defaultdict(int)
    for line in _rows(NORTHWIND / "order_details.csv"):
        amount = float(line["unitPrice"]) * int(line["quantity"]) * (1 - float(line["discount"]))
        month = order_month[line["orderID"]]
        revenue[month] += amount
        orders[month].add(line["orderID"])
        by_product[names[line["productID"]]] += amount
        units[names[line["productID"]]] += int(line["quantity"])

    log = next(e for e in _run_log(summary) if e.get("step") == "figures")
    monthly, top = log["output"]["tables"]
    assert monthly["columns"] == ["month", "revenue", "orders"]
    assert [r[0] for r in monthly["rows"]] == sorted(revenue)  # every month, in order
    for month, amount, count in monthly["rows"]:
        assert abs(amount - revenue[month]) < 0.01 and count == len(orders[month])
    best = sorted(by_product, key=lambda p: (-round(by_product[p], 2), p))[:10]
    assert [r[0] for r in top["rows"]] == best
    assert all(abs(r[1] - by_product[r[0]]) < 0.01 and r[2] == units[r[0]] for r in top["rows"])
    html = (tmp_path / "northwind-monthly.html").read_text()
    assert "<caption>Monthly sales</caption>" in html and "1996-07" in html
    assert (tmp_path / "chart-monthly-sales.png").is_file()


def _run_log(summary: Any) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in Path(summary.log).read_text().splitlines()]


def test_sqlite_table_and_query_join_a_csv_with_dates_typed(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT, since TEXT, credit REAL)")
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?)",
            [(1, "Ada", "2023-01-15", 100.5), (2, "Bo", "2024-03-01", None), (3, "Cy", None, 20.0)],
        )
    conn.close()
    (tmp_path / "orders.csv").write_text("order,customer,amount\nA1,1,10.50\nA2,1,4\nA3,2,7.25\nA4,3,1\n")
    step = (
        "    tables:\n"
        "      orders: orders.csv\n"
        "      customers: {sqlite: shop.sqlite, table: customers}\n"
        "      recent: {sqlite: shop.sqlite, query: \"SELECT id FROM customers WHERE since >= '2024-01-01'\"}\n"
        "    queries:\n"
        "      By customer: >-\n"
        "        SELECT c.name, SUM(o.amount) AS amount, COUNT(*) AS orders, c.id IN (SELECT id FROM recent) AS new\n"
        "        FROM orders o JOIN customers c ON c.id = o.customer GROUP BY c.name, c.id ORDER BY c.name\n"
        "      Types: >-\n"
        "        SELECT ANY_VALUE(typeof(since)) AS since, ANY_VALUE(typeof(credit)) AS credit, MIN(since) AS first\n"
        "        FROM customers\n"
    )
    summary = _compute(tmp_path, step)
    assert summary.ok == 1, summary.failed
    by_customer, types = summary.results[0]["tables"]
    assert by_customer["rows"] == [["Ada", 14.5, 2, False], ["Bo", 7.25, 1, True], ["Cy", 1.0, 1, False]]
    assert types["rows"] == [["DATE", "DOUBLE", "2023-01-15"]]


def test_postgres_table_and_query_are_read_with_their_types(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("DOCKET_TEST_SALES_URL", pg_url)

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id serial, customer text, issued date, total numeric(12, 2))")
        conn.execute(
            "INSERT INTO invoices (customer, issued, total) VALUES "
            "('Ada', '2024-01-31', 100.10), ('Ada', '2024-02-02', 0.20), ('Bo', '2024-02-10', 5.00)"
        )
    step = (
        "    tables:\n"
        f"      invoices: {{postgres: '{pg_url}', table: public.invoices}}\n"
        "      big: {postgres: 'env:DOCKET_TEST_SALES_URL', query: 'SELECT customer FROM invoices WHERE total > 1'}\n"
        "    queries:\n"
        "      Monthly: >-\n"
        "        SELECT strftime(issued, '%Y-%m') AS month, SUM(total) AS total, typeof(SUM(total)) AS type\n"
        "        FROM invoices GROUP BY 1 ORDER BY 1\n"
        "      Big: SELECT DISTINCT customer FROM big ORDER BY 1\n"
    )
    summary = _compute(tmp_path, step)
    assert summary.ok == 1, summary.failed
    monthly, big = summary.results[0]["tables"]
    assert monthly["rows"] == [["2024-01", 100.1, "DECIMAL(38,2)"], ["2024-02", 5.2, "DECIMAL(38,2)"]]
    assert big["rows"] == [["Ada"], ["Bo"]]


def test_postgres_that_cannot_be_reached_fails_the_item_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://ann:s3cret@/nodb?host={tmp_path}"  # no server on this socket
    summary = _compute(tmp_path, f"    tables: {{t: {{postgres: '{url}', table: t}}}}\n    queries: {{N: SELECT 1}}\n")
    error = summary.failed[0]["error"]
    assert "could not connect to PostgreSQL" in error and "s3cret" not in error and "***" in error


def test_source_mistakes_say_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKET_TEST_SALES_URL", raising=False)
    queries = "    queries: {N: SELECT 1}\n"
    as_file = _compute(tmp_path, "    tables: {c: shop.db}\n" + queries)
    assert "tables.c: for a SQLite file write {sqlite: shop.db, table: NAME}" in as_file.failed[0]["error"]
    no_env = _compute(tmp_path, "    tables: {c: {postgres: 'env:DOCKET_TEST_SALES_URL', table: t}}\n" + queries)
    assert "environment variable DOCKET_TEST_SALES_URL is not set" in no_env.failed[0]["error"]
    missing = _compute(tmp_path, "    tables: {c: {sqlite: nope.db, table: t}}\n" + queries)
    assert "no SQLite file" in missing.failed[0]["error"]


def test_query_cannot_read_files_or_attach_databases(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    table = load_table(_sales(tmp_path))
    with pytest.raises(UserError, match=r"SQL error in query 'Peek'.*Permission Error") as info:
        table.query(f"SELECT * FROM read_csv('{secret}')", "Peek")
    assert "hunter2" not in str(info.value)
    with pytest.raises(UserError, match="Permission Error"):
        table.query(f"SELECT * FROM read_text('{secret}')")
    with pytest.raises(UserError, match="one read-only SELECT"):
        table.query(f"ATTACH '{tmp_path / 'x.db'}' AS x")
    assert not (tmp_path / "x.db").exists()


def test_only_one_select_is_run(tmp_path: Path) -> None:
    table = load_table(_sales(tmp_path))
    for sql in (
        "SELECT 1; DELETE FROM data",
        "WITH x AS (SELECT 1) INSERT INTO data SELECT * FROM data",
        "COPY data TO 'out.csv'",
        "SET threads = 8",
        "LOAD httpfs",
    ):
        with pytest.raises(UserError, match="query 'Sneaky': compute runs one read-only SELECT"):
            table.database.query(sql, "Sneaky")
    assert table.query("SELECT COUNT(*) FROM data")["rows"] == [[3]]
    assert not (tmp_path / "out.csv").exists()


def test_non_select_in_a_workflow_fails_the_item_naming_the_query(tmp_path: Path) -> None:
    summary = _compute(tmp_path, "    queries: {Drop: 'SELECT 1; DROP TABLE data'}\n", str(_sales(tmp_path)))
    assert summary.ok == 0 and "query 'Drop'" in summary.failed[0]["error"]


def test_runaway_query_is_interrupted_with_its_title(tmp_path: Path) -> None:
    step = (
        "    timeout: 0.5\n"
        "    queries:\n"
        "      Forever: SELECT SUM(a.range * b.range) FROM range(100000000) a CROSS JOIN range(100000000) b\n"
    )
    summary = _compute(tmp_path, step, str(_sales(tmp_path)))
    assert "query 'Forever' ran longer than 0.5 s and was stopped" in summary.failed[0]["error"]


def test_row_cap_and_sql_errors_name_the_query(tmp_path: Path) -> None:
    data = str(_sales(tmp_path))
    capped = _compute(tmp_path, "    max_rows: 5\n    queries: {All: SELECT * FROM range(6)}\n", data)
    assert "query 'All' returns more than 5 rows" in capped.failed[0]["error"]
    fits = _compute(tmp_path, "    max_rows: 5\n    queries: {Five: SELECT * FROM range(5)}\n", data)
    assert fits.results[0]["tables"][0]["rows"] == [[0], [1], [2], [3], [4]]
    broken = _compute(tmp_path, "    queries: {Typo: SELECT nope FROM data}\n", data)
    error = broken.failed[0]["error"]
    assert "SQL error in query 'Typo'" in error and 'column "nope"' in error.lower()


def test_tables_option_is_checked_before_running() -> None:
    from docket.workflows.spec import WorkflowError

    with pytest.raises(WorkflowError) as info:
        parse_workflow(
            "name: c\nsteps:\n  - id: f\n    kind: compute\n    queries: {N: SELECT 1}\n    tables:\n"
            "      bad-name: a.csv\n      s: {sqlite: x.db}\n      p: {postgres: x, table: t, extra: x}\n"
        )
    message = str(info.value)
    assert "tables.bad-name" in message and "letters, digits" in message
    assert "tables.s" in message and "table: NAME or query" in message
    assert "unknown key(s) extra" in message


def test_report_over_a_named_table_of_several(tmp_path: Path) -> None:
    data = _sales(tmp_path)
    spec = tmp_path / "spec.yml"
    spec.write_text("title: T\ndate_column: Date\nperiod: month\nmetrics: [{name: revenue, column: Sales}]\n")
    step = f"    tables: {{sales: '{data}', other: '{data}'}}\n    table: sales\n    report: '{spec}'\n"
    summary = _compute(tmp_path, step)
    assert summary.ok == 1, summary.failed
    totals, by_month = summary.results[0]["tables"]
    assert totals["rows"] == [[350.5]]
    assert by_month["rows"] == [["2024-01", 100.5], ["2024-02", 200.0], ["2025-03", 50.0]]


def test_sum_of_a_text_column_says_which_metric(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text("metrics: [{name: revenue, column: Line}]\n")
    summary = _compute(tmp_path, f"    report: '{spec}'\n", str(_sales(tmp_path)))
    assert "metric 'revenue': column 'Line' holds varchar values, not numbers" in summary.failed[0]["error"]


def test_database_types_python_values() -> None:
    import datetime as dt
    from decimal import Decimal

    database = Database()
    database.add(
        "t",
        ["i", "f", "d", "ts", "dec", "b", "blob", "mixed", "empty", "i"],
        [
            [1, None],
            [1, 2.5],
            [dt.date(2024, 1, 2), None],
            [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), dt.date(2024, 1, 3)],
            [Decimal("1.10"), Decimal("2")],
            [True, False],
            [b"\x00\xff", None],
            ["a", 1],
            [None, None],
            [7, 8],
        ],
    )
    database.lock()
    assert database.types["t"] == [
        "BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "DECIMAL(38, 2)", "BOOLEAN", "BLOB", "VARCHAR", "VARCHAR", "BIGINT"
    ]  # fmt: skip
    assert database.tables["t"][-1] == "i_2"
    assert database.query("SELECT * FROM t ORDER BY f")["rows"] == [
        [1, 1.0, "2024-01-02", "2024-01-02 03:04:05", 1.1, True, "00ff", "a", None, 7],
        [None, 2.5, None, "2024-01-03 00:00:00", 2.0, False, None, "1", None, 8],
    ]


def _sales(tmp_path: Path) -> Path:
    data = tmp_path / "sales.csv"
    data.write_text("Date,Sales,Line\n2024-01-05,100.5,A\n2024-02-01,200,B\n2025-03-01,50,A\n")
    return data
