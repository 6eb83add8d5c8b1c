"""The built-in call-to-crm and sales-followup workflows, with a scripted model and a small knowledge base.
(That every built-in validates and needs a model is checked in test_builtins.py.)"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.models.embedders import MiniLMEmbedder
from docket.workflows import resolve_workflow, run_workflow

pytest.importorskip("jsonschema")

CALLS = {
    "acme.txt": "Sam: Thanks for joining, Dana. Dana Lee here, ops lead at Acme Robotics, dana@acme.io, "
    "555-0100. We need to cut onboarding time for new technicians. Budget is about 12,000 dollars and we "
    "want to decide by end of Q3. My worry is the migration effort and the per-seat price. "
    "Sam: I'll send a proposal on Friday.",
    "brightside.txt": "Call with Omar from Brightside Dental. He wants appointment reminders by SMS. "
    "No budget yet. Timeline: next quarter. No concerns raised. Next: a demo next Tuesday.",
}

ACME = {
    "contact": {"name": "Dana Lee", "email": "dana@acme.io", "phone": "555-0100"},
    "company": "Acme Robotics",
    "need": "Cut onboarding time for new technicians.",
    "budget": {"amount": 12000, "currency": "USD"},
    "timeline": "by end of Q3",
    "objections": ["migration effort", "per-seat price"],
    "next_step": "Send a proposal on Friday",
}
BRIGHTSIDE = {
    "contact": {"name": "Omar", "email": None, "phone": None},
    "company": "Brightside Dental",
    "need": "Appointment reminders by SMS.",
    "budget": None,
    "timeline": "next quarter",
    "objections": [],
    "next_step": "Demo next Tuesday",
}


def _calls(tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    for name, text in CALLS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_call_to_crm_writes_an_importable_csv(tmp_path: Path) -> None:
    model = FakeChatModel(replies=[json.dumps(ACME), "```json\n" + json.dumps(BRIGHTSIDE) + "\n```"])
    out = tmp_path / "crm.csv"
    summary = run_workflow(resolve_workflow("call-to-crm"), str(_calls(tmp_path)), model=model, output=out)
    assert summary.failed == [] and summary.ok == 2
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {
            "path": "acme.txt",
            "contact_name": "Dana Lee",
            "contact_email": "dana@acme.io",
            "contact_phone": "555-0100",
            "company": "Acme Robotics",
            "need": "Cut onboarding time for new technicians.",
            "budget_amount": "12000",
            "budget_currency": "USD",
            "timeline": "by end of Q3",
            "objections": "migration effort; per-seat price",
            "next_step": "Send a proposal on Friday",
        },
        {
            "path": "brightside.txt",
            "contact_name": "Omar",
            "contact_email": "",
            "contact_phone": "",
            "company": "Brightside Dental",
            "need": "Appointment reminders by SMS.",
            "budget_amount": "",
            "budget_currency": "",
            "timeline": "next quarter",
            "objections": "",
            "next_step": "Demo next Tuesday",
        },
    ]
    assert not any(value.startswith(("{", "[")) for row in rows for value in row.values())  # no JSON cells
    assert "Dana Lee here" in model.prompts[0].user and '"objections"' in model.prompts[0].user


def test_call_to_crm_jsonl_keeps_typed_values(tmp_path: Path) -> None:
    data = tmp_path / "calls.jsonl"
    data.write_text(json.dumps({"text": CALLS["acme.txt"]}) + "\n")
    summary = run_workflow(resolve_workflow("call-to-crm"), str(data), model=FakeChatModel(replies=[json.dumps(ACME)]))
    result = summary.results[0]
    assert result["line"] == 1 and result["budget_amount"] == 12000 and result["contact_email"] == "dana@acme.io"


def test_call_to_crm_repairs_once_then_fails_the_item(tmp_path: Path) -> None:
    bad = json.dumps({**ACME, "budget": {"amount": "12k", "currency": "dollars"}})
    fixed = run_workflow(
        resolve_workflow("call-to-crm"),
        str(_calls(tmp_path)),
        model=FakeChatModel(replies=[bad, json.dumps(ACME), json.dumps(BRIGHTSIDE)]),
    )
    assert fixed.failed == [] and [r["budget_amount"] for r in fixed.results] == [12000, None]

    model = FakeChatModel(replies=[bad, bad, json.dumps(BRIGHTSIDE)])
    out = tmp_path / "crm.csv"
    failed = run_workflow(resolve_workflow("call-to-crm"), str(tmp_path / "calls"), model=model, output=out)
    assert failed.ok == 1 and len(failed.failed) == 1 and len(model.prompts) == 3
    assert failed.failed[0]["item"] == "acme.txt"
    error = failed.failed[0]["error"]
    assert error.startswith("step 'crm' (extract): the model's output does not match the schema after one repair")
    assert "budget" in error
    assert "It is not valid: budget" in model.prompts[1].user  # the repair prompt names the problem
    with out.open(newline="", encoding="utf-8") as f:
        assert [row["company"] for row in csv.DictReader(f)] == ["Brightside Dental"]


@pytest.fixture(scope="module")
def product_kb(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("product")
    docs = root / "docs"
    docs.mkdir()
    (docs / "sso.txt").write_text(
        "Single sign-on.\n\nThe Business plan supports single sign-on (SSO) with Okta, Azure AD and Google "
        "Workspace through SAML 2.0. Administrators enable SSO from the security settings page.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(load_settings(home=root / "kb"), embedder=minilm)
    report = kb.ingest([str(docs)])
    assert report.failed == []
    yield kb
    kb.close()


def _email(subject: str, body: str, sources: list[int]) -> str:
    return json.dumps(
        {"subject": subject, "body": body, "next_steps": ["Book a 30-minute SSO setup call"], "sources": sources}
    )


NOTES = "Priya asked whether the Business plan supports single sign-on with Okta. They have 40 staff."


def _followup(kb: KnowledgeBase, tmp_path: Path, item: dict[str, Any], replies: list[str]) -> tuple[Any, Any]:
    data = tmp_path / "prospects.jsonl"
    data.write_text(json.dumps(item) + "\n")
    model = FakeChatModel(replies=replies)
    summary = run_workflow(
        resolve_workflow("sales-followup"), str(data), model=model, kb=lambda: kb, params={"sender": "Maria"}
    )
    assert summary.failed == []
    return summary.results[0], model


def test_sales_followup_is_personal_and_cites_the_docs(product_kb: KnowledgeBase, tmp_path: Path) -> None:
    item = {"notes": NOTES, "prospect": {"name": "Priya Shah", "company": "Northwind", "email": "priya@northwind.com"}}
    reply = _email(
        "Northwind: SSO with Okta on the Business plan",
        "Hi Priya,\n\nThe Business plan supports single sign-on with Okta through SAML 2.0 [1].\n\nMaria",
        [1],
    )
    result, model = _followup(product_kb, tmp_path, item, [reply])
    assert "Northwind" in result["subject"] and result["body"].startswith("Hi Priya")
    assert result["to"] == "priya@northwind.com" and result["next_steps"] == ["Book a 30-minute SSO setup call"]
    assert [c["path"] for c in result["citations"]] == [result["citations"][0]["path"]]
    assert result["citations"][0]["path"].endswith("sso.txt") and "Okta" in result["citations"][0]["text"]
    prompt = model.prompts[0]
    assert "- name: Priya Shah" in prompt.user and "- company: Northwind" in prompt.user
    assert "[1] (" in prompt.user and "SAML 2.0" in prompt.user and NOTES in prompt.user
    assert "signed by Maria" in prompt.system and "Promise nothing the documentation does not state" in prompt.system


def test_sales_followup_takes_a_flat_crm_row_and_keeps_only_cited_passages(
    product_kb: KnowledgeBase, tmp_path: Path
) -> None:
    data = tmp_path / "prospects.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "company", "email", "stage", "notes"])
        writer.writerow(["Priya Shah", "Northwind", "priya@northwind.com", "demo", NOTES])
    out_of_range = _email("Northwind and SSO", "Hi Priya, see [9].", [9])
    uncited = _email("Northwind and SSO", "Hi Priya, thanks for the call.", [])
    model = FakeChatModel(replies=[out_of_range, uncited])
    summary = run_workflow(resolve_workflow("sales-followup"), str(data), model=model, kb=lambda: product_kb)
    assert summary.failed == []
    result = summary.results[0]
    assert result["row"] == 1 and result["to"] == "priya@northwind.com" and result["citations"] == []
    assert "- stage: demo" in model.prompts[0].user and "- name: Priya Shah" in model.prompts[0].user
    assert "sources.0: 9 is greater than the maximum of 4" in model.prompts[1].user
