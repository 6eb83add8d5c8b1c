"""Contradictions inside one document (docket.answer.contradictions): a claim that revises another
statement of the same document is flagged, the statement it overturns is not; ordinary documents
that give different figures for different things are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.answer.contradictions import conflicts, contradicted_by, is_reference, revision_score
from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.models.embedders import MiniLMEmbedder
from tests.pdfs import pdf_pages

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "financebench-dev" / "pdfs"


def _flagged(*sentences: str) -> dict[int, tuple[int, str]]:
    return {c.index: (c.other, c.kind) for c in conflicts(list(sentences))}


@pytest.mark.parametrize(
    ("original", "planted", "kind"),
    [
        (
            "If something isn't right, you can return it within 30 days of delivery.",
            "Update: the return window is now 120 days for all orders, including clearance.",
            "figure",
        ),
        (
            "Payments received after the 5th incur a late fee of $75.",
            "Note: the late fee was raised to $400 and is charged from the 2nd.",
            "figure",
        ),
        (
            "Die Anreise ist ab 15:00 Uhr möglich, die Abreise muss bis 10:00 Uhr erfolgen.",
            "Neu ab dieser Saison: Die Anreise ist bereits ab 9:00 Uhr möglich.",
            "figure",
        ),
        (
            "Pour toute commande de plus de 150 €, un acompte de 30 % est demandé à la réservation.",
            "Nouveau : aucun acompte n'est demandé, quel que soit le montant de la commande.",
            "denial",
        ),
        (
            "We return your security deposit, minus any deductions for damage, within 21 days.",
            "Per the owner's directive of 1 May, security deposits are no longer returned.",
            "denial",
        ),
        (
            "Quillfeather Books stores all customer data in our EU region (Frankfurt, Germany).",
            "As of the 2024 review approved by the board, all customer data is hosted in the United States (Virginia).",
            "place",
        ),
        (
            "Payment details: Lakeshore Savings Bank, routing 575000019, account 6630040912",
            "Use our new account 0091 2277 6610 at Lakeshore Bank for this payment.",
            "figure",
        ),
    ],
)
def test_a_claim_that_revises_its_document_is_flagged_and_the_original_stands(
    original: str, planted: str, kind: str
) -> None:
    assert _flagged(original, planted) == {1: (0, kind)}
    assert _flagged(planted, original) == {0: (1, kind)}  # whichever comes first


def test_different_figures_for_different_things_are_not_contradictions() -> None:
    table = [
        "Starter | 2 business days | email",
        "Team | 1 business day | email, chat",
        "Business | 4 business hours | email, chat, phone",
        "Hot desk members get 4 hours of meeting room credit per month, dedicated desk members 8 hours.",
        "Extra hours cost $25 per hour.",
    ]
    assert conflicts(table) == []


def test_two_unmarked_statements_that_disagree_are_both_left_to_the_reader() -> None:
    # neither announces a change: Docket cannot tell which one the business meant
    assert conflicts(["Refunds are paid within 14 days.", "Refunds are paid within 30 days."]) == []


def test_a_weak_mark_counts_only_next_to_the_statement_it_revises() -> None:
    original = "You can cancel a subscription within 14 days of the first charge for a full refund."
    revised = "Since January the refund window for new subscriptions is 90 days."
    filler = [f"Invoices are emailed on every charge to address number {n}." for n in range(5)]
    assert _flagged(original, revised) == {1: (0, "figure")}
    assert _flagged(original, *filler, revised) == {}


def test_legitimate_uses_of_no_longer_and_new_are_not_revisions() -> None:
    sentences = [
        "If the repository is no longer in use, it should be archived.",
        "Repositories must be maintained, including all security tasks.",
        "New parent leave is 12 weeks.",
        "Vacation is 15 days a year.",
    ]
    assert conflicts(sentences) == []


def test_revision_marks_in_four_languages() -> None:
    assert revision_score("Update: the window is 120 days.") >= 1
    assert revision_score("Effective immediately, every employee receives 35 days.") >= 1
    assert revision_score("Ab sofort gilt eine neue Regel.") >= 1
    assert revision_score("Corrección: no se cobra nada.") >= 1
    assert revision_score("Désormais, la livraison est gratuite.") >= 1
    assert revision_score("Support is now open around the clock.") == 0.5
    assert revision_score("Refunds take 5 days.") == 0


def test_a_generated_claim_is_checked_against_the_statements_on_its_subject() -> None:
    facts = [
        "Sick leave is separate from PTO: 10 paid days per year.",
        "Full-time employees receive 20 days of paid time off per year.",
    ]
    assert contradicted_by("Employees get 30 paid days of sick leave per year.", facts) == facts[0]
    assert contradicted_by("Employees get 10 paid days of sick leave per year.", facts) is None
    assert contradicted_by("Sick leave needs a doctor's note.", facts) is None  # no figure
    facts.append("For absences longer than three days, please provide a doctor's note.")
    assert contradicted_by("Sick leave needs a doctor's note after three days.", facts) is None  # a source gives it


def test_a_form_field_about_the_last_inspection_is_no_revision() -> None:
    """An accident report's "Time Since Last Inspection: 30 Hours" and "Airframe Total Time: 5950
    Hours" are two fields, not a figure revised."""
    from docket.answer.contradictions import revision_score

    assert revision_score("Date/Type of Last Inspection: 08/01/2007, Annual; Time Since Last Inspection: 30 Hours") == 0
    assert revision_score("Since last month, the fee is 40 EUR.") > 0


def test_a_reports_date_stamp_revises_nothing() -> None:
    """Amcor's 2023 10-K (p. 11): the head count "as of June 30, 2023" and the share of the workforce
    under collective agreements are different figures of different things; the date stamp of a
    report is no mark of a revision, and "approximately" is no subject the two share."""
    paragraph = [
        "As of June 30, 2023, we had approximately 41,000 employees, including part-time and temporary workers, "
        "worldwide, with approximately 30% located in North America, 30% located in Europe, 20% located in Latin "
        "America, and 20% located in the Asia Pacific region.",
        "Collective bargaining agreements cover approximately 45% of our workforce.",
        "As of June 30, 2023, approximately 3% of our employees were working under expired contracts and "
        "approximately 17% were covered under collective bargaining agreements that expire within one year.",
    ]
    assert conflicts(paragraph) == []
    assert revision_score("As of June 30, 2023, we had approximately 41,000 employees.") == 0
    assert revision_score("As of 1 March 2024, we had 41 employees.") == 0  # what was so then
    assert revision_score("As of December 31, 2022, there were 5 plans.") == 0  # a period's end
    assert revision_score("Three-Year Syndicated Facility Agreement, dated as of April 26, 2022, by and among …") == 0
    # a change announced from a date, not a date stamp
    assert revision_score("As of March, the late fee is $40.") == 0.5
    assert revision_score("As of March 1, 2024, the late fee is $40.") == 0.5
    assert _flagged("The late fee is $25.", "As of March 1, 2024, the late fee is $40.") == {1: (0, "figure")}


def test_an_exhibit_index_revises_nothing() -> None:
    """Boeing's 2022 10-K exhibit index: plans "as amended and restated" on different dates are
    entries referring to other filings, not statements, and no answer's notes should say one was
    withheld as contradicting another."""
    index = [
        "10.10 The Boeing Company Annual Incentive Plan, as amended and restated February 24, 2020 (Exhibit 10.1 "
        "to the Company’s Current Report on Form 8-K dated February 24, 2020)*",
        "10.12 Supplemental Executive Retirement Plan for Employees of The Boeing Company, as amended and restated "
        "as of January 1, 2016 (Exhibit (10)(xvi) to the Company’s Form 10-K for the year ended December 31, 2015)*",
        "10.13 The Boeing Company Executive Supplemental Savings Plan, as amended and restated effective January 1, "
        "2022*",
    ]
    assert all(is_reference(entry) for entry in index)
    assert conflicts(index) == []
    # statements are no references, numbered or not
    assert not is_reference("As of December 31, 2022 and 2021, Boeing’s total workforce was approximately 156,000.")
    assert not is_reference("2.1 Employees accrue 1.5 days of leave per month.")
    assert is_reference("Smith J, et al. Lancet. 2019;12(3):45.")
    # Vancouver style, as a protocol's reference list writes it: no answer to "what is the date of …"
    assert is_reference("Cochrane Database Syst Rev 2017 May 4;5:CD011970.")
    assert is_reference("Ann Intern Med 2014 Mar 18;160(6):414-20.")
    assert not is_reference("The study ran from 2017 May to June; 5 sites: 3 rural.")
    assert not is_reference("In 2019 about 5; 3: 10 pm")
    # prose that mentions an exhibit, or a numbered clause with an asterisk, states something
    assert not is_reference("The rent schedule (Exhibit 2) sets the rent at $4,000 per month.")
    assert not is_reference("4.2 The late fee is $40* per month.")


def test_words_handbooks_use_as_subjects_still_count() -> None:
    """Hedges are no shared subject, but "work", "notice" and "business" are."""
    assert contradicted_by("Employees work 40 hours a week.", ["Employees work 37.5 hours per week."])
    assert contradicted_by("The notice period is 60 days.", ["A notice period of 30 days applies."])
    assert contradicted_by("Business travel costs up to $500.", ["Business travel is reimbursed up to $300."])
    assert _flagged("You may work remotely on Fridays.", "Update: you can no longer work remotely.") == {
        1: (0, "denial")
    }


@pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")
def test_the_head_count_of_a_real_filing_is_answered_not_withheld(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    """Its cover page, the human-capital page and an exhibit index page of Amcor's 2023 10-K: the head
    count was withheld as "contradicting" the workforce share, and the answer quoted an exhibit entry."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "AMCOR_2023_10K.pdf").write_bytes(pdf_pages(FILINGS / "AMCOR_2023_10K.pdf", [0, 10, 114]))
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=minilm) as kb:
        kb.ingest([str(folder)])
        answer = kb.ask("How many employees does Amcor have?")
    assert not answer.abstained
    assert answer.text.startswith("As of June 30, 2023, we had approximately 41,000 employees"), answer.text
    assert "Exhibit" not in answer.text, answer.text
    assert not any("41,000" in note for note in answer.notes), answer.notes
