"""The built-in ticket-triage and support-reply workflows, with a scripted model and a small knowledge base."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.answer.extractive import ABSTAIN_TEXT
from docket.config import load_settings
from docket.errors import ModelNotConfiguredError
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.models.embedders import MiniLMEmbedder
from docket.workflows import BUILTIN, load_workflow, resolve_workflow, run_workflow

pytest.importorskip("jsonschema")

TICKETS = [
    ("I was charged twice for my March invoice, please refund one charge.", "Double charge", "ana@example.com"),
    ("The app crashes every time I open the reports page. We cannot work!", "App crash", ""),
    ("¿Dónde está mi pedido? Lo pedí hace dos semanas.", "", "luis@example.es"),
]


def _labels(category: str, priority: str, sentiment: str, language: str) -> str:
    return json.dumps({"category": category, "priority": priority, "sentiment": sentiment, "language": language})


def _tickets(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "subject", "from"])
        writer.writerows(TICKETS)
    return path


MODEL_BUILTINS = ["ticket-triage", "support-reply", "call-to-crm", "sales-followup", "extract"]


@pytest.mark.parametrize("name", MODEL_BUILTINS)
def test_builtin_definitions_validate(name: str) -> None:
    flow = load_workflow(BUILTIN / f"{name}.yml")  # what `docket workflows validate` runs
    assert flow.name == name and flow.needs_model


@pytest.mark.parametrize("name", MODEL_BUILTINS)
def test_builtins_without_a_model_fail_fast(name: str) -> None:
    with pytest.raises(ModelNotConfiguredError, match="--model openai:MODEL"):
        run_workflow(resolve_workflow(name), "-")


def test_triage_labels_each_row_and_maps_the_team(tmp_path: Path) -> None:
    model = FakeChatModel(
        replies=[
            _labels("billing", "high", "negative", "en"),
            "Here you go: ```json\n" + _labels("technical", "urgent", "negative", "en") + "\n```",
            _labels("shipping", "normal", "neutral", "es"),
        ]
    )
    out = tmp_path / "out.jsonl"
    summary = run_workflow(
        resolve_workflow("ticket-triage"),
        str(_tickets(tmp_path)),
        model=model,
        output=out,
        params={"team_shipping": "warehouse"},
    )
    assert summary.failed == [] and summary.ok == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [
        {
            "row": 1,
            "category": "billing",
            "priority": "high",
            "sentiment": "negative",
            "language": "en",
            "team": "billing",
        },
        {
            "row": 2,
            "category": "technical",
            "priority": "urgent",
            "sentiment": "negative",
            "language": "en",
            "team": "support-engineering",
        },
        {
            "row": 3,
            "category": "shipping",
            "priority": "normal",
            "sentiment": "neutral",
            "language": "es",
            "team": "warehouse",
        },
    ]
    first = model.prompts[0].user
    assert "Subject: Double charge" in first and "From: ana@example.com" in first and '"urgent"' in first
    assert "From:" not in model.prompts[1].user and "Subject:" not in model.prompts[2].user


def test_triage_runs_over_each_message_of_a_mailbox_file(tmp_path: Path) -> None:
    import mailbox
    from email.message import EmailMessage

    box_path = tmp_path / "support.mbox"
    box = mailbox.mbox(str(box_path))
    for subject, sender, body, attachment in [
        ("Double charge", "ana@example.com", "I was charged twice for March.", None),
        ("Broken export", "bo@example.com", "Exports fail, see the log attached.", "ERROR export timed out"),
    ]:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, sender, "support@example.com"
        message.set_content(body)
        if attachment:
            message.add_attachment(attachment.encode(), maintype="text", subtype="plain", filename="log.txt")
        box.add(message)
    box.close()
    model = FakeChatModel(
        replies=[_labels("billing", "normal", "negative", "en"), _labels("technical", "high", "negative", "en")]
    )
    out = tmp_path / "out.csv"
    summary = run_workflow(resolve_workflow("ticket-triage"), str(box_path), model=model, output=out)
    assert summary.failed == [] and summary.ok == 2
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["message"], r["category"], r["team"]) for r in rows] == [
        ("1", "billing", "billing"),
        ("2", "technical", "support-engineering"),
    ]
    first, second = (p.user for p in model.prompts)
    assert "Subject: Double charge" in first and "From: ana@example.com" in first
    assert "Subject: Broken export" in second and "ERROR export timed out" in second  # the attachment is read


def test_triage_repairs_a_label_outside_the_set_then_fails_the_item(tmp_path: Path) -> None:
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"text": "Where is my parcel?"}) + "\n")
    bad = _labels("delivery", "normal", "neutral", "en")
    fixed = run_workflow(
        resolve_workflow("ticket-triage"),
        str(data),
        model=FakeChatModel(replies=[bad, _labels("shipping", "low", "neutral", "en")]),
    )
    assert fixed.results == [
        {
            "line": 1,
            "category": "shipping",
            "priority": "low",
            "sentiment": "neutral",
            "language": "en",
            "team": "logistics",
        }
    ]
    failed = run_workflow(resolve_workflow("ticket-triage"), str(data), model=FakeChatModel(replies=[bad, bad]))
    assert failed.ok == 0 and "category: 'delivery' is not one of" in failed.failed[0]["error"]


@pytest.fixture(scope="module")
def support_kb(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("support")
    docs = root / "docs"
    docs.mkdir()
    (docs / "returns.txt").write_text(
        "Returns policy.\n\nCustomers may return any unused item within 30 days of delivery for a full refund. "
        "Refunds are paid to the original payment method within 5 business days of receiving the return.\n",
        encoding="utf-8",
    )
    (docs / "shipping.txt").write_text(
        "Shipping.\n\nStandard shipping takes 3 to 5 business days within the country. "
        "Express shipping arrives the next business day when ordered before 2 pm.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(load_settings(home=root / "kb"), embedder=minilm)
    report = kb.ingest([str(docs)])
    assert report.failed == []
    yield kb
    kb.close()


DRAFT = "Hello, you may return any unused item within 30 days of delivery for a full refund [1]."


def _reply(kb: KnowledgeBase, tmp_path: Path, ticket: dict[str, str], replies: list[str]) -> tuple[Any, FakeChatModel]:
    data = tmp_path / "ticket.jsonl"
    data.write_text(json.dumps(ticket) + "\n")
    model = FakeChatModel(replies=replies)
    summary = run_workflow(resolve_workflow("support-reply"), str(data), model=model, kb=lambda: kb)
    assert summary.failed == []
    return summary.results[0], model


def test_support_reply_on_a_covered_question_is_a_cited_draft(support_kb: KnowledgeBase, tmp_path: Path) -> None:
    ticket = {"subject": "Returning a jacket", "text": "How many days do I have to return an unused item for a refund?"}
    result, model = _reply(support_kb, tmp_path, ticket, ["neutral", DRAFT])
    assert result["escalate"] is False and result["reason"] is None
    assert result["sentiment"] == "neutral" and result["confidence"] >= 0.5
    assert result["citations"] and result["citations"][0]["path"].endswith("returns.txt")
    assert "30 days" in result["draft"] and "[1]" in result["draft"]
    answer_prompt = model.prompts[1]
    assert "Never promise anything beyond what the documents state" in answer_prompt.system
    assert "Returning a jacket" in answer_prompt.user


def test_support_reply_escalates_an_uncovered_question(support_kb: KnowledgeBase, tmp_path: Path) -> None:
    ticket = {"text": "Can your team integrate our payroll software with the Kubernetes cluster in Frankfurt?"}
    result, model = _reply(support_kb, tmp_path, ticket, ["neutral", ABSTAIN_TEXT])
    assert result["escalate"] is True and result["citations"] == []
    assert result["reason"] == "the documents do not cover this question"
    assert len(model.prompts) == 2  # the model saw the closest passages and said they do not answer it


def test_support_reply_escalates_an_angry_customer(support_kb: KnowledgeBase, tmp_path: Path) -> None:
    ticket = {"text": "This is the THIRD time I ask! How many days do I have to return an unused item for a refund?"}
    result, _ = _reply(support_kb, tmp_path, ticket, ["angry", DRAFT])
    assert result["escalate"] is True and result["reason"] == "the customer is upset (angry)"
    assert result["citations"] and "30 days" in result["draft"]


def test_support_reply_thresholds_are_params(support_kb: KnowledgeBase, tmp_path: Path) -> None:
    data = tmp_path / "ticket.jsonl"
    data.write_text(json.dumps({"text": "How many days do I have to return an unused item for a refund?"}) + "\n")
    summary = run_workflow(
        resolve_workflow("support-reply"),
        str(data),
        model=FakeChatModel(replies=["negative", DRAFT]),
        kb=lambda: support_kb,
        params={"min_confidence": "1.01", "escalate_moods": "angry"},
    )
    result = summary.results[0]
    assert result["escalate"] is True and result["reason"].startswith("low confidence (")
    assert "upset" not in result["reason"]
