"""`docket eval run` / `docket eval generate` as a user runs them: real processes, exit codes, files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import docket
from tests.conftest import DEMO

SET = """\
questions:
  - id: leave
    question: How many weeks of paid parental leave does Clef offer?
    answer: 12 weeks
    sources: [New Parent Leave.md]
  - id: sabbatical
    question: How long is the sabbatical after five years?
    sources: [Sabbatical.md]
  - id: travel
    question: What is the per diem for travel?
    sources: [Travel Policy.md]
  - id: off
    question: Who painted the ceiling of the Sistine Chapel?
    unanswerable: true
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval-cli")
    shutil.copytree(DEMO / "Benefits and Perks", root / "benefits")
    docket("ingest", str(root / "benefits"), "--home", str(root / "kb"), "--json")
    return root / "kb"


def test_eval_run_prints_the_contract_json_and_writes_a_report(home: Path, tmp_path: Path) -> None:
    (tmp_path / "set.yml").write_text(SET)
    proc = docket(
        "eval", "run", str(tmp_path / "set.yml"), "--home", str(home), "--json", "--output", str(tmp_path / "out")
    )
    out = json.loads(proc.stdout)
    assert {"hit@5", "recall@10", "mrr", "ndcg@10"} <= set(out["retrieval"])
    assert {"exact_match", "token_f1"} <= set(out["answers"])
    assert set(out["latency_ms"]) == {"p50", "p95"} and "correct_abstention" in out["abstention"]
    assert out["missing_sources"] == ["Travel Policy.md"]
    assert any("no model configured" in line for line in out["not_measured"])
    assert "gate" not in out
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<table>" in html and "ndcg@10" in html and "<script" not in html
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [item["id"] for item in report["items"]] == ["leave", "sabbatical", "travel", "off"]


def test_the_gate_exits_1_naming_the_metrics_that_got_worse_and_0_when_none_did(home: Path, tmp_path: Path) -> None:
    (tmp_path / "set.yml").write_text(SET)
    args = ["eval", "run", str(tmp_path / "set.yml"), "--home", str(home), "--retrieval-only"]
    baseline = json.loads(docket(*args, "--json").stdout)
    (tmp_path / "same.json").write_text(json.dumps(baseline))
    passed = docket(*args, "--baseline", str(tmp_path / "same.json"), "--fail-below", "retrieval.hit@10=0.5")
    assert "Gate passed" in passed.stdout
    assert "Travel Policy.md" in passed.stdout  # missing sources are listed in the terminal too
    better = json.loads(json.dumps(baseline))
    better["retrieval"]["mrr"] = baseline["retrieval"]["mrr"] + 0.25  # the baseline was better than now
    (tmp_path / "better.json").write_text(json.dumps(better))
    failed = docket(
        *args, "--baseline", str(tmp_path / "better.json"), "--fail-below", "retrieval.ndcg@10=1.5", check=False
    )
    assert failed.returncode == 1
    assert "retrieval.mrr fell from" in failed.stdout and "-0.25" in failed.stdout
    assert "retrieval.ndcg@10 is" in failed.stdout and "below the floor 1.5" in failed.stdout
    as_json = docket(*args, "--json", "--fail-below", "answers.judge=0.5", check=False)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["gate"] == {
        "passed": False,
        "failures": ["answers.judge was not measured (floor 0.5)"],
    }


def test_bad_input_exits_2_with_one_line_naming_file_line_and_field(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("question,sources\nFine?,a.md\n,b.md\n")
    proc = docket("eval", "run", str(bad), "--home", str(home), check=False)
    assert proc.returncode == 2
    assert f"{bad}, line 3: field 'question'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    good = tmp_path / "good.yml"
    good.write_text(SET)
    floor = docket("eval", "run", str(good), "--home", str(home), "--fail-below", "ndcg=0.5", check=False)
    assert floor.returncode == 2 and "--fail-below 'ndcg=0.5'" in floor.stderr
    base = docket("eval", "run", str(good), "--home", str(home), "--baseline", str(tmp_path / "nope.json"), check=False)
    assert base.returncode == 2 and "nope.json: no such file" in base.stderr
    empty = docket("eval", "run", str(good), "--home", str(tmp_path / "empty-kb"), check=False)
    assert empty.returncode == 2 and "no documents" in empty.stderr


def test_eval_generate_writes_a_set_that_eval_run_reads(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "drafts.yml"
    proc = docket("eval", "generate", "--output", str(target), "-n", "6", "--home", str(home), "--json")
    summary = json.loads(proc.stdout)
    assert summary == {
        "path": str(target),
        "questions": 11,
        "answerable": 6,
        "unanswerable": 5,
        "documents": 6,
        "generated": True,
    }
    run = docket("eval", "run", str(target), "--home", str(home), "--json", "--retrieval-only", "--limit", "8")
    out = json.loads(run.stdout)
    assert out["counts"]["questions"] == out["counts"]["generated"] == 8 and out["missing_sources"] == []
    assert out["retrieval"]["hit@5"] >= 0.5
