"""Extractive answers on the bundled handbook with the real default embedder."""

from __future__ import annotations

import pytest

from docket.answer.extractive import ABSTAIN_TEXT, extractive_answer
from docket.index import get_document
from docket.models.embedders import FakeEmbedder
from docket.types import Hit, Location


def test_answer_quotes_the_source_and_cites_its_file(demo_kb) -> None:
    answer = demo_kb.ask("How many weeks of paid parental leave does Clef offer?")
    assert not answer.abstained
    assert "12 weeks" in answer.text
    assert "[1]" in answer.text
    first = answer.citations[0]
    assert first.path == "Benefits and Perks/New Parent Leave.md"
    assert "12 weeks" in first.quote


def test_every_quote_is_the_exact_source_text_at_its_location(demo_kb) -> None:
    for question in (
        "How many weeks of paid parental leave does Clef offer?",
        "Can I work remotely?",
        "What happens if a holiday falls on a Saturday?",
    ):
        answer = demo_kb.ask(question)
        assert answer.citations
        for c in answer.citations:
            doc = get_document(demo_kb.store, next(iter(demo_kb.ledger.sources())), c.path)
            text = demo_kb.store.document_text(doc.id)
            assert text[c.location.char_start : c.location.char_end] == c.quote
            assert f"[{c.n}]" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Peru?",
        "How do I reset my router password?",
        "Who won the football world cup in 2018?",
        "What is the boiling point of mercury?",
    ],
)
def test_questions_outside_the_documents_are_not_answered(demo_kb, question: str) -> None:
    answer = demo_kb.ask(question)
    assert answer.abstained
    assert answer.text == ABSTAIN_TEXT
    assert answer.citations == ()
    assert answer.sources, "an abstention still shows the closest sources"


@pytest.mark.parametrize(
    "question",
    [
        "When are holidays observed if they fall on a weekend?",
        "How many vacation days do employees get?",
        "How long is bereavement leave?",
        "Can I work remotely?",
    ],
)
def test_questions_the_documents_answer_are_answered(demo_kb, question: str) -> None:
    assert not demo_kb.ask(question).abstained


def test_no_hits_means_abstention() -> None:
    answer = extractive_answer("anything", [], FakeEmbedder())
    assert answer.abstained and answer.sources == ()


def test_same_passage_gets_one_number() -> None:
    hit = Hit(1, "d", "s", "a.txt", "A", "Refunds take five days. Refunds need a receipt.", Location(char_start=0), 1.0)
    answer = extractive_answer("refunds receipt days", [hit], FakeEmbedder(), min_relevance=0.0)
    assert {c.n for c in answer.citations} == {1}
    assert answer.citations[-1].location.char_start is not None
