"""Numeric tables found in the text of real filings' pages (../shared/data), and the PDF parser's
table blocks built from them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from docket.ingest.parsers import parse_bytes
from docket.ingest.text_tables import find_tables, split_cells

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "financebench-dev" / "pdfs"
needs_data = pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")


def _page_text(name: str, page: int) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(FILINGS / name))
    try:
        return str(pdf[page].get_textpage().get_text_range()).replace("\r\n", "\n")
    finally:
        pdf.close()


def test_a_row_is_its_label_then_its_figures() -> None:
    assert split_cells("Revenue $ 9,583 $ 10,329 (7) —") == ("Revenue", ["$9,583", "$10,329", "(7)", "—"])
    assert split_cells("December 31,") == ("December 31,", [])  # a date is no figure
    assert split_cells("Our revenue grew strongly this year.") == ("Our revenue grew strongly this year.", [])


@needs_data
def test_a_cash_flow_statement_keeps_its_years_unit_and_title() -> None:
    [table] = find_tables(_page_text("3M_2018_10K.pdf", 59))
    assert table.title == "Consolidated Statement of Cash Flows"
    assert table.header == "(Millions) | Years ended 2018 | Years ended 2017 | Years ended 2016"
    assert "Purchases of property, plant and equipment (PP&E) | (1,577) | (1,373) | (1,420)" in table.rows
    # a caption inside the table stays a line of its own, not glued to the next row's label
    assert "Cash Flows from Investing Activities" in table.rows


@needs_data
def test_a_balance_sheet_takes_its_years_from_the_lines_above() -> None:
    [table] = find_tables(_page_text("AMAZON_2017_10K.pdf", 39))
    assert table.title == "CONSOLIDATED BALANCE SHEETS"
    assert table.header == "(in millions, except per share data) | 2016 | 2017"
    assert "Accounts payable | $25,309 | $34,616" in table.rows


@needs_data
def test_a_date_over_the_column_headings_is_part_of_the_heading_not_the_first_row() -> None:
    """3M's balance sheet says "At December 31" above "(Dollars in millions, …) 2022 2021": read as a
    row ("At December | 31"), it started the table below the years, which then had no columns."""
    [table] = find_tables(_page_text("3M_2022_10K.pdf", 49))
    assert table.title == "Consolidated Balance Sheet"
    assert table.header == "(Dollars in millions, except per share amount) | 2022 | 2021"
    assert "Total assets | $46,455 | $47,072" in table.rows
    assert not any(row.startswith("At December") for row in table.rows)


@needs_data
def test_period_groups_are_spread_over_the_dates_below_them() -> None:
    [table] = find_tables(_page_text("BESTBUY_2024Q2_10Q.pdf", 3))
    assert table.header.split(" | ")[1:] == [
        "Three Months Ended July 29, 2023",
        "Three Months Ended July 30, 2022",
        "Six Months Ended July 29, 2023",
        "Six Months Ended July 30, 2022",
    ]
    assert table.header.startswith("$ and shares in millions")
    assert "Revenue | $9,583 | $10,329 | $19,050 | $20,976" in table.rows


@needs_data
def test_the_pdf_parser_makes_table_blocks_that_carry_their_header() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_page(PdfReader(FILINGS / "3M_2018_10K.pdf").pages[59])
    buffer = io.BytesIO()
    writer.write(buffer)
    parsed = parse_bytes(buffer.getvalue(), "cash-flows.pdf")
    tables = [b for b in parsed.blocks if b.kind == "table"]
    assert len(tables) == 1 and tables[0].page == 1
    assert tables[0].heading_path == ("Consolidated Statement of Cash Flows",)
    assert tables[0].header == "(Millions) | Years ended 2018 | Years ended 2017 | Years ended 2016"
    assert any(b.kind == "text" and "accompanying Notes" in b.text for b in parsed.blocks)  # prose stays prose
