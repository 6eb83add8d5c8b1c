"""docket check, the reality check: variants, failure causes, the model alone, and the command end to end on
the demo handbook, without a model (extractive) and with a real one (llama.cpp's server with SmolLM2)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.answer.extractive import ABSTAIN_TEXT
from docket.config import load_settings
from docket.errors import UserError
from docket.evals.check import (
    DEFAULT_VARIANTS,
    MODEL_ALONE_SYSTEM,
    Variant,
    failure_cause,
    model_alone_prompt,
    parse_variants,
    run_check,
)
from docket.evals.datasets import EvalItem, SourceRef, TestSet
from docket.evals.results import ItemResult
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.types import Answer, Hit, Location
from tests.cli.conftest import docket
from tests.conftest import DEMO
from tests.models.conftest import llama_cpp_server

FOLDERS = ("Benefits and Perks", "Operations Documents")
# 9 questions answered in those folders, 2 whose documents do not exist, 1 no document can answer
QUESTIONS = [
    ("parent-leave", "How many weeks of paid new parent leave does Clef offer?", "12 weeks", "New Parent Leave.md"),
    ("sabbatical", "How often can employees take a paid sabbatical?", "every 5 years", "Sabbatical.md"),
    ("sabbatical-notice", "How far in advance must the team be told about a sabbatical?", "4 weeks", "Sabbatical.md"),
    ("referral", "How much is the referral bonus for a new hire?", "$5,000", "Referral Bonuses.md"),
    ("learning", "What is the annual learning budget of each employee?", "$4,000", "Continuing Education.md"),
    ("vacation", "How many days of paid vacation do employees get each year?", "15 days", "Vacation and Sick Leave.md"),
    ("sick-cap", "What is the most sick leave an employee can accrue?", "5 days", "Vacation and Sick Leave.md"),
    ("hack-week", "Which week of every quarter is a hack week?", "the sixth week", "Hack Weeks.md"),
    ("hack-team", "How many people can work on one hack week project?", "up to 4 people", "Hack Weeks.md"),
    ("mileage", "What is the mileage reimbursement rate for business travel?", "58 cents a mile", "Travel.md"),
    ("laptops", "Which vendor supplies the company laptops?", "Apple", "IT Equipment.md"),
]
SET = TestSet(
    "clef-check",
    (
        *(EvalItem(i, q, a, (SourceRef(s),)) for i, q, a, s in QUESTIONS),
        EvalItem("stock", "What was the closing price of Clef stock yesterday?", unanswerable=True),
    ),
)
SECTIONS = ('<section id="verdict">', '<section id="variants">', '<section id="charts">', '<section id="failures">')


def _docs(root: Path) -> Path:
    docs = root / "docs"
    for folder in FOLDERS:
        shutil.copytree(DEMO / folder, docs / folder)
    return docs


def _set_file(root: Path) -> Path:
    path = root / "clef-check.json"
    path.write_text(json.dumps({"name": SET.name, "questions": [i.to_data() for i in SET.items]}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fake_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The two folders indexed with the deterministic fake embedder (fast; for the logic)."""
    root = tmp_path_factory.mktemp("check-fake")
    settings = load_settings(home=root / "kb", overrides={"embedder": {"name": "fake"}}, environ={})
    kb = KnowledgeBase(settings)
    kb.ingest([str(_docs(root))])
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A knowledge base of the two folders made by `docket ingest` (the real embedder), and the set's file."""
    root = tmp_path_factory.mktemp("check-cli")
    home = root / "kb"
    docket("ingest", str(_docs(root)), "--home", str(home), "--json")
    return home, _set_file(root)


# ---------------------------------------------------------------------------------------- pieces
def test_the_model_alone_is_sent_the_question_and_no_sources() -> None:
    prompt = model_alone_prompt("  How long is parental leave? ")
    assert prompt.system == MODEL_ALONE_SYSTEM and ABSTAIN_TEXT in prompt.system
    assert prompt.user == "Question: How long is parental leave?"
    assert "<source" not in prompt.render()


def test_variants_are_parsed_with_clear_errors() -> None:
    assert [v.name for v in parse_variants(None)] == list(DEFAULT_VARIANTS)
    parsed = parse_variants("keyword, chunks:512,TOP-K:3,rerank,keyword,docket")
    assert parsed == [
        Variant("keyword", "search", "keyword"),
        Variant("chunks:512", "chunks", 512),
        Variant("top-k:3", "top-k", 3),
        Variant("rerank", "rerank"),
    ]
    with pytest.raises(UserError, match=r"unknown variant 'bm25'.*keyword, semantic, rerank"):
        parse_variants("bm25")
    with pytest.raises(UserError, match="chunks:9999: use a number from 32 to 2048"):
        parse_variants("chunks:9999")
    with pytest.raises(UserError, match="unknown variant 'top-k'"):
        parse_variants("top-k")


def _hit(path: str, score: float, text: str = "text") -> Hit:
    return Hit(1, path, "/docs", path, path, text, Location(), score)


def _result(item: EvalItem, hits: list[Hit], **fields: Any) -> ItemResult:
    answer = Answer(item.question, fields.pop("text", "It is 9 weeks."), fields.pop("abstained", False))
    return ItemResult(item, hits=hits, answer=answer, correct=False, **fields)


def test_each_failure_cause_by_its_rule() -> None:
    leave = EvalItem("q", "How long is leave?", "twelve weeks of paid leave", (SourceRef("leave.md"),))
    off = EvalItem("off", "Stock price?", unanswerable=True)
    bare = EvalItem("bare", "Who?", "Ann")
    missing = _result(leave, [], missing_sources=[SourceRef("leave.md")])
    missed = _result(leave, [_hit("other.md", 0.9)], retrieved_relevant=False)
    close = _result(leave, [_hit("leave.md", 0.90), _hit("other.md", 0.88)], retrieved_relevant=True, rank=1)
    apart = _result(leave, [_hit("leave.md", 0.90), _hit("other.md", 0.50)], retrieved_relevant=True, rank=1)
    twice = _result(
        leave,
        [
            _hit("leave.md", 0.9, "We give twelve weeks of paid leave."),
            _hit("x.md", 0.4, "Twelve weeks of paid leave!"),
        ],
        retrieved_relevant=True,
        rank=1,
    )
    assert failure_cause(_result(off, [])) == ("model", "answered a question the documents cannot answer")
    assert failure_cause(_result(bare, []))[0] == "unknown"
    assert failure_cause(missing) == ("not_in_kb", "not indexed: leave.md")
    assert failure_cause(missed)[0] == "retrieval_missed"
    assert failure_cause(close) == ("ambiguous", "other.md scores within 5% of the source")
    assert failure_cause(twice) == ("ambiguous", "the reference answer appears in leave.md, x.md")
    assert failure_cause(apart) == ("model", "wrong answer with the source retrieved (rank 1)")
    abstained = _result(leave, [_hit("leave.md", 0.9)], retrieved_relevant=True, rank=1, abstained=True)
    assert failure_cause(abstained)[1].startswith("abstained")


# ---------------------------------------------------------------------------------------- the check
def test_the_check_runs_the_model_alone_docket_and_variants(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    model = FakeChatModel()  # echoes its first source's first sentence; with no sources it abstains
    logged = fake_kb.ledger.answer_logs(limit=1000)
    chunks = fake_kb.store.stats()["chunks"]
    result = run_check(
        fake_kb, SET, model=model, variants=parse_variants("keyword,rerank,top-k:2,chunks:128"), workdir=tmp_path
    )
    status = {r.variant.name: r.status for r in result.results}
    assert status == {
        "model-alone": "ran",
        "docket": "ran",
        "keyword": "ran",
        "rerank": "not available",
        "top-k:2": "ran",
        "chunks:128": "ran",
    }
    alone, base = result.result("model-alone"), result.result("docket")
    assert alone is not None and alone.report is not None and base is not None and base.report is not None
    # the model alone: the visible prompt, no sources, no citations, scored like the others
    sent = [p for p in model.prompts if p.system == MODEL_ALONE_SYSTEM]
    assert len(sent) == len(SET.items) and all("<source" not in p.user for p in sent)
    assert all(r.answer is not None and not r.answer.citations for r in alone.report.items)
    assert alone.figures["retrieval"] is None and alone.figures["accuracy"] is not None
    assert base.figures["retrieval"]["recall@10"] is not None and base.figures["accuracy"] is not None
    # failures by cause: the two missing documents, and the unanswerable question the fake model answered
    assert [f.item.id for f in result.failures if f.cause == "not_in_kb"] == ["mileage", "laptops"]
    assert result.causes()["not_in_kb"] == 2 and sum(result.causes().values()) == len(result.failures)
    # the verdict comes from the rules
    assert result.verdict.text and set(result.verdict.rules_fired) <= {
        "model_alone_enough",
        "retrieval_worth_it",
        "write_documents",
        "retrieval_settings",
        "model_misreads",
        "access_workflow",
        "accuracy",
        "better_variant",
        "small_set",
    }
    assert "small_set" in result.verdict.rules_fired  # 12 questions
    # nothing written to the answer log, the index unchanged, the temporary index removed
    assert fake_kb.ledger.answer_logs(limit=1000) == logged
    assert fake_kb.store.stats()["chunks"] == chunks
    assert not list(tmp_path.iterdir())
    summary = result.summary(tmp_path / "report.html")
    assert [v["name"] for v in summary["variants"]] == list(status)
    assert all({"name", "accuracy", "retrieval", "cost", "latency_ms"} <= set(v) for v in summary["variants"])
    assert isinstance(summary["verdict"], str) and summary["failures"]["not_in_kb"] == 2


def test_without_a_model_the_model_alone_is_not_run(fake_kb: KnowledgeBase) -> None:
    result = run_check(fake_kb, SET, variants=parse_variants("semantic,hybrid"))
    alone = result.result("model-alone")
    assert alone is not None and alone.status == "not run" and "--model" in alone.note
    assert {r.variant.name: r.status for r in result.results}["hybrid"] == "skipped"  # the configured mode
    assert result.model is None and "no_model" in result.verdict.rules_fired
    base = result.result("docket")
    assert base is not None and base.report is not None
    assert all(r.answer is not None and r.answer.method == "extractive" for r in base.report.items)


# ---------------------------------------------------------------------------------------- end to end
def _check_report(out: Path, summary: dict[str, Any]) -> str:
    assert summary["report"] == str(out / "report.html")
    page = (out / "report.html").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in page, section
    assert "<svg" in page and "<table" in page
    assert "<script" not in page and not [u for u in ('src="http', 'href="http', "url(http") if u in page]
    assert "fired" in page and "Failures by cause" in page
    assert isinstance(summary["verdict"], str) and summary["verdict"]
    for variant in summary["variants"]:
        assert {"name", "status", "accuracy", "retrieval", "cost", "latency_ms"} <= set(variant)
    return page


@pytest.mark.slow
def test_docket_check_without_a_model(indexed: tuple[Path, Path], tmp_path: Path) -> None:
    home, set_file = indexed
    out = tmp_path / "out"
    args = ("check", str(set_file), "--output", str(out), "--variants", "keyword,rerank,chunks:128")
    summary = json.loads(docket(*args, "--home", str(home), "--json").stdout)
    page = _check_report(out, summary)
    by_name = {v["name"]: v for v in summary["variants"]}
    assert list(by_name) == ["model-alone", "docket", "keyword", "rerank", "chunks:128"]
    assert by_name["model-alone"]["status"] == "not run" and by_name["model-alone"]["accuracy"] is None
    assert by_name["rerank"]["status"] == "not available"
    for name in ("docket", "keyword", "chunks:128"):
        assert by_name[name]["status"] == "ran"
        assert by_name[name]["retrieval"]["recall@10"] is not None and by_name[name]["accuracy"] is not None
    assert summary["model"] is None and "no_model" in summary["rules_fired"]
    assert summary["failures"]["not_in_kb"] == 2
    assert "Travel" in " ".join(summary["next_steps"])
    assert "not available" in page and "extractive" in page


@pytest.mark.slow
def test_docket_check_with_a_real_model(
    indexed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, set_file = indexed
    with llama_cpp_server(tmp_path) as base:
        monkeypatch.setenv("DOCKET_OPENAI_BASE_URL", base)
        monkeypatch.setenv("OPENAI_API_KEY", "not-needed")
        # a short answer and two passages keep SmolLM2 quick on a small machine
        monkeypatch.setenv("DOCKET_MODEL__MAX_TOKENS", "48")
        monkeypatch.setenv("DOCKET_ANSWER__TOP_K", "2")
        out = tmp_path / "out"
        args = ("check", str(set_file), "--model", "openai:local", "--output", str(out), "--variants", "rerank")
        summary = json.loads(docket(*args, "--home", str(home), "--json").stdout)
    _check_report(out, summary)
    by_name = {v["name"]: v for v in summary["variants"]}
    assert summary["model"] == "openai:local"
    assert by_name["model-alone"]["status"] == "ran" and by_name["model-alone"]["retrieval"] is None
    assert by_name["model-alone"]["accuracy"] is not None and by_name["model-alone"]["tokens"] > 0
    assert by_name["docket"]["accuracy"] is not None and by_name["docket"]["tokens"] > 0
    assert by_name["rerank"]["status"] == "not available"
    assert "no_model" not in summary["rules_fired"]
