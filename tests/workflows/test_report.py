"""The report workflow's figures, checked against totals computed here with the csv module."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

from docket.workflows import resolve_workflow, run_workflow
from tests.conftest import REPO

SUPERSTORE = REPO.parent / "shared" / "data" / "sample-superstore" / "Sample - Superstore.csv"


def _table(html: str, caption: str) -> list[list[str]]:
    body = html.split(f"<caption>{caption}</caption>")[1].split("</table>")[0]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body) if "<td" in row]


def test_superstore_report_matches_independent_figures(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text(
        "title: Superstore\ndate_column: Order Date\nperiod: year\nmetrics:\n"
        "  - {name: revenue, column: Sales, agg: sum}\n  - {name: orders, column: Order ID, agg: count_distinct}\n"
        "breakdowns: [Category]\n"
    )
    summary = run_workflow(resolve_workflow("report"), str(SUPERSTORE), params={"spec": str(spec)}, output=tmp_path)
    assert summary.ok == 1, summary.failed
    revenue: dict[str, float] = defaultdict(float)
    orders: dict[str, set[str]] = defaultdict(set)
    by_year: dict[str, float] = defaultdict(float)
    with SUPERSTORE.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            revenue[row["Category"]] += float(row["Sales"])
            orders[row["Category"]].add(row["Order ID"])
            by_year[row["Order Date"].rsplit("/", 1)[1]] += float(row["Sales"])
    html = (tmp_path / "report.html").read_text()
    shown = {r[0]: (float(r[1].replace(",", "")), int(r[2].replace(",", ""))) for r in _table(html, "By Category")}
    assert set(shown) == set(revenue)
    for category, total in revenue.items():
        assert abs(shown[category][0] - total) < 0.01
        assert shown[category][1] == len(orders[category])
    years = {r[0]: float(r[1].replace(",", "")) for r in _table(html, "By year")}
    assert years.keys() == by_year.keys() and all(abs(years[y] - by_year[y]) < 0.01 for y in years)
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "chart-by-category.png").is_file()


def test_latin1_csv_with_short_and_timed_us_dates(tmp_path: Path) -> None:
    data = tmp_path / "sales.csv"
    rows = [
        ("10107", "2/24/2003 0:00", "2871", "Motorcycles", "Société Générale"),
        ("10107", "2/24/2003 0:00", "2765.9", "Motorcycles", "Société Générale"),
        ("10121", "5/7/2003 0:00", "3884.34", "Classic Cars", "Reims Café"),
        ("10134", "7/1/2004 0:00", "3746.7", "Motorcycles", "Lyon Müller"),
    ]
    with data.open("w", encoding="latin-1", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ORDERNUMBER", "ORDERDATE", "SALES", "PRODUCTLINE", "CUSTOMERNAME"])
        writer.writerows(rows)
    spec = tmp_path / "spec.yml"
    spec.write_text(
        "title: Sales by product line\ndate_column: ORDERDATE\nperiod: quarter\nmetrics:\n"
        "  - {name: revenue, column: SALES, agg: sum}\n  - {name: orders, column: ORDERNUMBER, agg: count_distinct}\n"
        "breakdowns: [PRODUCTLINE]\n"
    )
    summary = run_workflow(resolve_workflow("report"), str(data), params={"spec": str(spec)}, output=tmp_path / "o")
    assert summary.ok == 1, summary.failed
    html = (tmp_path / "o" / "report.html").read_text()
    assert _table(html, "By quarter") == [
        ["2003-Q1", "5,636.90", "1"],
        ["2003-Q2", "3,884.34", "1"],
        ["2004-Q3", "3,746.70", "1"],
    ]
    assert _table(html, "By PRODUCTLINE")[0] == ["Motorcycles", "9,383.60", "2"]


def test_two_digit_years_are_read_as_dates(tmp_path: Path) -> None:
    from docket.workflows.readers import load_table

    data = tmp_path / "d.csv"
    data.write_text("ORDERDATE,SALES\n2/24/03,10\n12/1/04,5\n")
    table = load_table(data)
    assert table.query("SELECT ORDERDATE FROM data")["rows"] == [["2003-02-24"], ["2004-12-01"]]


def test_sums_and_averages_round_half_up_on_the_decimal_value(tmp_path: Path) -> None:
    from docket.workflows.readers import load_table
    from docket.workflows.report import Metric, ReportSpec, report_queries

    data = tmp_path / "d.csv"
    data.write_text("Line,Sales,Units\nA,0.145,1\nA,0.14,2\nB,1.005,3\nB,1.005,4\n")
    table = load_table(data)
    metrics = [Metric(name="revenue", column="Sales"), Metric(name="mean", column="Sales", agg="avg")]
    spec = ReportSpec(metrics=[*metrics, Metric(name="units", column="Units")], breakdowns=["Line"])
    queries = dict(report_queries(spec, table))
    # 0.145 + 0.14 is 0.285 and 1.005 is 1.005 in decimal: half up, though the floats are a hair under
    assert table.query(queries["By Line"])["rows"] == [["B", 2.01, 1.01, 7], ["A", 0.29, 0.14, 3]]
