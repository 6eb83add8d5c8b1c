"""Citation numbers 1..n in order of first use, on finished answers and on streamed text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from docket.answer.numbering import NumberedStream, by_number, renumbered, statements
from docket.models.base import Completion
from docket.types import Answer, Citation, Hit, Location, Usage


def _hit(n: int, text: str = "") -> Hit:
    text = text or f"Passage {n} says something."
    location = Location(char_start=100, char_end=100 + len(text))
    return Hit(n, f"doc{n}", "src", f"file{n}.md", f"File {n}", text, location, 1.0)


def _cite(n: int, hit: Hit, start: int, end: int) -> Citation:
    location = Location(char_start=100 + start, char_end=100 + end)
    return Citation(n, hit.path, location, hit.text[start:end], True, hit.chunk_id)


def test_an_answer_that_starts_at_its_second_source_is_numbered_from_one() -> None:
    hits = (_hit(1), _hit(2), _hit(3))
    answer = Answer(
        "q",
        "Second says so [2]. Third too [3]. Second again [2].",
        False,
        citations=(_cite(2, hits[1], 0, 9), _cite(3, hits[2], 0, 9), _cite(1, hits[0], 0, 9)),
        sources=hits,
    )
    done = renumbered(answer)
    assert done.text == "Second says so [1]. Third too [2]. Second again [1]."
    assert [c.n for c in done.citations] == [1, 2]  # [1] of the old numbering is not in the text: dropped
    assert [c.path for c in done.citations] == ["file2.md", "file3.md"]
    assert [h.path for h in done.sources] == ["file2.md", "file3.md", "file1.md"]  # sources[n - 1] is [n]
    assert renumbered(done) == done


def test_a_passage_cited_twice_keeps_a_citation_per_use_and_by_number_spans_them() -> None:
    hit = _hit(1, "Refunds take 14 days. Ask the desk. Refunds need a receipt.")
    other = _hit(2)
    answer = Answer(
        "q",
        "Other [2]. Refunds take 14 days. [1] Refunds need a receipt. [1]",
        False,
        citations=(_cite(1, hit, 0, 21), _cite(2, other, 0, 9), _cite(1, hit, 36, 59)),
        sources=(hit, other),
    )
    done = renumbered(answer)
    assert done.text == "Other [1]. Refunds take 14 days. [2] Refunds need a receipt. [2]"
    # the k-th [n] in the text is the k-th citation numbered n, each with its own quote
    assert [(c.n, c.quote) for c in done.citations] == [
        (1, "Passage 2"),
        (2, "Refunds take 14 days."),
        (2, "Refunds need a receipt."),
    ]
    listed = by_number(done)  # OpenAI-style: one per number
    assert [c.n for c, _ in listed] == [1, 2]
    spanning, quotes = listed[1]
    assert (spanning.location.char_start, spanning.location.char_end) == (100, 159)
    assert spanning.quote == hit.text
    assert quotes == ["Refunds take 14 days.", "Refunds need a receipt."]


def test_an_answer_without_markers_and_a_year_in_brackets_are_left_alone() -> None:
    abstained = Answer("q", "I could not find that.", True, sources=(_hit(1),))
    assert renumbered(abstained) == abstained
    hits = (_hit(1), _hit(2))
    answer = Answer("q", "In [2019] it rose [2].", False, citations=(_cite(2, hits[1], 0, 5),), sources=hits)
    assert renumbered(answer).text == "In [2019] it rose [1]."


def test_a_stream_carries_the_numbers_of_first_use_even_when_a_marker_is_split() -> None:
    out: list[str] = []
    stream = NumberedStream(out.append)
    for piece in ["Leave is 12 weeks [", "3", "]. Pay is full [1", "]", " and [3] again [", "2]"]:
        stream(piece)
    stream.flush()
    assert "".join(out) == "Leave is 12 weeks [1]. Pay is full [2] and [1] again [3]"
    assert len(out) > 1


def test_statements_join_back_to_the_text() -> None:
    text = "Refunds take 14 days. [1] Receipts are needed [2].\nOther: a note [3]"
    pieces = statements(text)
    assert "".join(pieces) == text
    assert pieces == ["Refunds take 14 days. [1] ", "Receipts are needed [2].\n", "Other: a note [3]"]


def test_the_extractive_answer_on_the_handbook_is_numbered_by_first_use(demo_kb) -> None:
    for question in (
        "Can I work remotely?",
        "Compare parental leave and bereavement leave",
        "How long is bereavement leave?",
    ):
        answer = demo_kb.ask(question)
        if answer.abstained:
            continue
        used = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
        first = list(dict.fromkeys(used))
        assert first == list(range(1, len(first) + 1)), answer.text
        assert sorted({c.n for c in answer.citations}) == first
        assert [c.n for c in answer.citations] == sorted(c.n for c in answer.citations)


class _SecondSourceFirst:
    """A model that cites its second source before its first, streaming word by word."""

    name = "second-first"

    def complete(self, prompt: Any, stream: Callable[[str], None] | None = None) -> Completion:
        found = dict(re.findall(r"<source n=\"(\d+)\"[^>]*>\n(.+?[.!?])\s", prompt.user, re.S))
        text = f"{found['2'].strip()} [2] {found['1'].strip()} [1]"
        if stream is not None:
            for piece in re.findall(r"\S+\s*", text):
                stream(piece)
        return Completion(text=text, model=self.name, usage=Usage(), seconds=0.0)


def test_a_generated_answer_and_its_stream_start_at_one(demo_kb) -> None:
    streamed: list[str] = []
    answer = demo_kb.ask(
        "How many weeks of paid parental leave does Clef offer?", model=_SecondSourceFirst(), stream=streamed.append
    )
    assert not answer.abstained
    assert re.findall(r"\[(\d+)\]", answer.text)[:2] == ["1", "2"], answer.text
    assert re.findall(r"\[(\d+)\]", "".join(streamed)) == ["1", "2"]  # the stream has the answer's numbers
    assert len(streamed) > 2
    assert [c.n for c in answer.citations] == sorted(c.n for c in answer.citations)
