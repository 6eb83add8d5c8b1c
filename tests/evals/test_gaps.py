"""Knowledge gaps: badly answered questions from the answer log (and feedback), grouped by topic."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.config import load_settings
from docket.evals.gaps import GapQuestion, find_gaps, gap_questions, group_questions
from docket.kb import KnowledgeBase
from docket.models.embedders import MiniLMEmbedder
from tests.cli.conftest import docket

LEAVE = [
    "How many weeks of parental leave do we get?",
    "Is paternity leave paid?",
    "Can I take maternity leave after an adoption?",
    "Parental leave for part-timers?",
    "how many weeks of parental leave do we get",  # the first again, asked another way
]
EXPENSES = [
    "How do I get my travel expenses reimbursed?",
    "Who approves expense claims?",
    "Where do I submit receipts for reimbursement?",
]


def _record(log_id: int, question: str, *, abstained: bool = True, at: float | None = None, **extra: Any) -> dict:
    return {"id": log_id, "question": question, "abstained": abstained, "at": at or time.time(), **extra}


@pytest.fixture
def kb(tmp_path: Path, minilm: MiniLMEmbedder) -> Iterator[KnowledgeBase]:
    with KnowledgeBase(load_settings(home=tmp_path / "kb", environ={}), embedder=minilm) as kb:
        yield kb


def _log(kb: KnowledgeBase, question: str, abstained: bool, at: float | None = None) -> int:
    return kb.ledger.log_answer(
        {
            "at": at or time.time(),
            "question": question,
            "answer": "I couldn't find this in your documents." if abstained else "It is so. [1]",
            "abstained": abstained,
            "method": "extractive",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "latency_ms": 1.0,
        }
    )


def test_which_logged_answers_count_as_gaps() -> None:
    old = time.time() - 40 * 86400
    records = [
        _record(1, "abstained?"),
        _record(2, "confident?", abstained=False, confidence=0.9),
        _record(3, "unsure?", abstained=False, confidence=0.5),
        _record(4, "disliked?", abstained=False, confidence=0.95),
        _record(5, "old and abstained?", at=old),
        _record(6, "no confidence logged?", abstained=False),
        _record(7, "   ", abstained=True),
    ]
    found = {q.log_id: q.reasons for q in gap_questions(records, negative=[4, 1])}
    assert found == {
        1: ("abstained", "negative feedback"),
        3: ("low confidence",),
        4: ("negative feedback",),
        5: ("abstained",),
    }
    recent = gap_questions(records, negative=[4], since=time.time() - 86400, min_confidence=0.5)
    assert [q.log_id for q in recent] == [1, 4]
    assert [q.log_id for q in gap_questions(records, keep=lambda r: r["id"] != 1)] == [3, 5]


def test_questions_on_two_topics_make_two_groups(minilm: MiniLMEmbedder) -> None:
    questions = [GapQuestion(i, q, 1000.0 + i, ("abstained",)) for i, q in enumerate(LEAVE + EXPENSES)]
    gaps = group_questions(questions, minilm)
    assert [g.count for g in gaps] == [5, 3]
    leave, expenses = gaps
    assert "leave" in leave.keywords and leave.label.startswith("leave")
    assert set(leave.log_ids) == set(range(5))
    assert len(leave.examples) == 4  # the repeat is counted, not shown twice
    assert leave.examples[0].lower().startswith("how many weeks of parental leave")  # the most asked first
    assert set(expenses.examples) == set(EXPENSES)
    assert leave.reasons == {"abstained": 5}
    assert group_questions([], minilm) == []


def test_find_gaps_reads_the_log_and_negative_feedback(kb: KnowledgeBase) -> None:
    pytest.importorskip("argon2", reason="the server extra is not installed")
    from docket.accounts import Accounts

    ids = [_log(kb, q, abstained=True) for q in LEAVE[:3] + EXPENSES[:2]]
    fine = _log(kb, "Who approves travel expense reports?", abstained=False)  # answered, then disliked
    _log(kb, "What are the office hours?", abstained=False)  # answered, liked: not a gap
    accounts = Accounts(kb.settings.home / "accounts.db")
    try:
        accounts.answers.add_feedback(None, fine, -1, "wrong person")
        accounts.answers.add_feedback(None, ids[0], 1)
        report = find_gaps(kb, accounts=accounts)
    finally:
        accounts.close()
    assert report["questions"] == 6 and report["considered"] == 7
    counts = {g["label"]: g["count"] for g in report["gaps"]}
    assert sorted(counts.values()) == [3, 3]
    expenses = next(g for g in report["gaps"] if fine in g["log_ids"])
    assert expenses["reasons"] == {"abstained": 2, "negative feedback": 1}
    assert find_gaps(kb, since=time.time() + 60)["gaps"] == []


def test_answers_with_low_confidence_count_as_gaps(kb: KnowledgeBase) -> None:
    answer = kb.ask("How much paid leave do new parents get?")  # the confidence is logged with the answer
    assert kb.ledger.answer_log(answer.log_id)["confidence"] == pytest.approx(answer.confidence)
    unsure = _log(kb, "Can I carry vacation days over to next year?", abstained=False)
    kb.store._db.execute("UPDATE answer_log SET confidence = 0.2 WHERE id = ?", (unsure,))  # type: ignore[attr-defined]
    report = find_gaps(kb, min_confidence=0.5)
    found = next(g for g in report["gaps"] if unsure in g["log_ids"])
    assert found["reasons"] == {"low confidence": 1}


@pytest.mark.slow
def test_docket_gaps_command(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    pytest.importorskip("argon2", reason="the server extra is not installed")
    from docket.accounts import Accounts

    home = tmp_path / "kb"
    with KnowledgeBase(load_settings(home=home, environ={}), embedder=minilm) as kb:
        old = time.time() - 30 * 86400
        for q in LEAVE:
            _log(kb, q, abstained=True)
        _log(kb, EXPENSES[0], abstained=True, at=old)
        disliked = _log(kb, EXPENSES[1], abstained=False)
    accounts = Accounts(home / "accounts.db")
    accounts.answers.add_feedback(None, disliked, -1)
    accounts.close()
    report = json.loads(docket("gaps", "--home", str(home), "--json").stdout)
    assert [g["count"] for g in report["gaps"]] == [5, 2]
    since = (time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400)),)
    recent = json.loads(docket("gaps", "--since", *since, "--home", str(home), "--json").stdout)
    assert [g["count"] for g in recent["gaps"]] == [5, 1]
    text = docket("gaps", "--home", str(home)).stdout
    assert "leave" in text and "Write documents on these" in text
    bad = docket("gaps", "--since", "last week", "--home", str(home), check=False)
    assert bad.returncode == 2 and "--since" in bad.stderr
