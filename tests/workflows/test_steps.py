"""Model steps with scripted replies: extract's schema check and repair, classify, the narrative's figures."""

from __future__ import annotations

import json
from pathlib import Path

from docket.models.chat import FakeChatModel
from docket.workflows import parse_workflow, resolve_workflow, run_workflow

INVOICE = {
    "vendor": "Acme Ltd",
    "number": "INV-7",
    "date": "2024-03-01",
    "due_date": "2024-03-31",
    "currency": "EUR",
    "total": 121.0,
    "tax": 21.0,
    "line_items": [{"description": "Widgets", "quantity": 10, "unit_price": 10.0, "amount": 100.0}],
}


def _docs(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "invoices"
    folder.mkdir()
    for i in range(n):
        (folder / f"inv{i}.txt").write_text(f"Invoice INV-{i} from Acme Ltd. Total EUR 121.00")
    return folder


def test_extract_valid_repaired_and_failed_items(tmp_path: Path) -> None:
    bad = {**INVOICE, "total": "about a hundred"}  # "121 euros" would be read as 121 without asking again
    model = FakeChatModel(
        replies=[
            "```json\n" + json.dumps(INVOICE) + "\n```",  # inv0: valid at once
            json.dumps(bad),  # inv1: invalid...
            json.dumps(INVOICE),  # ...repaired
            "not json at all",  # inv2: invalid...
            json.dumps(bad),  # ...and still invalid
        ]
    )
    out = tmp_path / "out.jsonl"
    summary = run_workflow(
        resolve_workflow("extract"), str(_docs(tmp_path, 3)), model=model, output=out, runs_dir=tmp_path / "runs"
    )
    assert summary.ok == 2
    assert summary.failed == [
        {
            "item": "inv2.txt",
            "error": "step 'fields' (extract): the model's output does not match the schema after one repair: "
            "total: 'about a hundred' is not of type 'number', 'null'",
        }
    ]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in rows] == ["inv0.txt", "inv1.txt"]
    assert rows[1]["total"] == 121.0
    repair = model.prompts[2].user
    assert "It is not valid: total: 'about a hundred' is not of type" in repair
    assert "<document>\nInvoice INV-1 from Acme Ltd." in model.prompts[1].user


def test_extract_repairs_the_form_of_a_reply_without_asking_again(tmp_path: Path) -> None:
    sloppy = {**INVOICE, "date": "March 1, 2024", "total": "EUR 121.00", "tax": "", "currency": "€"}
    model = FakeChatModel(replies=[json.dumps(sloppy)])
    summary = run_workflow(resolve_workflow("extract"), str(_docs(tmp_path, 1)), model=model)
    assert summary.failed == [] and len(model.prompts) == 1
    row = summary.results[0]
    assert (row["date"], row["total"], row["tax"], row["currency"]) == ("2024-03-01", 121.0, None, "EUR")


def test_classify_retries_once_then_fails(tmp_path: Path) -> None:
    flow = parse_workflow("name: t\nsteps:\n  - id: label\n    kind: classify\n    labels: [billing, bug]\n")
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "I was charged twice"}\n{"text": "It crashes"}\n')
    model = FakeChatModel(replies=["Billing.", "maybe", "no idea"])
    summary = run_workflow(flow, str(data), model=model)
    assert summary.results == [{"line": 1, "result": "billing"}]
    assert summary.failed[0]["item"] == "line 2" and "not one of the labels" in summary.failed[0]["error"]


def _sales(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "sales.csv"
    data.write_text("Date,Sales,Line\n2024-01-05,100.5,A\n2024-02-01,200,B\n2025-03-01,50,A\n")
    spec = tmp_path / "spec.yml"
    spec.write_text(
        "title: T\ndate_column: Date\nmetrics: [{name: revenue, column: Sales, agg: sum}]\nbreakdowns: [Line]\n"
    )
    return data, spec


def test_narrative_quoting_only_computed_figures_is_kept(tmp_path: Path) -> None:
    data, spec = _sales(tmp_path)
    model = FakeChatModel(replies=["Revenue was 350.5 in total: 300.5 in 2024 and 50 in 2025."])
    summary = run_workflow(
        resolve_workflow("report"), str(data), model=model, params={"spec": str(spec)}, output=tmp_path / "out"
    )
    html = (tmp_path / "out" / "report.html").read_text()
    assert summary.ok == 1 and "Revenue was 350.5 in total" in html
    assert "<p>Revenue" in html and "2024" in model.prompts[0].user


def test_narrative_with_invented_figures_is_retried_then_dropped(tmp_path: Path) -> None:
    data, spec = _sales(tmp_path)
    model = FakeChatModel(replies=["Revenue grew 12% to 351.", "Revenue rose by 999."])
    summary = run_workflow(
        resolve_workflow("report"), str(data), model=model, params={"spec": str(spec)}, output=tmp_path / "out"
    )
    html = (tmp_path / "out" / "report.html").read_text()
    assert len(model.prompts) == 2 and "12%" in model.prompts[1].user
    assert "Revenue rose by 999" not in html and "text was dropped" in html
    assert summary.ok == 1 and any("dropped" in n for n in summary.notes)


def test_a_failing_model_leaves_the_optional_narrative_out_not_the_report(tmp_path: Path) -> None:
    from docket.errors import ModelError

    class Down(FakeChatModel):
        def complete(self, prompt: object, stream: object = None) -> object:
            raise ModelError("openai:local at http://127.0.0.1:9/v1: no answer within 60s")

    data, spec = _sales(tmp_path)
    summary = run_workflow(
        resolve_workflow("report"), str(data), model=Down(), params={"spec": str(spec)}, output=tmp_path / "out"
    )
    assert summary.ok == 1 and (tmp_path / "out" / "report.pdf").is_file()
    assert "<table" in (tmp_path / "out" / "report.html").read_text()
    assert any("left out, the model call failed: openai:local" in n for n in summary.notes)
