"""The compute step's report queries: the former stdlib-SQLite path against DuckDB.

    python bench/compute.py                 # 7 interleaved rounds on the Superstore CSV
    python bench/compute.py --rounds 3 --json

The data is ``Sample - Superstore.csv`` from ../shared/data (9,994 order lines, 21 columns). Both
paths read and type the file the same way (``docket.ingest.sheet_tables``: ~all of the load time is
this shared parsing, timed once as ``parse``); then:

- ``sqlite``: the former path — an in-memory SQLite table (untyped columns, dates as ISO text),
  ``executemany`` inserts, and the former SQL (``substr`` periods, ``ROUND(SUM())``).
- ``duckdb``: :class:`docket.workflows.database.Database` — typed columns handed over through numpy,
  locked down, and the queries of :func:`docket.workflows.report.report_queries`.

Each round runs both paths one after the other (order alternating), over a report spec with every
aggregate, periods year/quarter/month and three breakdowns (8 queries per period). Reported: the
median load and query seconds per path, the DuckDB/SQLite ratios, and whether every figure agrees
(numbers to 1e-9 relative, labels exactly), listing the cells that differ. They differ only where
the decimal value is an exact tie (…x.xx5): SQLite's plain float sum can land a hair under the tie
and round down, the compensated sum and ``docket_round`` round it half up, as the exact decimal
sum says.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUPERSTORE = ROOT.parent / "shared" / "data" / "sample-superstore" / "Sample - Superstore.csv"
METRICS = [
    {"name": "revenue", "column": "Sales", "agg": "sum"},
    {"name": "lines", "column": "Row ID", "agg": "count"},
    {"name": "orders", "column": "Order ID", "agg": "count_distinct"},
    {"name": "avg_profit", "column": "Profit", "agg": "avg"},
    {"name": "smallest", "column": "Quantity", "agg": "min"},
    {"name": "last_order", "column": "Order Date", "agg": "max"},
]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def old_queries(spec: Any, columns: list[str]) -> list[tuple[str, str]]:
    """The SQL the SQLite path ran (docket before DuckDB)."""
    agg = {
        "sum": "ROUND(SUM({c}), 2)",
        "count": "COUNT({c})",
        "count_distinct": "COUNT(DISTINCT {c})",
        "avg": "ROUND(AVG({c}), 2)",
        "min": "MIN({c})",
        "max": "MAX({c})",
    }
    metrics = ", ".join(f"{agg[m.agg].format(c=_q(m.column))} AS {_q(m.name)}" for m in spec.metrics)
    c = _q(spec.date_column)
    period = {
        "year": f"substr({c}, 1, 4)",
        "month": f"substr({c}, 1, 7)",
        "quarter": f"substr({c}, 1, 4) || '-Q' || ((CAST(substr({c}, 6, 2) AS INTEGER) + 2) / 3)",
    }[spec.period]
    first = _q(spec.metrics[0].name)
    out = [
        ("Totals", f"SELECT {metrics} FROM data"),
        (f"By {spec.period}", f"SELECT {period} AS p, {metrics} FROM data WHERE {c} IS NOT NULL GROUP BY 1 ORDER BY 1"),
    ]
    for b in spec.breakdowns:
        out.append((f"By {b}", f"SELECT {_q(b)}, {metrics} FROM data GROUP BY 1 ORDER BY {first} DESC, 1 LIMIT 20"))
        out.append(
            (
                f"{b} by {spec.period}",
                f"SELECT {period}, {_q(b)}, {metrics} FROM data WHERE {c} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
            )
        )
    return out


def parse() -> tuple[list[str], list[list[Any]], list[list[Any]]]:
    """The typed columns (dates as date objects) and the same as ISO text, row-wise (the SQLite path)."""
    from docket.workflows.database import _plain
    from docket.workflows.readers import read_sheet

    header, columns = read_sheet(SUPERSTORE)
    rows = [list(r) for r in zip(*([_plain(v) for v in col] for col in columns), strict=True)]
    return header, columns, rows


def run_sqlite(header: list[str], rows: list[list[Any]], specs: list[Any]) -> tuple[float, float, list[Any]]:
    t0 = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE data ({', '.join(_q(h) for h in header)})")
    db.executemany(f"INSERT INTO data VALUES ({', '.join('?' for _ in header)})", rows)
    t1 = time.perf_counter()
    results = []
    for spec in specs:
        for _, sql in old_queries(spec, header):
            results.append([list(r) for r in db.execute(sql).fetchall()])
    t2 = time.perf_counter()
    db.close()
    return t1 - t0, t2 - t1, results


def run_duckdb(header: list[str], columns: list[list[Any]], specs: list[Any]) -> tuple[float, float, list[Any]]:
    from docket.workflows.database import Database, DataTable
    from docket.workflows.report import report_queries

    t0 = time.perf_counter()
    database = Database()
    database.add("data", header, columns)
    database.lock()
    t1 = time.perf_counter()
    table = DataTable(database, "data")
    results = []
    for spec in specs:
        for title, sql in report_queries(spec, table):
            results.append(database.query(sql, title)["rows"])
    t2 = time.perf_counter()
    database.close()
    return t1 - t0, t2 - t1, results


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return bool(a == b)


def differences(old: list[Any], new: list[Any]) -> list[str]:
    """Each cell where the two paths disagree: ``query #: row label: old → new``."""
    bad = []
    for n, (t_old, t_new) in enumerate(zip(old, new, strict=True)):
        if len(t_old) != len(t_new):
            bad.append(f"query {n}: {len(t_old)} rows → {len(t_new)}")
            continue
        for r_old, r_new in zip(t_old, t_new, strict=True):
            bad += [f"query {n}: {r_old[0]}: {x} → {y}" for x, y in zip(r_old, r_new, strict=True) if not _same(x, y)]
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SUPERSTORE.is_file():
        sys.exit(f"no {SUPERSTORE}: the benchmark reads the Superstore CSV from ../shared/data")
    from docket.workflows.report import ReportSpec

    specs = [
        ReportSpec.model_validate(
            {
                "date_column": "Order Date",
                "period": period,
                "metrics": METRICS,
                "breakdowns": ["Category", "Region", "Segment"],
            }
        )
        for period in ("year", "quarter", "month")
    ]
    t0 = time.perf_counter()
    header, columns, rows = parse()
    parse_s = time.perf_counter() - t0
    times: dict[str, dict[str, list[float]]] = {p: {"load": [], "query": []} for p in ("sqlite", "duckdb")}
    diff: list[str] = []
    for n in range(args.rounds):
        order = ["sqlite", "duckdb"] if n % 2 == 0 else ["duckdb", "sqlite"]
        outputs = {}
        for path in order:
            load, query, results = (
                run_sqlite(header, rows, specs) if path == "sqlite" else run_duckdb(header, columns, specs)
            )
            times[path]["load"].append(load)
            times[path]["query"].append(query)
            outputs[path] = results
        diff = differences(outputs["sqlite"], outputs["duckdb"])
    med = {p: {k: statistics.median(v) for k, v in t.items()} for p, t in times.items()}
    report = {
        "rows": len(rows),
        "columns": len(header),
        "queries": sum(len(old_queries(s, header)) for s in specs),
        "rounds": args.rounds,
        "parse_s": round(parse_s, 4),
        "sqlite": {k: round(v, 4) for k, v in med["sqlite"].items()},
        "duckdb": {k: round(v, 4) for k, v in med["duckdb"].items()},
        "ratio_duckdb_over_sqlite": {k: round(med["duckdb"][k] / med["sqlite"][k], 2) for k in ("load", "query")},
        "cells": sum(len(t) * len(t[0]) for t in outputs["sqlite"] if t),
        "differing_cells": diff,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['rows']} rows x {report['columns']} columns, {report['queries']} queries, {args.rounds} rounds")
    print(f"parse + type (shared): {parse_s:.3f} s")
    for path in ("sqlite", "duckdb"):
        print(f"{path:7s} load {med[path]['load']:.4f} s   queries {med[path]['query']:.4f} s")
    ratios = report["ratio_duckdb_over_sqlite"]
    print(f"duckdb/sqlite: load x{ratios['load']}, queries x{ratios['query']}")
    print(f"figures: {len(diff)} of {report['cells']} cells differ")
    for line in diff:
        print("  " + line)


if __name__ == "__main__":
    main()
