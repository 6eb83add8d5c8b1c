"""`docket run`, `docket workflows validate` and `docket workflows list` as a user runs them: the real
process, and for extraction a model server on 127.0.0.1 answering from a script."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import docket
from tests.scripted_model import ScriptedModel, scripted_model_server

SPEC = """\
title: Sales by product line
date_column: ORDERDATE
period: year            # or month, quarter
metrics:
  - {name: revenue, column: SALES, agg: sum}
  - {name: orders, column: ORDERNUMBER, agg: count_distinct}
breakdowns: [PRODUCTLINE]
"""


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with scripted_model_server(default="{}") as script:
        yield script


@pytest.fixture
def server(model: ScriptedModel) -> str:
    model.replies.clear()
    model.prompts.clear()
    return model.url


def test_report_contract_on_classic_columns(tmp_path: Path) -> None:
    data = tmp_path / "sales_data_sample.csv"
    with data.open("w", encoding="latin-1", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ORDERNUMBER", "QUANTITYORDERED", "SALES", "ORDERDATE", "PRODUCTLINE", "CUSTOMERNAME"])
        writer.writerow(["10107", "30", "2871", "2/24/2003 0:00", "Motorcycles", "Land of Toys Inc."])
        writer.writerow(["10121", "34", "2765.9", "5/7/2003 0:00", "Motorcycles", "Reims Collectables"])
        writer.writerow(["10134", "41", "3884.34", "7/1/2004 0:00", "Classic Cars", "Lyon Souveniers Café"])
    spec = tmp_path / "spec.yml"
    spec.write_text(SPEC)
    out = tmp_path / "report"
    result = json.loads(
        docket("run", "report", "--input", str(data), "--spec", str(spec), "--output", str(out), "--json").stdout
    )
    assert result["ok"] == 1 and result["failed"] == []
    html = (out / "report.html").read_text()
    assert html.count("<table>") == 4 and "<caption>By PRODUCTLINE</caption>" in html
    assert '<td>Motorcycles</td><td class="n">5,636.90</td>' in html
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "chart-by-productline.png").is_file()


def test_extract_over_a_loopback_model_server(
    model: ScriptedModel, tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Invoice 1 from Acme, total 10 USD")
    (docs / "b.txt").write_text("Invoice 2 from Beta, total 20 USD")
    good = {
        "vendor": "Acme",
        "number": "1",
        "date": None,
        "due_date": None,
        "currency": "USD",
        "total": 10,
        "tax": None,
        "line_items": [],
    }
    model.replies[:] = [json.dumps(good), "sorry", "still not json"]
    monkeypatch.setenv("DOCKET_OPENAI_BASE_URL", server)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    out = tmp_path / "out.jsonl"
    proc = docket(
        "run", "extract", "--input", str(docs), "--schema", "invoice", "--model", "openai:test",
        "--output", str(out), "--json", check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] == 1 and result["results"] == str(out)
    assert result["failed"][0]["item"] == "b.txt" and "after one repair" in result["failed"][0]["error"]
    assert [json.loads(line) for line in out.read_text().splitlines()] == [{"path": "a.txt", **good}]
    assert len(model.prompts) == 3 and "Invoice 1 from Acme" in model.prompts[0]
    log = Path(result["log"]).read_text()
    assert '"prompt_tokens": 100' in log


def test_extract_without_a_model_says_how_to_configure_one(tmp_path: Path) -> None:
    proc = docket("run", "extract", "--input", str(tmp_path), "--json", check=False)
    assert proc.returncode == 2
    error = json.loads(proc.stdout)["error"]
    assert error["code"] == "model_not_configured" and "--model openai:MODEL" in error["message"]


def test_validate_reports_file_line_and_field(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text("name: x\nsteps:\n  - id: a\n    kind: nope\n")
    proc = docket("workflows", "validate", str(flow), check=False)
    assert proc.returncode == 2
    assert (
        f"{flow}:4: steps[0].kind: unknown step 'nope'" in proc.stderr.replace("\n", " ")
        or "unknown step" in proc.stderr
    )
    flow.write_text("name: x\nsteps:\n  - id: a\n    kind: compute\n    queries: {n: 'SELECT 1'}\n")
    assert json.loads(docket("workflows", "validate", str(flow), "--json").stdout)["ok"] is True


def test_list_shows_builtins_and_steps() -> None:
    listed = json.loads(docket("workflows", "list", "--json").stdout)
    assert {"report", "extract", "ticket-triage", "support-reply"} <= {w["name"] for w in listed["workflows"]}
    steps = {"retrieve", "generate", "answer", "extract", "classify", "compute", "chart", "render", "condition"}
    assert steps | {"compose", "review", "webhook"} == set(listed["steps"])
