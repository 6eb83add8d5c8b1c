"""The Python API's conversation and whole-document operations, on real stores and the real embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import BudgetExceededError, NotFoundError, UserError
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.types import Access


@pytest.fixture
def kb(tmp_path: Path, minilm) -> KnowledgeBase:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "leave.md").write_text(
        "# Parental leave\n\nNew parents get 12 weeks of paid leave. Part-time staff get the same 12 weeks, "
        "paid pro rata.\n\n# Sick leave\n\nEmployees accrue one sick day per month.\n"
    )
    (docs / "sales").mkdir()
    (docs / "sales" / "leave.md").write_text("# Sales leave\n\nSales staff book leave in the CRM calendar.\n")
    (docs / "travel.md").write_text("# Travel\n\nBook flights through the travel portal. Economy is standard.\n")
    kb = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=minilm)
    kb.ingest([str(docs / "hr"), str(docs / "travel.md")], workspace="hr")
    kb.ingest([str(docs / "sales")], workspace="sales")
    yield kb
    kb.close()


def test_chat_rewrites_follow_ups_and_stores_the_conversation(kb: KnowledgeBase) -> None:
    first = kb.chat("How many weeks of parental leave do we offer?")
    assert "12 weeks" in first.answer.text and first.query == first.message
    second = kb.chat("and for part-time staff?", conversation=first.conversation)
    assert second.conversation == first.conversation
    assert second.query.startswith("How many weeks of parental leave") and "part-time" in second.query
    assert "Part-time staff" in second.answer.text
    turns = kb.ledger.conversation(first.conversation)
    assert [t["question"] for t in turns] == [first.message, second.message]
    assert turns[1]["query"] == second.query and turns[1]["log_id"] == second.answer.log_id
    assert kb.ledger.answer_log(second.answer.log_id)["question"] == second.query


def test_chat_with_a_model_counts_the_rewrite_call(kb: KnowledgeBase) -> None:
    model = FakeChatModel(replies=["Parents get 12 weeks of paid leave [1]."])
    first = kb.chat("How many weeks of parental leave do new parents get?", model=model)
    model.replies = ["How much paid leave do part-time staff get?", "Part-time staff get the same 12 weeks [1]."]
    second = kb.chat("and part-timers?", conversation=first.conversation, model=model)
    assert second.query == "How much paid leave do part-time staff get?"
    assert "Latest message: and part-timers?" in model.prompts[1].user
    assert second.answer.usage.prompt_tokens > first.answer.usage.prompt_tokens


def test_resuming_an_unknown_conversation_is_a_clear_error(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFoundError, match="docket chat --list"):
        kb.chat("hello", conversation="nope")


def test_documents_are_found_by_path_end_or_file_and_ambiguity_is_an_error(kb: KnowledgeBase, tmp_path) -> None:
    [travel] = kb.document_hits(["travel.md"])
    assert travel[0].path == "travel.md"
    [hr] = kb.document_hits([str(tmp_path / "docs" / "hr" / "leave.md")])
    assert [h.path for h in hr] == ["leave.md"] * len(hr) and hr[0].location.heading_path == ("Parental leave",)
    with pytest.raises(UserError, match="matches 2 documents"):
        kb.document_hits(["leave.md"])
    with pytest.raises(NotFoundError):
        kb.document_hits(["nothing-like-this.md"])


def test_a_file_outside_the_index_is_read_on_the_fly_for_the_owner_only(kb: KnowledgeBase, tmp_path) -> None:
    outside = tmp_path / "new-contract.txt"
    outside.write_text("The supplier delivers within 10 days. Late deliveries cost 1% a day.")
    answer = kb.summarize([str(outside)])
    assert "10 days" in answer.text and answer.citations[0].path == str(outside)
    with pytest.raises(NotFoundError):
        kb.document_hits([str(outside)], access=Access(workspaces=("hr",)))


def test_documents_another_workspace_holds_are_not_found(kb: KnowledgeBase) -> None:
    hr_only = Access(workspaces=("hr",))
    with pytest.raises(NotFoundError, match="may read"):
        kb.document_hits(["sales/leave.md"], access=hr_only)
    assert kb.document_hits(["travel.md"], access=hr_only)


def test_ask_documents_with_a_model_is_logged_with_every_prompt(kb: KnowledgeBase) -> None:
    model = FakeChatModel(replies=["New parents get 12 weeks of paid leave [1]."])
    answer = kb.ask_documents("How long is parental leave?", ["hr/leave.md"], model=model)
    assert answer.text == "New parents get 12 weeks of paid leave [1]." and answer.citations[0].supported
    record = kb.ledger.answer_log(answer.log_id)
    assert record["method"] == "document" and "Parental leave" in record["prompt"]


def test_document_tasks_respect_the_budget_before_calling(tmp_path: Path, minilm, kb: KnowledgeBase) -> None:
    settings = load_settings(
        home=kb.settings.home,
        overrides={"model": {"daily_budget": 0.0, "prices": {"fake:fake": [1000.0, 1000.0]}}},
    )
    with KnowledgeBase(settings, embedder=minilm) as limited:
        model = FakeChatModel()
        with pytest.raises(BudgetExceededError):
            limited.summarize(["travel.md"], model=model)
        assert model.prompts == []


def test_naming_no_document_is_a_user_error(kb: KnowledgeBase) -> None:
    with pytest.raises(UserError):
        kb.summarize([])
