"""Which words a question asks with, and what it asks for, as the extractive answer reads them:
supporting units must add one of those words or the asked amount/date/name ("how many" adds
nothing), an initial ("Vance W. Amory") does not end the question, a hyphenated model name
("AT-401") is matched by its parts, a date or a clock time is no amount, and a question naming a
kind of document keeps the documents whose kind is not known.

End to end on pages of real documents (3M's 2022 10-K, NTSB accident reports, when ../shared/data
is present); the rest on lines copied from them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.answer.evidence import asked_part, asked_terms, gather, holds, question_names, states_named, vocabulary
from docket.answer.scope import Catalog, Entry, scope_question
from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.kb import answers as kb_answers
from docket.models.embedders import MiniLMEmbedder
from docket.types import Access, Filters, Hit, Location, Profile
from tests.pdfs import pdf_pages

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FILINGS = DATA / "financebench-dev" / "pdfs"
NTSB = DATA / "docugami-kg-rag-raw-pdfs" / "ntsb-aviation-incident-accident-reports" / "data" / "v1" / "docs"
needs_data = pytest.mark.skipif(not (FILINGS.is_dir() and NTSB.is_dir()), reason="../shared/data is not here")


def _kb(tmp_path: Path, minilm: MiniLMEmbedder, files: dict[str, bytes]) -> KnowledgeBase:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    kb = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=minilm)
    kb.ingest([str(folder)])
    return kb


@needs_data
def test_how_many_does_not_bring_in_a_sentence_that_says_many(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """p. 6 of 3M's 2022 10-K gives the head count; p. 21 says inflation was "driven by many …
    events" in 2022, which joined the answer as if "many" were a word the question asks with."""
    pages = pdf_pages(FILINGS / "3M_2022_10K.pdf", [0, 5, 20])
    with _kb(tmp_path, minilm, {"3M_2022_10K.pdf": pages}) as kb:
        answer = kb.ask("How many employees did 3M have in 2022?")
    assert not answer.abstained
    assert "92,000" in answer.text
    assert "inflation" not in answer.text, answer.text


@needs_data
def test_an_initial_in_a_name_does_not_cut_the_question_short(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """The question "… at Vance W. Amory Airport?" was read as "Amory Airport?", so the line saying
    what the airplane struck on short final did not count as adding the asked words."""
    question = "What did the Bombardier Global 5000 strike on short final at Vance W. Amory Airport?"
    assert {"strike", "short", "final"} <= asked_terms(question)
    assert {"vance", "amory", "airport"} <= question_names(question)
    with _kb(tmp_path, minilm, {"20080117X00064.pdf": (NTSB / "20080117X00064.pdf").read_bytes()}) as kb:
        answer = kb.ask(question)
    assert not answer.abstained
    assert "struck approach lights" in answer.text, answer.text


def test_a_hyphenated_model_name_is_matched_by_its_parts(minilm: MiniLMEmbedder) -> None:
    """The Soledad report says "Air Tractor AT-401"; the question's terms are "air", "tractor",
    "401"…: the report uses them all (it says "Soledad, CA", never "California", nor "crashed")."""
    assert {"at-401", "at", "401"} <= vocabulary("Aircraft: Air Tractor AT-401")
    report = (
        "Location: Soledad, CA Accident Number: LAX08CA034\n"
        "Aircraft: Air Tractor AT-401 Aircraft Damage: Destroyed\n"
        "The pilot was seeding an area located adjacent to mountainous terrain."
    )
    hit = Hit(1, "soledad", "s", "20080116X00055.pdf", "NTSB report", report, Location(char_start=0), 1.0)
    evidence = gather("What was the Air Tractor AT-401 doing when it crashed near Soledad?", [hit], minilm)
    # asked: air, tractor, 401, crashed, soledad ("near" shapes the question); the report lacks "crashed"
    assert evidence.covered["soledad"] == pytest.approx(4 / 5)


def test_a_date_or_a_clock_time_is_no_amount() -> None:
    question = "How many people were killed when the Cessna 172 crashed near Boquete, Panama?"
    assert holds("amount", "Date & Time: 12/23/2007, 1200 CST Registration:", question) is False
    assert holds("amount", "Injuries: 3 Fatal, 1 Serious", question) is True
    assert holds("amount", "The airplane departed at 10:45 a.m. on December 23, 2007.", question) is False
    assert holds("amount", "Net sales were $32.8 billion in 2022.", "How much were net sales?") is True


def test_a_kind_of_document_keeps_the_documents_whose_kind_is_not_known() -> None:
    """Profiles as read from three of the clinical-trial protocols: the melanoma protocol's type
    could not be read; a question about it saying "protocol" must not leave it out."""

    def entry(doc_id: str, title: str, doc_type: str | None) -> Entry:
        return Entry(doc_id, f"{doc_id}.pdf", title, Profile(title=title, doc_type=doc_type, date="2023-10-16"))

    catalog = Catalog(
        (
            entry("NCT06152367", "Protocol Melanoma fase I:II English Final 2001", None),
            entry("NCT06155955", "Chulalongkorn Memorial Hospital protocol", "protocol"),
            entry("NCT06157684", "The effect of postprandial ambulation on birth weight percentile", "protocol"),
            entry("20080116X00055", "National Transportation Safety Board", "accident report"),
        )
    )
    scope = scope_question(
        "What dose of interleukin-2 does the University of Chile dendritic cell melanoma protocol use?", catalog
    )
    assert scope.documents is not None
    assert "NCT06152367" in scope.documents
    assert "20080116X00055" not in scope.documents  # a document of another kind is still left out


def test_words_that_shape_the_question_are_not_asked_of_the_document() -> None:
    asked = asked_terms("What did the NTSB find caused the hard landing of the Beech A23 at Stovepipe Wells?")
    assert "find" not in asked
    assert {"caused", "hard", "landing"} <= asked
    assert "list" not in asked_terms("Which findings did the NTSB list for the Cessna 172 runway excursion?")


def test_a_line_break_ends_a_part_of_the_question() -> None:
    """A customer's note on one line and the question on the next: the capitalised first word of a
    line is no name, and only the asking line says what to look for."""
    assert question_names("my parcel never came\nRefund policy for late parcels?") == frozenset()
    assert asked_terms("Order 5512 arrived broken\nWhat can I do about the refund?") == {"refund"}


def test_words_that_shape_a_question_are_not_asked_for() -> None:
    """ "How long", "how old", "how often" say what kind of answer is wanted; "near" and "anyone"
    say nothing a document must use."""
    assert asked_terms("How long was the crack found in the aft wing spar near Elyria?") == {
        "crack",
        "found",
        "aft",
        "wing",
        "spar",
        "elyria",
    }
    assert "old" not in asked_terms("How old was the flight instructor?")
    assert "anyone" not in asked_terms("Was anyone injured in the Global 5000 landing accident?")


def test_a_state_named_by_its_postal_abbreviation_counts_as_named(minilm: MiniLMEmbedder) -> None:
    """An NTSB report says "Seward, AK"; the question says "Seward, Alaska". Lower-case words that
    spell an abbreviation ("in", "or", "me") name no state."""
    assert states_named("Location: Seward, AK Accident Number: ANC08CA024") == {"alaska"}
    assert states_named("Call me in the morning or later") == set()
    report = (
        "Location: Seward, AK Accident Number: ANC08CA024\n"
        "The pilot said he used too much rudder during takeoff, and the right wing caught in high alder brush."
    )
    hit = Hit(1, "seward", "s", "20080116X00061.pdf", "NTSB report", report, Location(char_start=0), 1.0)
    evidence = gather("What did the right wing catch during takeoff near Seward, Alaska?", [hit], minilm)
    assert evidence.named["seward"] == 1.0
    # asked: right, wing, catch, takeoff, seward, alaska; the report lacks only "catch" ("caught")
    assert evidence.covered["seward"] == pytest.approx(5 / 6)


def test_the_words_of_a_documents_opening_locate_it_the_rest_rank_its_units() -> None:
    opening = vocabulary("NTSB report. Location: Boquete, Panama Aircraft: Cessna 172 Defining Event: 2007")
    assert asked_part("How many people were killed when the Cessna 172 crashed near Boquete, Panama?", opening) == (
        "How many people were killed when the crashed near , ?"
    )
    assert asked_part("What was the probable cause in 2007?", vocabulary("cause 2007")) == (
        "What was the probable in 2007 ?"
    )
    # nothing of the question is in the opening, or nothing but its form would be left: rank as usual
    assert asked_part("Who sponsors the trial?", vocabulary("A report about aircraft")) == ""
    assert asked_part("How many Cessna 172?", opening) == ""


@needs_data
def test_a_long_report_is_answered_by_what_the_question_asks(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """The Boquete report opens with the aircraft and the place, which the question repeats; the
    number killed is on its "Injuries:" line, which now ranks first."""
    names = ["20080108X00031.pdf", "20080116X00061.pdf", "20080116X00055.pdf", "20080115X00053.pdf"]
    question = "How many people were killed when the Cessna 172 crashed near Boquete, Panama?"
    with _kb(tmp_path, minilm, {n: (NTSB / n).read_bytes() for n in names}) as kb:
        evidence = gather(question, kb.search(question, k=6), minilm, store=kb.store)
    best = evidence.units[0]
    assert evidence.hits[best.hit].path.endswith("20080108X00031.pdf")
    assert "3 Fatal" in best.text, best.text
    opening = next(u for u in evidence.units if "Cessna 172, HP762" in u.text)
    assert opening.support > best.support  # the whole question is closer to the opening: confidence keeps that


@needs_data
def test_an_answer_reads_more_of_the_best_ranked_report(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """Search ranks the PA-28-140 report first for "the Piper PA-28", but its probable cause is in a
    passage that other reports' probable causes outrank; the PA-31T report's is among the hits.
    A second search within the first report (``answer.document_passages``) brings its own."""
    names = ["20080122X00080.pdf", "20080123X00097.pdf", "20071229X02007.pdf", "20080116X00061.pdf"]
    question = "What was the probable cause of the accident involving the Piper PA-28?"
    with _kb(tmp_path, minilm, {n: (NTSB / n).read_bytes() for n in names}) as kb:
        hits = kb.search(question, k=kb.settings.answer.top_k)
        answer = kb.ask(question)
        assert kb_answers.more_of_the_first(kb, question, hits, Filters(), Access.owner(), 0) == hits
        more = kb_answers.more_of_the_first(kb, question, hits, Filters(), Access.owner(), 2)
    assert hits[0].path.endswith("20080122X00080.pdf")
    assert more[: len(hits)] == hits
    assert {h.doc_id for h in more[len(hits) :]} == {hits[0].doc_id}
    assert not {h.chunk_id for h in more[len(hits) :]} & {h.chunk_id for h in hits}
    assert "runway alignment" in answer.text, answer.text
    assert {c.path.rsplit("/", 1)[-1] for c in answer.citations} == {"20080122X00080.pdf"}


def test_a_model_number_names_its_variants() -> None:
    """ "PA-28-140" is a PA-28; "PA-31T" is not."""
    assert "pa-28" in vocabulary("Aircraft: Piper PA-28-140")
    assert "pa-28" not in vocabulary("Aircraft: Piper PA-31T")
    assert states_named("Location: Alton, NH") == {"new", "hampshire"}
