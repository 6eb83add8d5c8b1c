"""`docket ask` on spreadsheets, as a user runs it: the real process, a model server on 127.0.0.1 that
writes the SQL, and figures checked against the file with the csv module."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli import docket
from tests.scripted_model import ScriptedModel, scripted_model_server

FILE = "stock.csv"
ROWS = [("bolt", "hardware", "1,200", "0.05"), ("nut", "hardware", "800", "0.03"), ("glue", "supplies", "15", "4.50")]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with scripted_model_server() as script:
        yield script


@pytest.fixture
def server(model: ScriptedModel) -> str:
    model.replies.clear()
    model.prompts.clear()
    return model.url


@pytest.fixture
def home(tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    with (docs / FILE).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Item", "Category", "Units", "Unit Price"])
        writer.writerows(ROWS)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "docket.toml").write_text('[embedder]\nname = "fake"\n')
    monkeypatch.setenv("DOCKET_OPENAI_BASE_URL", server)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    report = json.loads(docket("ingest", str(docs), "--home", str(kb), "--json").stdout)
    assert report["added"] == 1 and report["warnings"] == []
    return kb


def expected_units(home: Path, category: str) -> int:
    """Computed from the file with the csv module, independently of Docket."""
    with (home.parent / "docs" / FILE).open(newline="") as f:
        return sum(int(r["Units"].replace(",", "")) for r in csv.DictReader(f) if r["Category"] == category)


def test_ask_json_carries_the_sql_and_rows(model: ScriptedModel, home: Path) -> None:
    model.replies[:] = ["```sql\nSELECT SUM(units) AS total_units FROM stock WHERE category = 'hardware'\n```"]
    out = json.loads(
        docket(
            "ask", "How many units of hardware do we hold?", "--model", "openai:m", "--home", str(home), "--json"
        ).stdout
    )
    expected = expected_units(home, "hardware")
    assert out["method"] == "sql" and out["abstained"] is False
    assert out["table"]["rows"] == [[expected]] and out["table"]["columns"] == ["total_units"]
    assert out["table"]["sql"].startswith("SELECT SUM(units)") and out["table"]["tables"] == ["stock"]
    assert out["answer"] == f"Total units: {expected:,} [1]"
    assert out["citations"][0]["path"] == FILE and out["citations"][0]["location"]["label"] == "rows 2-4"
    assert "CREATE TABLE stock" in model.prompts[0] and "units INTEGER" in model.prompts[0]


def test_ask_shows_the_sql_and_the_rows_to_people(model: ScriptedModel, home: Path) -> None:
    model.replies[:] = [
        "```sql\nSELECT category, SUM(units) AS units FROM stock GROUP BY category ORDER BY category\n```"
    ]
    out = docket("ask", "Total units per category?", "--model", "openai:m", "--home", str(home)).stdout
    assert f"| hardware | {expected_units(home, 'hardware'):,} |" in out
    assert f"| supplies | {expected_units(home, 'supplies')} |" in out
    assert "SQL" in out and "SELECT category, SUM(units) AS units FROM stock" in out
    assert f"[1] {FILE}" in out


def test_no_sql_keeps_the_ordinary_answer(model: ScriptedModel, home: Path) -> None:
    out = json.loads(
        docket(
            "ask", "How many units of hardware?", "--no-sql", "--model", "openai:m", "--home", str(home), "--json"
        ).stdout
    )
    assert out["method"] != "sql" and "table" not in out
    assert not any("CREATE TABLE" in p for p in model.prompts)


def test_sql_forces_the_table_path_and_a_failure_falls_back(model: ScriptedModel, home: Path) -> None:
    model.replies[:] = ["```sql\nSELECT nope FROM stock\n```", "```sql\nSELECT still_nope FROM stock\n```"]
    out = json.loads(docket("ask", "Glue stock", "--sql", "--model", "openai:m", "--home", str(home), "--json").stdout)
    assert out["method"] != "sql"
    assert any("the SQL query failed twice (no such column: still_nope)" in n for n in out["notes"])
    assert sum("CREATE TABLE" in p for p in model.prompts) == 2
