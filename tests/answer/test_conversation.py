"""Follow-up questions become standalone questions before retrieval."""

from __future__ import annotations

import pytest

from docket.answer.conversation import Turn, build_rewrite_prompt, is_follow_up, standalone_question
from docket.models.chat import FakeChatModel

HISTORY = [
    Turn(
        "How many weeks of parental leave do we offer?", "How many weeks of parental leave do we offer?", "12 weeks [1]"
    )
]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("and for part-timers?", True),
        ("What about contractors?", True),
        ("Does it apply to adoption?", True),
        ("Why?", True),
        ("How do I submit an expense report for travel?", False),
        ("Which holidays does the office close for?", False),
    ],
)
def test_follow_ups_are_recognised(message: str, expected: bool) -> None:
    assert is_follow_up(message) is expected


def test_without_history_the_message_is_the_question() -> None:
    assert standalone_question("  and for part-timers? ", []) == (
        "and for part-timers?",
        standalone_question("", [])[1],
    )


def test_without_a_model_a_follow_up_is_joined_to_the_previous_question() -> None:
    query, usage = standalone_question("and for part-timers?", HISTORY)
    assert query == "How many weeks of parental leave do we offer? and for part-timers?"
    assert usage.prompt_tokens == 0


def test_without_a_model_a_new_topic_stands_alone() -> None:
    message = "How do I submit an expense report for travel?"
    assert standalone_question(message, HISTORY)[0] == message


def test_a_model_rewrites_the_follow_up_from_a_visible_prompt() -> None:
    model = FakeChatModel(replies=['Standalone question: "How many weeks of parental leave do part-timers get?"'])
    seen = []
    query, usage = standalone_question("and for part-timers?", HISTORY, model, on_prompt=seen.append)
    assert query == "How many weeks of parental leave do part-timers get?"
    assert usage.completion_tokens > 0
    assert seen == model.prompts
    prompt = seen[0]
    assert "User: How many weeks of parental leave do we offer?" in prompt.user
    assert "Assistant: 12 weeks [1]" in prompt.user
    assert prompt.user.rstrip().endswith("Latest message: and for part-timers?\n\nStandalone question:")


def test_an_unusable_rewrite_falls_back_to_joining() -> None:
    model = FakeChatModel(replies=["   "])
    query, _ = standalone_question("and for part-timers?", HISTORY, model)
    assert query == "How many weeks of parental leave do we offer? and for part-timers?"


def test_the_rewrite_prompt_keeps_only_recent_turns() -> None:
    history = [Turn(f"question {i}", f"question {i}", f"answer {i}") for i in range(10)]
    prompt = build_rewrite_prompt("and then?", history)
    assert "question 9" in prompt.user and "question 5" not in prompt.user
