"""Question scoping: a question that names an organisation, a period or a kind of document is
answered from those documents only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from docket.answer.scope import Catalog, Entry, resolve_where, scope_question
from docket.config import load_settings
from docket.errors import UserError
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.types import Filters, Profile
from tests.pdfs import pdf_pages

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "financebench-dev" / "pdfs"


def _entry(
    doc_id: str,
    org: str | None,
    doc_type: str | None,
    year: int | None,
    quarter: int | None = None,
    end: str | None = None,
) -> Entry:
    profile = Profile(
        title=doc_id,
        organizations=(org,) if org else (),
        doc_type=doc_type,
        fiscal_year=year,
        fiscal_quarter=quarter,
        period_end=end,
    )
    return Entry(doc_id, f"{doc_id}.pdf", doc_id, profile)


CATALOG = Catalog(
    (
        _entry("3m-2018", "3M Company", "10-K", 2018, end="2018-12-31"),
        _entry("3m-2022", "3M Company", "10-K", 2022, end="2022-12-31"),
        _entry("amzn-2017", "Amazon.com, Inc.", "10-K", 2017, end="2017-12-31"),
        _entry("amzn-2019", "Amazon.com, Inc.", "10-K", 2019, end="2019-12-31"),
        _entry("bby-2023", "Best Buy Co., Inc.", "10-K", 2023, end="2023-01-28"),
        _entry("bby-2024q2", "Best Buy Co., Inc.", "10-Q", 2024, 2, end="2023-07-29"),
        _entry("wmt-2018", "Wal-Mart Stores, Inc.", "10-K", 2018, end="2018-01-31"),
        _entry("sq-2020", "Square, Inc.", "10-K", 2020, end="2020-12-31"),
        _entry("ko-2017", "The Coca-Cola Company", "10-K", 2017, end="2017-12-31"),
        _entry("handbook", None, "handbook", None),
    )
)


def _scoped(question: str) -> set[str] | None:
    documents = scope_question(question, CATALOG).documents
    return None if documents is None else set(documents)


def test_an_organisation_and_a_fiscal_year_pick_that_report() -> None:
    assert _scoped("What is the FY2018 capital expenditure amount for 3M?") == {"3m-2018", "handbook"}


def test_a_range_of_years_picks_the_report_of_the_latest() -> None:
    assert _scoped("What is Amazon's change in revenue from FY2016 to FY2017?") == {"amzn-2017", "handbook"}


def test_a_year_without_its_own_report_picks_the_next_report_that_shows_it() -> None:
    scope = scope_question("What was Amazon's net income in 2018?", CATALOG)
    assert set(scope.documents or ()) == {"amzn-2019", "handbook"}
    assert "FY2019" in scope.note


def test_a_quarter_picks_the_quarterly_report() -> None:
    assert _scoped("How many Best Buy stores were there in Q2 of FY2024?") == {"bby-2024q2", "handbook"}


def test_the_latest_report_of_an_organisation() -> None:
    assert _scoped("What does the latest Best Buy report say about inventory?") == {"bby-2024q2"}


def test_names_are_matched_as_people_write_them() -> None:
    assert _scoped("Coca Cola's return on assets in FY2017?") == {"ko-2017", "handbook"}
    assert _scoped("Walmart's days payable outstanding for FY2018") == {"wmt-2018", "handbook"}
    assert _scoped("Block (formerly known as Square) revenue growth in FY2020") == {"sq-2020", "handbook"}


def test_a_common_word_is_no_company_name() -> None:
    assert _scoped("How many square feet does the office have?") is None


def test_a_place_or_a_common_first_word_is_no_mention_of_a_longer_name() -> None:
    """An NTSB accident report names its operator "Florida Flight Training Center": a question about
    an accident "in Florida" is not about that operator's reports (it was narrowed to them and
    quoted another accident), nor is "American" a mention of American Express; the full names are."""
    catalog = Catalog(
        (
            _entry("fftc", "Florida Flight Training Center", "accident report", 2007),
            _entry("other", "Tallahassee Aero Club", "accident report", 2007),
            _entry("axp", "American Express Company", "10-K", 2022),
        )
    )
    assert scope_question("How old was the pilot who landed at his grass strip in Florida?", catalog).documents is None
    assert scope_question("What was American's revenue?", catalog).documents is None
    assert scope_question("Which aircraft did Florida Flight Training Center operate?", catalog).documents == ("fftc",)
    assert scope_question("What was American Express's revenue in 2022?", catalog).documents == ("axp",)


def test_a_question_naming_nothing_is_not_narrowed() -> None:
    assert _scoped("What is the parental leave policy?") is None


def test_where_conditions_select_by_profile() -> None:
    assert set(resolve_where([("org", "Best Buy")], CATALOG)) == {"bby-2023", "bby-2024q2"}
    assert set(resolve_where([("org", "best buy"), ("type", "10-Q")], CATALOG)) == {"bby-2024q2"}
    assert set(resolve_where([("year", "FY2017")], CATALOG)) == {"amzn-2017", "ko-2017"}
    assert set(resolve_where([("period", "2023-01-01..2023-12-31")], CATALOG)) == {"bby-2023", "bby-2024q2"}
    with pytest.raises(UserError, match="unknown --where field 'colour'"):
        resolve_where([("colour", "red")], CATALOG)


def _first_pages(path: Path, pages: int = 12) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(path).pages[:pages]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")
def test_answers_cite_only_the_filing_the_question_names(tmp_path: Path) -> None:
    """Real filings of three companies and two years: each question's citations stay in its filing."""
    folder = tmp_path / "filings"
    folder.mkdir()
    for name in ("3M_2018_10K.pdf", "3M_2022_10K.pdf", "AMAZON_2017_10K.pdf", "NETFLIX_2017_10K.pdf"):
        (folder / name).write_bytes(_first_pages(FILINGS / name))
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        for question, expected in (
            ("Where are 3M's principal executive offices, according to its FY2018 annual report?", "3M_2018_10K.pdf"),
            ("Where are 3M's principal executive offices in FY2022?", "3M_2022_10K.pdf"),
            ("Where are Amazon's principal executive offices?", "AMAZON_2017_10K.pdf"),
            ("Which exchange lists Netflix's common stock?", "NETFLIX_2017_10K.pdf"),
        ):
            answer = kb.ask(question)
            assert answer.sources and {h.path for h in answer.sources} == {expected}, question
            assert all(c.document.endswith(")") and "10-K" in c.document for c in answer.citations)
            assert len(answer.scope) == 1 and "10-K" in answer.scope[0]
        hits = kb.search("principal executive offices", filters=Filters(where=(("org", "Netflix"),)))
        assert hits and {h.path for h in hits} == {"NETFLIX_2017_10K.pdf"}


@pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")
def test_a_defined_metric_is_computed_in_code_from_the_cited_rows(tmp_path: Path) -> None:
    """Amazon's FY2017 DPO from its balance sheet and income statement, 3M's FY2018 capex from its cash
    flow statement: each figure looked up in the filing the question names, the arithmetic shown."""
    folder = tmp_path / "filings"
    folder.mkdir()
    (folder / "AMAZON_2017_10K.pdf").write_bytes(pdf_pages(FILINGS / "AMAZON_2017_10K.pdf", [0, 37, 39]))
    (folder / "3M_2018_10K.pdf").write_bytes(pdf_pages(FILINGS / "3M_2018_10K.pdf", [0, 57, 59]))
    (folder / "3M_2022_10K.pdf").write_bytes(pdf_pages(FILINGS / "3M_2022_10K.pdf", [0, 40, 47]))
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        dpo = kb.ask(
            "What is Amazon's FY2017 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts "
            "payable between FY2016 and FY2017) / (FY2017 COGS + change in inventory between FY2016 and FY2017). "
            "Round your answer to two decimal places."
        )
        assert dpo.method == "calculated" and dpo.text.startswith("Days payable outstanding: 93.86")
        assert "(25,309 + 34,616) / 2" in dpo.text and "111,934" in dpo.text
        quotes = {c.quote for c in dpo.citations}
        assert (
            "Accounts payable | $25,309 | $34,616" in quotes and "Cost of sales | 71,651 | 88,265 | 111,934" in quotes
        )
        assert {c.path for c in dpo.citations} == {"AMAZON_2017_10K.pdf"}
        capex = kb.ask("What is the FY2018 capital expenditure amount (in USD millions) for 3M?")
        assert capex.method == "calculated" and "(1,577)" in capex.text
        assert capex.citations[0].quote.startswith("Purchases of property, plant and equipment (PP&E) | (1,577)")
        assert "3M" in capex.citations[0].document and capex.text.startswith(
            "Capital expenditure: 1,577 (USD millions)"
        )
        # 3M calls its revenue "Net sales": the row is found under the line item's other names
        share = kb.ask("What is 3M's FY2022 capital expenditure as a percentage of revenue?")
        assert share.method == "calculated" and "(1,749 / 34,229) × 100 = 5.1" in share.text
        assert {c.path for c in share.citations} == {"3M_2022_10K.pdf"}


@pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")
def test_a_line_item_is_read_from_the_filings_own_statement_not_a_table_repeating_part_of_it(
    tmp_path: Path,
) -> None:
    """3M's 2022 10-K shows a segment's "Sales (millions)" for 2022 and 2021 on page 33, and Amcor's
    2023 10-K a "Statement of Income for Obligor Group" on page 38: the company's net sales and net
    income come from the consolidated statements (pages 48 and 50), whether or not a search for the
    line item ranks those pages first."""
    folder = tmp_path / "filings"
    folder.mkdir()
    (folder / "3M_2022_10K.pdf").write_bytes(pdf_pages(FILINGS / "3M_2022_10K.pdf", [0, 32, 47, 49]))
    (folder / "AMCOR_2023_10K.pdf").write_bytes(pdf_pages(FILINGS / "AMCOR_2023_10K.pdf", [0, 37, 49, 51]))
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        change = kb.ask("What was the change in 3M's net sales from 2021 to 2022?")
        assert change.method == "calculated" and change.text.startswith("Change in revenue: -1,126")
        assert "34,229 - 35,355 = -1,126" in change.text
        assert {c.quote for c in change.citations} == {"Net sales | $34,229 | $35,355 | $32,184"}
        income = kb.ask("What was Amcor's net income in FY2023?")
        assert income.method == "calculated" and income.text.startswith("Net income: $1,058 (in millions)"), income.text
        assert all("Consolidated Statements of Income" in c.location.label() for c in income.citations)
        assets = kb.ask("What were Amcor's total assets at the end of FY2023?")
        assert assets.text.startswith("Total assets: $17,003 (in millions)"), assets.text
        # "total assets" is the line item, not "assets"; the balance sheet's columns are its years
        grown = kb.ask("What was the change in 3M's total assets from 2021 to 2022?")
        assert grown.method == "calculated" and "46,455 - 47,072 = -617" in grown.text, grown.text


def test_arithmetic_no_organisation_pins_down_shows_each_documents_result_when_they_differ(tmp_path: Path) -> None:
    """Two companies' notes both report prepaid expenses for 2018 and 2019: a question naming neither
    gets each document's result under its name, never one of them as the answer; a third document
    whose row only resembles the item ("Prepaid expenses and other") is left out, and a document
    repeating the same figures adds nothing."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "acme-notes.txt").write_text(
        "Acme Corp notes to the financial statements (in thousands):\n"
        "2019 | 2018\nPrepaid expenses | $2,303 | $1,780\nOther | 193 | 167\n",
        encoding="utf-8",
    )
    (folder / "acme-notes-copy.txt").write_text(
        "Acme Corp notes, as filed again (in thousands):\n2019 | 2018\nPrepaid expenses | $2,303 | $1,780\n",
        encoding="utf-8",
    )
    (folder / "globex-notes.txt").write_text(
        "Globex Inc notes to the financial statements (in thousands):\n"
        "2019 | 2018\nPrepaid expenses | 164 | 151\nDeposits | 20 | 18\n",
        encoding="utf-8",
    )
    (folder / "initech-notes.txt").write_text(
        "Initech notes (in millions):\n2019 | 2018\nPrepaid expenses and other | 2,578 | 2,083\n",
        encoding="utf-8",
    )
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        change = kb.ask("What is the change in prepaid expenses between 2018 and 2019?")
        assert change.method == "calculated" and change.text.startswith("2 documents give different results:")
        assert "2,303 - 1,780 = 523" in change.text and "164 - 151 = 13" in change.text
        assert "2,578" not in change.text
        assert {c.path for c in change.citations} <= {"acme-notes.txt", "acme-notes-copy.txt", "globex-notes.txt"}
        assert "globex-notes.txt" in {c.path for c in change.citations}
        assert any("name the organisation" in note for note in change.notes)
        # naming the organisation gives its one answer, and a surer one
        named = kb.ask("What is the change in Globex's prepaid expenses between 2018 and 2019?")
        assert named.method == "calculated" and named.text.startswith("Change in prepaid expenses: 13"), named.text
        assert change.confidence < named.confidence


def test_arithmetic_without_an_organisation_uses_the_figures_of_one_document(tmp_path: Path) -> None:
    """A business's own knowledge base rarely names itself in questions: the change in a line item is
    computed from one document's table; figures that only different documents give compute nothing."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "prepaid.txt").write_text(
        "Prepaid expenses and other consist of the following (in thousands):\n"
        "2019 | 2018\nPrepaid expenses | $2,303 | $1,780\nOther | 193 | 167\n",
        encoding="utf-8",
    )
    (folder / "deposits.txt").write_text(
        "Deposits held by the company at year end (in thousands):\nAs of | 2019\nCustomer deposits | 950\n",
        encoding="utf-8",
    )
    (folder / "deposits-2018.txt").write_text(
        "Deposits held at the end of the earlier year (in thousands):\nAs of | 2018\nCustomer deposits | 700\n",
        encoding="utf-8",
    )
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        change = kb.ask("What is the change in prepaid expenses between 2018 and 2019?")
        assert change.method == "calculated" and "2,303 - 1,780 = 523" in change.text
        assert {c.path for c in change.citations} == {"prepaid.txt"}
        split = kb.ask("What is the change in customer deposits from 2018 to 2019?")
        assert split.method != "calculated"


def test_current_as_an_accounting_word_does_not_ask_for_the_newest_report() -> None:
    """The words "total current assets" name a line of a balance sheet, not the latest filing: every
    report stays in scope (the question names no organisation or year)."""
    every = _scoped("What were the total current assets?")
    assert every is None
    assert _scoped("What were the total current assets in the current report?") == {"bby-2024q2"}
    assert _scoped("What are the non-current liabilities?") == every
    assert _scoped("What was the current portion of long-term debt?") == every
