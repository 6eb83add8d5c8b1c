"""Numbers from tables: figures computed by SQL on the shared business data, checked against the CSV files.

A real model is not available in CI, so ``FakeChatModel`` plays the model and writes the SQL a model
would write; every expected figure is computed here independently with the ``csv`` module.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.answer.tables import (
    answer_from_tables,
    build_sql_prompt,
    candidate_tables,
    extract_sql,
    format_value,
    is_quantitative,
)
from docket.config import load_settings
from docket.errors import ModelNotConfiguredError
from docket.index.tables import Column, TableInfo
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.models.embedders import FakeEmbedder
from docket.types import Access, Filters
from tests.conftest import SHARED_DATA

SNAPSHOT = Path(__file__).parent / "snapshots" / "sql_prompt.txt"
SUPERSTORE = SHARED_DATA / "sample-superstore" / "Sample - Superstore.csv"
NORTHWIND = SHARED_DATA / "northwind-csv" / "examples" / "northwind" / "data" / "csv"


def sql(query: str) -> str:
    return f"```sql\n{query}\n```"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------- deciding and choosing


@pytest.mark.parametrize(
    "question",
    [
        "How many orders were shipped to France?",
        "What were total sales in the West region?",
        "Average discount by category",
        "What is the median profit per order?",
        "Top 3 products by quantity sold",
        "Which region had the highest profit in 2017?",
        "What percentage of orders used Same Day shipping?",
        "Number of customers in Germany",
        "How much freight did we pay in 1997?",
        "List all products with more than 100 units in stock",
        "Profit by region in 2017",
    ],
)
def test_questions_asking_for_figures_are_quantitative(question: str) -> None:
    assert is_quantitative(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is our parental leave policy?",
        "Who approves travel expenses?",
        "Summarise the onboarding process",
        "When was the sabbatical policy introduced?",
    ],
)
def test_other_questions_are_not(question: str) -> None:
    assert not is_quantitative(question)


def info(name: str, headers: list[str], *, values: dict[str, list[str]] | None = None, **kw: object) -> TableInfo:
    from docket.index.keywords import analyze
    from docket.index.tables import identifier

    columns = tuple(
        Column(identifier(h, f"c{i}"), h, "REAL" if h in ("Sales", "Price") else "TEXT") for i, h in enumerate(headers)
    )
    terms = set(analyze(" ".join([name.replace("_", " "), *headers])))
    value_terms = {t for vs in (values or {}).values() for v in vs for t in analyze(v)}
    return TableInfo(
        name=name,
        doc_id=name,
        source="s",
        path=f"{name}.csv",
        sheet=None,
        columns=columns,
        row_count=3,
        header_row=1,
        row_start=2,
        row_end=4,
        distinct_values=values,
        name_terms=frozenset(terms),
        value_terms=frozenset(value_terms),
        **kw,  # type: ignore[arg-type]
    )


def test_candidate_tables_match_names_headers_and_values() -> None:
    sales = info("sales", ["Region", "Sales", "Order Date"], values={"region": ["West", "East"]})
    staff = info("staff", ["Name", "Team"], values={"team": ["Sales", "Support"]})
    prices = info("prices", ["Item", "Price"])
    assert candidate_tables("Total sales in the West region?", [prices, staff, sales]) == [sales]
    assert candidate_tables("How many people in the Support team?", [prices, staff, sales]) == [staff]
    assert candidate_tables("How many weeks of parental leave?", [prices, staff, sales]) == []


def test_related_tables_join_the_best_one_only_when_it_lacks_words() -> None:
    sales = info("sales", ["Region", "Sales", "Units"], values={"region": ["West", "East"]})
    details = info("order_details", ["Order ID", "Product ID", "Quantity"])
    products = info("products", ["Product ID", "Product Name", "Category"])
    tables = [sales, details, products]
    assert candidate_tables("Total units sold in the West region?", tables) == [sales]  # it holds every word
    assert candidate_tables("Which product name sold the highest quantity?", tables) == [details, products]


def test_the_sql_prompt_matches_the_snapshot() -> None:
    sales = info(
        "sales",
        ["Region", "Sales", "Order Date", "custID"],
        values={"region": ["West", "East"]},
        samples=(("West", 12.5, "2017-01-03", "C1"), ("East", 3.0, "2017-01-04", "<table>x</table>")),
    )
    prompt = build_sql_prompt("What were total sales in the West region?", [sales])
    rendered = prompt.render()
    if os.environ.get("DOCKET_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(rendered, encoding="utf-8")
    assert rendered == SNAPSHOT.read_text(encoding="utf-8")
    assert rendered.count("</table>") == 1  # a cell cannot close its table block


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("```sql\nSELECT 1;\n```", "SELECT 1"),
        (
            "Here you go:\n```\nWITH x AS (SELECT 1) SELECT * FROM x\n```\nThis counts...",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ),
        ("select count(*) from t", "select count(*) from t"),
        ("NO_SQL", None),
        ("```sql\nDROP TABLE t\n```", None),
    ],
)
def test_sql_is_taken_from_the_reply(reply: str, expected: str | None) -> None:
    assert extract_sql(reply) == expected


def test_values_are_formatted_for_people() -> None:
    assert [format_value(v) for v in (1234, 725457.8245, 0.15623, 3.0, None, "West")] == [
        "1,234",
        "725,457.82",
        "0.1562",
        "3",
        "none",
        "West",
    ]


# ---------------------------------------------------------------------- the shared business data


@pytest.fixture(scope="module")
def business(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    root = tmp_path_factory.mktemp("business")
    data = root / "data"
    data.mkdir()
    shutil.copy(SUPERSTORE, data / SUPERSTORE.name)
    for name in ("orders.csv", "order_details.csv", "products.csv", "categories.csv", "customers.csv"):
        shutil.copy(NORTHWIND / name, data / name)
    kb = KnowledgeBase(load_settings(home=root / "kb"), embedder=FakeEmbedder())
    report = kb.ingest([str(data)])
    assert report.failed == [] and report.warnings == []
    yield kb
    kb.close()


def ask(kb: KnowledgeBase, question: str, *replies: str, **kw: object):
    chat = FakeChatModel(replies=list(replies))
    return kb.ask(question, model=chat, **kw), chat  # type: ignore[arg-type]


def test_total_sales_in_a_region(business: KnowledgeBase) -> None:
    expected = sum(float(r["Sales"]) for r in read_csv(SUPERSTORE) if r["Region"] == "West")
    answer, chat = ask(
        business,
        "What were total sales in the West region?",
        sql("SELECT SUM(sales) AS total_sales FROM sample_superstore WHERE region = 'West'"),
    )
    assert answer.method == "sql" and not answer.abstained
    assert answer.table.rows[0][0] == pytest.approx(expected)
    assert answer.text == f"Total sales: {expected:,.2f} [1]"
    assert answer.table.sql.startswith("SELECT SUM(sales)") and answer.table.tables == ("sample_superstore",)
    (citation,) = answer.citations
    assert citation.path == SUPERSTORE.name and citation.location.label() == "rows 2-9995"
    assert "CREATE TABLE sample_superstore" in chat.prompts[0].user
    assert "values: West, East, Central, South" in chat.prompts[0].user
    data = answer.to_dict()
    assert data["table"]["rows"][0][0] == pytest.approx(expected) and data["method"] == "sql"


def test_orders_shipped_to_a_country(business: KnowledgeBase) -> None:
    expected = sum(1 for r in read_csv(NORTHWIND / "orders.csv") if r["shipCountry"] == "France")
    answer, chat = ask(
        business,
        "How many orders were shipped to France?",
        sql("SELECT COUNT(*) AS orders FROM orders WHERE ship_country = 'France'"),
    )
    assert answer.table.rows == ((expected,),) and answer.text == f"Orders: {expected} [1]"
    assert answer.citations[0].path == "orders.csv"
    assert '<table name="orders"' in chat.prompts[0].user


def test_average_discount_by_category(business: KnowledgeBase) -> None:
    discounts: dict[str, list[float]] = defaultdict(list)
    for r in read_csv(SUPERSTORE):
        discounts[r["Category"]].append(float(r["Discount"]))
    expected = {k: sum(v) / len(v) for k, v in discounts.items()}
    answer, _ = ask(
        business,
        "What is the average discount by category?",
        sql(
            "SELECT category, AVG(discount) AS average_discount FROM sample_superstore "
            "GROUP BY category ORDER BY category"
        ),
    )
    got = dict(answer.table.rows)
    assert got.keys() == expected.keys()
    for category, value in expected.items():
        assert got[category] == pytest.approx(value)
        assert f"| {category} | {format_value(got[category])} |" in answer.text
    assert answer.text.startswith("3 rows [1]:")


def test_top_products_by_quantity(business: KnowledgeBase) -> None:
    quantity: Counter[str] = Counter()
    for r in read_csv(SUPERSTORE):
        quantity[r["Product Name"]] += int(r["Quantity"])
    expected = tuple(quantity.most_common(3))
    answer, _ = ask(
        business,
        "What are the top 3 products by quantity sold?",
        sql(
            "SELECT product_name, SUM(quantity) AS units FROM sample_superstore "
            "GROUP BY product_name ORDER BY units DESC LIMIT 3"
        ),
    )
    assert answer.table.rows == expected


def test_orders_in_a_year_use_iso_dates(business: KnowledgeBase) -> None:
    expected = len({r["Order ID"] for r in read_csv(SUPERSTORE) if r["Order Date"].endswith("/2017")})
    answer, _ = ask(
        business,
        "How many orders were placed in 2017?",
        sql(
            "SELECT COUNT(DISTINCT order_id) AS orders FROM sample_superstore WHERE strftime('%Y', order_date) = '2017'"
        ),
    )
    assert answer.table.rows == ((expected,),)


def test_a_join_across_northwind_tables(business: KnowledgeBase) -> None:
    products = {r["productID"]: r["categoryID"] for r in read_csv(NORTHWIND / "products.csv")}
    names = {r["categoryID"]: r["categoryName"] for r in read_csv(NORTHWIND / "categories.csv")}
    revenue: Counter[str] = Counter()
    for r in read_csv(NORTHWIND / "order_details.csv"):
        amount = float(r["unitPrice"]) * int(r["quantity"]) * (1 - float(r["discount"]))
        revenue[names[products[r["productID"]]]] += amount
    (top, value), *_ = revenue.most_common(1)
    answer, _ = ask(
        business,
        "Which product category has the highest revenue in order details?",
        sql(
            "SELECT c.category_name, SUM(d.unit_price * d.quantity * (1 - d.discount)) AS revenue "
            "FROM order_details d JOIN products p ON p.product_id = d.product_id "
            "JOIN categories c ON c.category_id = p.category_id "
            "GROUP BY c.category_name ORDER BY revenue DESC LIMIT 1"
        ),
    )
    assert answer.table.rows[0][0] == top and answer.table.rows[0][1] == pytest.approx(value)
    assert answer.table.tables == ("categories", "order_details", "products")
    assert [c.path for c in answer.citations] == ["categories.csv", "order_details.csv", "products.csv"]
    assert answer.text.endswith("[1][2][3]")


def test_a_failing_query_is_retried_with_its_error(business: KnowledgeBase) -> None:
    answer, chat = ask(
        business,
        "How many orders were shipped to France?",
        sql("SELECT COUNT(*) FROM orders WHERE country = 'France'"),
        sql("SELECT COUNT(*) AS orders FROM orders WHERE ship_country = 'France'"),
    )
    assert answer.method == "sql" and answer.table.rows[0][0] > 0
    assert len(chat.prompts) == 2 and "no such column: country" in chat.prompts[1].user


def test_two_failures_fall_back_to_the_documents_with_a_note(business: KnowledgeBase) -> None:
    answer, chat = ask(
        business,
        "How many orders were shipped to France?",
        sql("SELECT COUNT(*) FROM nowhere"),
        sql("SELECT COUNT(*) FROM nowhere"),
    )
    assert answer.method != "sql" and answer.table is None
    assert any("could not answer from the tables: the SQL query failed twice" in n for n in answer.notes)
    assert sum("CREATE TABLE" in p.user for p in chat.prompts) == 2  # then the ordinary answer's prompt, if any
    assert answer.usage is not None and answer.usage.prompt_tokens > 0


@pytest.mark.parametrize(
    "attempt", ["DROP TABLE orders", "INSERT INTO orders (order_id) VALUES (1)", "ATTACH DATABASE 'x.db' AS x"]
)
def test_write_attempts_are_refused(business: KnowledgeBase, attempt: str) -> None:
    answer, _ = ask(business, "How many orders were shipped to France?", sql(attempt), sql(attempt))
    assert answer.method != "sql"
    assert business.tables.query("SELECT COUNT(*) FROM orders", ["orders"]).rows[0][0] == 830


def test_questions_without_figures_never_reach_the_tables(business: KnowledgeBase) -> None:
    answer, chat = ask(business, "Who is the contact at Alfreds Futterkiste?")
    assert answer.method != "sql" and all("<table" not in p.user for p in chat.prompts)
    store = business.tables
    chat = FakeChatModel()
    assert answer_from_tables("What is our leave policy?", store, chat, documents=business.store.documents()) is None
    assert chat.prompts == []


def test_the_model_may_say_the_tables_cannot_answer(business: KnowledgeBase) -> None:
    answer, _ = ask(business, "How many orders were shipped to France?", "NO_SQL")
    assert answer.method != "sql"
    assert any("the model found no query" in n for n in answer.notes)


def test_tables_can_be_forced_or_turned_off(business: KnowledgeBase) -> None:
    query = sql("SELECT COUNT(*) AS customers FROM customers WHERE country = 'Germany'")
    answer, chat = ask(business, "Customers located in Germany", query, tables=True)  # no figure word
    expected = sum(1 for r in read_csv(NORTHWIND / "customers.csv") if r["country"] == "Germany")
    assert answer.method == "sql" and answer.table.rows == ((expected,),)
    answer, chat = ask(business, "How many customers are in Germany?", tables=False)
    assert answer.method != "sql" and all("<table" not in p.user for p in chat.prompts)
    with pytest.raises(ModelNotConfiguredError):
        business.ask("How many customers are in Germany?", tables=True)


def test_table_answers_are_logged_with_their_sql(business: KnowledgeBase) -> None:
    answer, _ = ask(
        business,
        "How many orders were shipped to France?",
        sql("SELECT COUNT(*) AS orders FROM orders WHERE ship_country = 'France'"),
    )
    record = business.ledger.answer_log(answer.log_id)
    assert record["method"] == "sql" and "WHERE ship_country = 'France'" in record["answer"]
    assert "CREATE TABLE orders" in record["prompt"]


def test_filters_narrow_the_tables(business: KnowledgeBase) -> None:
    chat = FakeChatModel()
    answer = answer_from_tables(
        "How many orders were shipped to France?",
        business.tables,
        chat,
        documents=business.store.documents(),
        filters=Filters(filetypes=("pdf",)),
    )
    assert answer is None and chat.prompts == []


# ---------------------------------------------------------------------- permissions


@pytest.fixture
def workspaces(tmp_path: Path) -> Iterator[KnowledgeBase]:
    sales, hr = tmp_path / "sales", tmp_path / "hr"
    sales.mkdir()
    hr.mkdir()
    (sales / "deals.csv").write_text("region,amount\nWest,100\nEast,50\nWest,25\n")
    (hr / "salaries.csv").write_text("name,region,salary\nAnn,West,90000\nBob,East,80000\n")
    kb = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder())
    kb.ingest([str(sales)], workspace="sales")
    kb.ingest([str(hr)], workspace="hr")
    yield kb
    kb.close()


def test_tables_of_other_workspaces_are_invisible(workspaces: KnowledgeBase) -> None:
    sales = Access(workspaces=("sales",))
    query = sql("SELECT SUM(amount) AS total FROM deals WHERE region = 'West'")
    answer, chat = ask(workspaces, "What is the total amount and salary in the West region?", query, access=sales)
    assert answer.table.rows == ((125,),)
    assert "deals" in chat.prompts[0].user and "salaries" not in chat.prompts[0].user


def test_sql_naming_another_workspaces_table_is_refused(workspaces: KnowledgeBase) -> None:
    sales = Access(workspaces=("sales",))
    peek = sql("SELECT SUM(salary) AS total FROM salaries")
    answer, chat = ask(workspaces, "What is the total amount in the West region?", peek, peek, access=sales)
    assert answer.method != "sql" and answer.table is None
    assert "failed: no such table: salaries" in chat.prompts[1].user  # refused, worded as if it did not exist
    assert not any("90000" in p.user or "170000" in p.user for p in chat.prompts)
    owner, _ = ask(workspaces, "What is the total salary in the West region?", peek)  # the owner sees everything
    assert owner.table.rows == ((170000,),)


def test_access_lists_apply_to_tables(tmp_path: Path) -> None:
    folder = tmp_path / "finance"
    folder.mkdir()
    (folder / "budget.csv").write_text("team,budget\nops,10\ndev,20\n")
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)], workspace="w", access=["group:finance"])
        store, docs = kb.tables, list(kb.store.documents())
        assert [t.name for t in store.visible(docs, Access(workspaces=("w",), principals=("group:finance",)))] == [
            "budget"
        ]
        assert store.visible(docs, Access(workspaces=("w",), principals=("user:eve",))) == []
        answer = answer_from_tables(
            "What is the total budget per team?",
            store,
            FakeChatModel(),
            documents=docs,
            access=Access(workspaces=("w",), principals=("user:eve",)),
            force=True,
        )
        assert answer is not None and answer.abstained
        assert answer.notes == ("could not answer from the tables: no table you can read",)


def test_a_sum_that_would_add_a_total_row_to_its_parts_is_sent_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "net-sales.csv").write_text(
        "Segment,Sales\niPhone,39669\nMac,6840\niPad,5791\nTotal products,52300\nServices,21213\n"
        "Total net sales,81797\n",
        encoding="utf-8",
    )
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(data)])
        answer, chat = ask(
            kb,
            "What is the sum of sales over all segments?",
            sql("SELECT SUM(sales) AS sales FROM net_sales"),
            sql("SELECT SUM(sales) AS sales FROM net_sales WHERE LOWER(segment) NOT LIKE '%total%'"),
        )
    assert (
        len(chat.prompts) == 2 and "has total rows" in chat.prompts[1].user and "Total products" in chat.prompts[1].user
    )
    assert answer.table is not None and answer.table.rows[0][0] == 39669 + 6840 + 5791 + 21213  # not 2 × 81,797
    assert "leave them out when you SUM" in chat.prompts[0].system
