"""Figures read from statements: parts added up where a statement gives no total row, the primary
statement before later tables under the same title, how sure a computed answer is, and a single
figure stated with its currency and scale (and what makes its match uncertain).

Logic on table passages written here; end to end on pages of a real filing (Amcor's 2023 10-K,
when ../shared/data is present) and on a balance sheet written for these tests in tests/data.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from docket.answer.calculate import answer_text, compute, confidence, lookup, plan, stated
from docket.answer.figures import primary_statements
from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.sentences import CELL_SEPARATOR
from docket.types import Hit, Location
from tests.pdfs import pdf_pages

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "financebench-dev" / "pdfs"
DATA = Path(__file__).resolve().parents[1] / "data" / "tables"


def _hit(lines: list[str], heading: str = "", chunk_id: int = 1, page: int | None = None) -> Hit:
    text = "\n".join(CELL_SEPARATOR.join(c.strip() for c in line.split("|")) for line in lines)
    location = Location(heading_path=(heading,) if heading else (), page=page)
    return Hit(chunk_id, "d1", "folder", "acme.pdf", "Acme 10-K", text, location, 1.0)


BALANCE = _hit(
    [
        "($ in millions) | As of June 30, 2023 | As of 2022",
        "Cash and cash equivalents | $689 | $775",
        "Inventories, net",
        "Raw materials and supplies | 992 | 1,114",
        "Work in process and finished goods | 1,221 | 1,325",
        "Prepaid expenses and other current assets | 531 | 512",
        "Total current assets | 5,308 | 5,853",
        "Total current liabilities | 4,476 | 5,103",
    ],
    heading="Consolidated Balance Sheets",
    page=52,
)
# a guarantor group's balance sheet in the notes, under the same title, with a one-line inventory row
GUARANTORS = _hit(
    [
        "($ in millions) | As of June 30, 2023 | As of 2022",
        "Inventories | 60 | 71",
        "Total current assets | 477 | 820",
        "Total current liabilities | 1,145 | 1,275",
    ],
    heading="Consolidated Balance Sheets",
    chunk_id=9,
    page=107,
)
CASH_FLOWS = _hit(
    ["($ in millions) | 2023 | 2022", "Net income | 1,058 | 815"],
    heading="Consolidated Statements of Cash Flows",
    chunk_id=3,
    page=53,
)
NOTE = Hit(
    4,
    "d1",
    "folder",
    "acme.pdf",
    "Acme 10-K",
    " ".join(["The Company's subsidiaries entered into a deed of cross guarantee."] * 8),
    Location(page=106),
    1.0,
)


def test_a_statement_without_a_total_row_gives_the_sum_of_the_items_parts() -> None:
    figure = lookup("inventory", 2023, [BALANCE])
    assert figure is not None and figure.value == 992 + 1_221
    assert figure.parts == ("Raw materials and supplies", "Work in process and finished goods")
    assert figure.cell == "992 + 1,221" and figure.label == "Inventories, net"
    # the parts end where another line item starts: prepaid expenses are no inventory
    assert lookup("inventory", 2022, [BALANCE]).value == 1_114 + 1_325  # type: ignore[union-attr]
    # the rows added up are the ones cited
    assert BALANCE.text[figure.start : figure.end].startswith("Inventories, net\nRaw materials")
    assert BALANCE.text[figure.start : figure.end].endswith("1,221" + CELL_SEPARATOR + "1,325")


def test_a_total_row_under_the_parts_is_read_never_added_to_them() -> None:
    for total in ("Total inventories", "Total"):
        hit = _hit(
            [
                "(in thousands) | 2019 | 2018",
                "Inventories:",
                "Raw materials | 100 | 90",
                "Finished goods | 50 | 40",
                f"{total} | 150 | 130",
                "Accounts payable | 70 | 60",
            ],
            heading="Consolidated Balance Sheets",
        )
        figure = lookup("inventory", 2019, [hit])
        assert figure is not None and figure.value == 150 and not figure.parts, total


def test_a_labelled_list_that_is_not_the_items_parts_is_not_added_up() -> None:
    hit = _hit(
        [
            "(in millions) | 2019 | 2018",
            "Net sales",
            "Americas | 700 | 650",
            "Europe | 300 | 280",
            "Cost of sales | 600 | 560",
        ],
        heading="Consolidated Statements of Income",
    )
    figure = lookup("revenue", 2019, [hit])
    assert figure is not None and figure.value == 1_000  # not 1,600: cost of sales is another line item
    # one part alone is no sum
    single = _hit(["(in millions) | 2019 | 2018", "Inventories", "Raw materials | 100 | 90", "Goodwill | 5 | 5"])
    assert lookup("inventory", 2019, [single]) is None


def test_the_primary_statement_comes_before_a_later_table_under_the_same_title() -> None:
    primary, later = primary_statements([BALANCE, CASH_FLOWS, NOTE, GUARANTORS])
    assert primary == [BALANCE, CASH_FLOWS] and later == [GUARANTORS]
    # prose between two tables of one statement ends it too
    primary, later = primary_statements([BALANCE, NOTE, GUARANTORS])
    assert primary == [BALANCE] and later == [GUARANTORS]
    # the balance sheet continued on its next page is still primary
    continued = replace(GUARANTORS, chunk_id=2, location=Location(heading_path=("Consolidated Balance Sheets",)))
    primary, later = primary_statements([BALANCE, continued, CASH_FLOWS])
    assert primary == [BALANCE, continued, CASH_FLOWS] and later == []


def test_quick_ratio_from_a_statement_listing_inventory_parts() -> None:
    quick = plan("What was Acme's quick ratio for FY2023?")
    assert quick is not None
    result = compute(quick, lambda item, year: lookup(item, year, [BALANCE]))
    assert result is not None and math.isclose(result.value, (5_308 - 2_213) / 4_476)
    text = answer_text(result, [1, 1, 1])
    assert "(5,308 - 2,213) / 4,476" in text
    assert "2,213 = 992 + 1,221" in text and "the statement gives no total, its parts are added" in text


def test_a_computed_answer_is_less_sure_where_its_rows_or_columns_are() -> None:
    exact = compute(plan("What were Acme's total current assets in FY2023?"), lambda i, y: lookup(i, y, [BALANCE]))  # type: ignore[arg-type]
    assert exact is not None and confidence(exact) == 1.0
    parts = compute(plan("What was Acme's inventory in FY2023?"), lambda i, y: lookup(i, y, [BALANCE]))  # type: ignore[arg-type]
    assert parts is not None and confidence(parts) < confidence(exact)
    quarters = _hit(
        [
            "(in millions) | Three months 2023 | Three months 2022 | Nine months 2023",
            "Net sales | 300 | 280 | 900",
        ],
        heading="Consolidated Statements of Income",
    )
    several = compute(plan("What was Acme's revenue in FY2023?"), lambda i, y: lookup(i, y, [quarters]))  # type: ignore[arg-type]
    assert several is not None and confidence(several) < 1.0
    assert "Uncertain: FY2023 has several columns" in answer_text(several, [1])
    resembling = _hit(["(in thousands) | 2019 | 2018", "Billed receivables from customers | 239,275 | 200,000"])
    loose = compute(plan("What was the billed receivables in 2019?"), lambda i, y: lookup(i, y, [resembling]))  # type: ignore[arg-type]
    assert loose is not None and confidence(loose) < 0.9
    assert 'the closest is "Billed receivables from customers"' in answer_text(loose, [1])


def test_a_single_figure_is_stated_with_its_currency_and_scale() -> None:
    figure = lookup("cash and cash equivalents", 2023, [BALANCE])
    assert figure is not None
    assert stated(None, figure) == "$689 (in millions)"
    negative = replace(figure, value=-2_780.0, cell="$(2,780)")
    assert stated(None, negative) == "-$2,780 (in millions)"
    bare = replace(figure, cell="689", unit="")
    assert stated(None, bare) == "689"
    rate = replace(figure, value=2.7, cell="2.7%", unit="")
    assert stated(None, rate) == "2.7%"


def test_a_balance_sheet_file_is_answered_from_its_rows(tmp_path: Path) -> None:
    """A balance sheet in HTML written for these tests (tests/data/tables): inventories listed as parts,
    the quick ratio computed from the primary statement, not from the guarantor table after it."""
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(DATA / "northwind-2023.html")])
        quick = kb.ask("What was Northwind's quick ratio for FY2023?")
        assert quick.method == "calculated", quick.text
        assert quick.text.startswith("Quick ratio: 0.69"), quick.text
        assert "2,213 = 992 + 1,221" in quick.text and "60" not in quick.text.split("\n")[1]
        cash = kb.ask("What were Northwind's cash and cash equivalents in FY2023?")
        assert cash.method == "calculated" and cash.text.startswith("Cash and cash equivalents: $689 (in millions)")


def test_a_computed_answer_below_the_abstention_threshold_is_not_stated(tmp_path: Path) -> None:
    """A row that only resembles the item asked for gives a less sure answer; above the threshold it
    is not stated as computed (the usual passages answer or refuse instead)."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "receivables.txt").write_text(
        "Receivables (in thousands):\n2019 | 2018\nBilled receivables from customers | 239,275 | 200,000\n",
        encoding="utf-8",
    )
    question = "What was the billed receivables in 2019?"
    for threshold, computed in ((0.5, True), (0.9, False)):
        settings = load_settings(home=tmp_path / f"kb{threshold}", overrides={"answer": {"min_relevance": threshold}})
        with KnowledgeBase(settings, embedder=FakeEmbedder()) as kb:
            kb.ingest([str(folder)])
            answer = kb.ask(question)
            assert (answer.method == "calculated") is computed, (threshold, answer.text)
            if computed:
                assert answer.confidence < 0.9 and "Uncertain" in answer.text


@pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")
def test_amcors_quick_ratio_adds_its_inventory_parts_from_the_primary_balance_sheet(tmp_path: Path) -> None:
    """Amcor's 2023 balance sheet (p. 52) lists inventories only as raw materials and work in process
    and finished goods; the deed of cross guarantee's balance sheet (p. 107) has an "Inventories" row
    of 60. The quick ratio uses 992 + 1,221 from p. 52."""
    folder = tmp_path / "filings"
    folder.mkdir()
    (folder / "AMCOR_2023_10K.pdf").write_bytes(pdf_pages(FILINGS / "AMCOR_2023_10K.pdf", [0, 51, 52, 105, 106]))
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        quick = kb.ask("What was Amcor's quick ratio for FY2023?")
        assert quick.method == "calculated", quick.text
        assert quick.text.startswith("Quick ratio: 0.69"), quick.text
        assert "(5,308 - 2,213) / 4,476" in quick.text
        assert all(c.location.page == 2 for c in quick.citations), [c.location for c in quick.citations]


def test_a_figure_for_each_year_asked_respectively_is_read_from_one_row() -> None:
    notes = _hit(["(in thousands) | 2019 | 2018", "Other current assets | 193 | 167", "Deposits | 20 | 18"])
    each = plan("What is the value of the other current assets for 2019 and 2018 respectively?")
    assert each is not None and each.each and each.years == (2019, 2018)
    result = compute(each, lambda item, year: lookup(item, year, [notes]))
    assert result is not None and result.each == (193, 167)
    text = answer_text(result, [1, 1])
    assert text.startswith("Other current assets: 193 in 2019 and 167 in 2018 (in thousands)"), text
    assert "Calculation" not in text
    # an operation asked "respectively" is no figure per year
    assert plan("What was the percentage change in revenue in 2019 and 2018 respectively?") is None
    # "the total X" asks for the total row, not a row "X" of another table
    total = plan("What is the value of the total prepaid expenses and other for 2019 and 2018 respectively?")
    assert total is not None and total.label == "total prepaid expenses and other"


def test_a_row_named_only_with_its_section_is_found_by_both_and_marked_uncertain() -> None:
    swaps = _hit(
        [
            "(in millions) | 2019 | 2018",
            "Interest rate swaps",
            "Carrying amount (non-current (liabilities)/assets) | (494) | 1,663",
            "Notional amount | 29,423 | 77,630",
        ]
    )
    asked = plan("What is the 2018 carrying amount of interest rate swaps?")
    assert asked is not None and asked.label == "carrying amount of interest rate swaps"
    result = compute(asked, lambda item, year: lookup(item, year, [swaps]))
    assert result is not None and result.value == 1_663
    text = answer_text(result, [1])
    assert text.startswith("Carrying amount of interest rate swaps: 1,663 (in millions)"), text
    assert "Uncertain: no row is named" in text and confidence(result) < 0.9
    # a known line item is never read from a section's rows: "Other" under "Revenue" is no revenue row
    assert lookup("revenue", 2018, [_hit(["(in millions) | 2019 | 2018", "Revenue", "Other | 5 | 4"])]) is None
