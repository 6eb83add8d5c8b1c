"""Drafting a test set from the demo handbook, by rule and with a (scripted) model."""

from __future__ import annotations

from typing import Any

from docket.evals.generate import (
    OFF_TOPIC,
    QUESTION_SYSTEM,
    generate_test_set,
    key_phrase,
    question_from_sentence,
)
from docket.evals.runner import run_eval
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.sentences import words
from docket.types import Hit, Location


def test_without_a_model_the_drafted_questions_find_their_own_passage(demo_kb: KnowledgeBase) -> None:
    test_set = generate_test_set(demo_kb, n=20, unanswerable=3)
    answerable = [i for i in test_set.items if not i.unanswerable]
    assert len(answerable) == 20 and all(i.generated for i in test_set.items)
    assert len({i.sources[0].path for i in answerable}) == 20  # spread over the documents
    for item in answerable:
        (source,) = item.sources
        assert item.answer and source.location
        text = "\n".join(h.text for h in demo_kb.document_hits([source.path])[0])
        assert set(words(item.answer)) <= set(words(text))  # the reference is a sentence of its document
    report = run_eval(demo_kb, test_set, answer=False)
    assert report.missing_sources == []  # every recorded source names an indexed passage
    assert report.metrics["retrieval"]["hit@5"] is not None and report.metrics["retrieval"]["hit@5"] >= 0.8


def test_the_same_seed_gives_the_same_set_and_off_topic_questions_are_unanswerable(demo_kb: KnowledgeBase) -> None:
    first = generate_test_set(demo_kb, n=5, seed=7, unanswerable=4)
    assert first == generate_test_set(demo_kb, n=5, seed=7, unanswerable=4)
    assert first != generate_test_set(demo_kb, n=5, seed=8, unanswerable=4)
    off = [i for i in first.items if i.unanswerable]
    assert len(off) == 4 and all(i.question in OFF_TOPIC and not i.sources for i in off)


def test_with_a_model_the_question_comes_from_its_reply_and_the_prompt_shows_the_passage(
    demo_kb: KnowledgeBase,
) -> None:
    model = FakeChatModel(replies=["Question: How long is new parent leave at Clef?\nAnswer: 12 weeks", "Sorry."])
    prompts: list[Any] = []
    test_set = generate_test_set(demo_kb, n=2, model=model, unanswerable=0, on_prompt=prompts.append)
    first, second = test_set.items
    assert first.question == "How long is new parent leave at Clef?" and first.answer == "12 weeks"
    assert second.question.startswith(("Fill in the blank", "What does"))  # no question in the reply: by rule
    assert len(prompts) == 2 and prompts[0].system == QUESTION_SYSTEM
    assert first.sources[0].path in prompts[0].user and '<source n="1"' in prompts[0].user


def test_rules_blank_the_rarest_phrase_or_ask_what_the_section_says() -> None:
    sentence = "Clef offers 12 weeks of paid leave for all full time employees."
    assert key_phrase(sentence, lambda w: 1.0) == "12 weeks"  # numbers count more; "offers" ends the run
    hit = Hit(
        1, "d", "/docs", "leave.md", "New Parent Leave", sentence, Location(heading_path=("New Parent Leave",)), 0
    )
    assert question_from_sentence(sentence, hit, lambda w: 1.0, cloze=True) == (
        'Fill in the blank (New Parent Leave): "Clef offers _____ of paid leave for all full time employees."'
    )
    assert question_from_sentence(sentence, hit, lambda w: 1.0, cloze=False) == (
        'What does "New Parent Leave" say about 12 weeks?'
    )
