"""Which units an extractive answer shows, and how sure it is: the line that answers joins the overview
sentence that repeats the question, and a document that lacks the question's words lowers the confidence."""

from __future__ import annotations

import pytest

from docket.answer import evidence as evidence_module
from docket.answer.evidence import Evidence, Unit, confidence, gather
from docket.answer.extractive import extractive_answer
from docket.models.embedders import MiniLMEmbedder
from docket.types import Hit, Location

QUESTION = "What was the visibility when the Reims F172 crashed near Chevroux?"
REPORT = (
    "On December 17, 2007, a Reims F172 M was destroyed when it crashed near Chevroux, France. "
    "The pilot had flown the Reims F172 near Chevroux before. "
    "Lowest Cloud Condition: Scattered, 100 ft agl Visibility 0.7 miles."
)
_OVERVIEW, _REPEAT, _ANSWER = (REPORT.index(s) for s in ("On December", "The pilot", "Lowest Cloud"))


def _hit(text: str, n: int = 1, doc: str = "d1") -> Hit:
    return Hit(n, doc, "s", f"{doc}.pdf", "Report", text, Location(char_start=0), 1.0)


def _unit(start: int, end: int, score: float, hit: int = 0) -> Unit:
    return Unit(hit, start, end, REPORT[start:end].strip(), False, score, 0.5, score)


def _evidence(units: list[Unit], covered: float = 1.0, hits: tuple[Hit, ...] = (_hit(REPORT),)) -> Evidence:
    return Evidence(QUESTION, hits, tuple(units), covered={h.doc_id: covered for h in hits})


def test_the_line_with_the_asked_word_joins_the_overview_that_outranks_it() -> None:
    overview = _unit(_OVERVIEW, _REPEAT, 0.9)
    repeat = _unit(_REPEAT, _ANSWER, 0.85)  # as close as the overview, but adds none of the asked words
    answer = _unit(_ANSWER, len(REPORT), 0.65)  # 0.25 below the best: only "visibility" lets it join
    shown = extractive_answer(QUESTION, [], None, evidence=_evidence([overview, repeat, answer]), max_sentences=2)  # type: ignore[arg-type]
    assert shown.text.startswith("On December 17, 2007")
    assert "Visibility 0.7" in shown.text
    assert "The pilot had flown" not in shown.text
    assert [c.quote for c in shown.citations] == [overview.text, answer.text]  # every unit shown is cited


def test_a_unit_far_below_the_best_does_not_join_whatever_words_it_adds() -> None:
    overview = _unit(_OVERVIEW, _REPEAT, 0.9)
    answer = _unit(_ANSWER, len(REPORT), 0.3)
    shown = extractive_answer(QUESTION, [], None, evidence=_evidence([overview, answer]))  # type: ignore[arg-type]
    assert "Visibility" not in shown.text


def test_supporting_units_come_from_the_same_document() -> None:
    hits = (_hit(REPORT), _hit(REPORT, 2, "other"))
    overview = _unit(_OVERVIEW, _REPEAT, 0.9)
    elsewhere = _unit(_ANSWER, len(REPORT), 0.85, hit=1)
    shown = extractive_answer(QUESTION, [], None, evidence=_evidence([overview, elsewhere], hits=hits))  # type: ignore[arg-type]
    assert {c.path for c in shown.citations} == {"d1.pdf"}


def test_the_confidence_falls_with_the_share_of_question_words_the_document_lacks() -> None:
    units = [_unit(_OVERVIEW, _REPEAT, 0.75)]
    whole = _evidence(units, covered=1.0).confidence
    half = _evidence(units, covered=0.5).confidence
    assert whole == pytest.approx(0.6)
    assert half == pytest.approx(0.6 - evidence_module._UNCOVERED_WEIGHT * 0.5)
    assert _evidence(units, covered=0.0).confidence >= 0.0
    refused = extractive_answer(QUESTION, [], None, evidence=_evidence(units, covered=0.5), min_relevance=0.4)  # type: ignore[arg-type]
    assert refused.abstained and refused.confidence == pytest.approx(half)


def test_gather_counts_the_question_words_each_document_uses(minilm: MiniLMEmbedder) -> None:
    hits = [
        _hit("The tirzepatide obesity trial is sponsored by Lilly.", 1, "tirzepatide"),
        _hit("Staff receive 25 vacation days each year.", 2, "handbook"),
    ]
    sponsor = gather("Who sponsors the semaglutide obesity trial?", hits, minilm)
    assert sponsor.covered["tirzepatide"] < 1.0  # never says semaglutide
    # words that shape a question ("how many", "get") are not asked of the document
    days = gather("How many vacation days do staff get each year?", hits, minilm)
    assert days.covered["handbook"] == 1.0
    assert days.units[0].text.startswith("Staff receive 25")
    # nor are the words of a complaint around the question
    ticket = gather("This is the THIRD time I ask! How many vacation days do staff get each year?", hits, minilm)
    assert ticket.covered["handbook"] == 1.0


def test_a_question_about_a_study_the_documents_lack_is_refused_at_the_default(minilm: MiniLMEmbedder) -> None:
    from docket.config import AnswerSettings

    hits = [_hit("The tirzepatide obesity trial is sponsored by Lilly. It enrols 200 adults.", 1, "tirzepatide")]
    threshold = AnswerSettings().min_relevance
    asked_elsewhere = extractive_answer(
        "Who sponsors the semaglutide gene therapy trial?", hits, minilm, min_relevance=threshold
    )
    asked_here = extractive_answer("Who sponsors the tirzepatide obesity trial?", hits, minilm, min_relevance=threshold)
    assert asked_elsewhere.confidence < asked_here.confidence
    elsewhere = gather("Who sponsors the semaglutide gene therapy trial?", hits, minilm)
    assert elsewhere.confidence < confidence(elsewhere.units[0].score)  # lowered: the document lacks its words
    assert asked_elsewhere.abstained
    assert not asked_here.abstained and "Lilly" in asked_here.text
