"""Batches: items per row, input schema checks, resume after an interruption, outputs, the run log."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from docket.errors import ModelNotConfiguredError
from docket.models.chat import FakeChatModel
from docket.workflows import parse_workflow, resolve_workflow, run_workflow

FLOW = """\
name: tag
inputs:
  type: object
  required: [text, amount]
  properties:
    amount: {type: string, pattern: "^[0-9]+$"}
steps:
  - id: label
    kind: classify
    labels: [small, large]
"""


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "amount"])
        writer.writerows([["a", "5"], ["b", "five"], ["c", "900"]])
    return path


def test_csv_rows_are_items_and_bad_input_names_the_field(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = run_workflow(
        parse_workflow(FLOW), str(_csv(tmp_path)), model=FakeChatModel(replies=["small", "large"]), output=out
    )
    assert summary.ok == 2
    assert summary.failed == [
        {
            "item": "row 2",
            "error": "input does not match the workflow's inputs schema: amount: 'five' does not match '^[0-9]+$'",
        }
    ]
    with out.open(newline="") as f:
        assert list(csv.DictReader(f)) == [{"row": "1", "result": "small"}, {"row": "3", "result": "large"}]


def test_interrupted_run_resumes_without_redoing_items(tmp_path: Path) -> None:
    flow = parse_workflow(FLOW.replace('pattern: "^[0-9]+$"', "minLength: 1"))
    out = tmp_path / "out.jsonl"

    class Interrupting(FakeChatModel):
        def complete(self, prompt: Any, stream: Any = None) -> Any:
            if len(self.prompts) == 2:
                raise KeyboardInterrupt
            return super().complete(prompt, stream)

    with pytest.raises(KeyboardInterrupt):
        run_workflow(flow, str(_csv(tmp_path)), model=Interrupting(replies=["small", "large"]), output=out)
    assert (tmp_path / "out.jsonl.progress").is_file()
    second = FakeChatModel(replies=["large"])
    summary = run_workflow(flow, str(_csv(tmp_path)), model=second, output=out)
    assert (summary.ok, summary.skipped, len(second.prompts)) == (3, 2, 1)
    assert [json.loads(line)["result"] for line in out.read_text().splitlines()] == ["small", "large", "large"]
    assert not (tmp_path / "out.jsonl.progress").exists()


def test_generation_without_a_model_fails_fast() -> None:
    with pytest.raises(ModelNotConfiguredError, match="--model openai:MODEL"):
        run_workflow(resolve_workflow("extract"), "-")


def test_every_run_is_logged_with_steps_prompts_and_tokens(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "x", "amount": "1"}\n')
    summary = run_workflow(parse_workflow(FLOW), str(data), model=FakeChatModel(replies=["small"]), runs_dir=runs)
    events = [json.loads(line) for line in Path(summary.log).read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "step", "item", "end"]
    call = events[1]["calls"][0]
    assert events[1]["output"] == "small" and "[system]" in call["prompt"] and call["prompt_tokens"] > 0
    assert events[-1]["ok"] == 1 and events[-1]["prompt_tokens"] == call["prompt_tokens"]


def test_compute_runs_user_queries_without_a_model(tmp_path: Path) -> None:
    data = tmp_path / "stock.csv"
    data.write_text('item,units\nbolt,"1,200"\nnut,800\n')
    flow = parse_workflow(
        "name: q\nbatch: false\nsteps:\n  - id: total\n    kind: compute\n"
        "    queries: {Units: 'SELECT SUM(units) AS units FROM data'}\n"
    )
    summary = run_workflow(flow, str(data))
    assert summary.results[0]["tables"][0]["rows"] == [[2000]]
