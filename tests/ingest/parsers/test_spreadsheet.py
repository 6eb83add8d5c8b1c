"""Spreadsheets: XLSX (cached formula values), XLS, CSV/TSV dialects and encodings, row numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes
from docket.types import Block, ParsedDocument
from tests.ingest.parsers.helpers import example


def tables(doc: ParsedDocument) -> list[Block]:
    return [b for b in doc.blocks if b.kind == "table"]


def row_number(block: Block, prefix: str) -> int:
    """The spreadsheet row of the line starting with ``prefix``, from ``row_start``."""
    lines = block.text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    assert block.row_start is not None
    return block.row_start + index


def test_xlsx_sheets_become_tables_with_header_and_row_numbers() -> None:
    doc = parse_bytes(example("stanley-cups.xlsx"), "cups.xlsx")
    assert doc.metadata["sheets"] == ["Stanley Cups", "Stanley Cups Since 67"]
    first = tables(doc)[0]
    assert first.sheet == "Stanley Cups"
    assert first.header == "Team | Location | Stanley Cups"
    assert first.text.splitlines() == ["Blues | STL | 1", "Flyers | PHI | 2", "Maple Leafs | TOR | 13"]
    assert first.row_start == 3  # row 1 is a title, row 2 the header
    caption = doc.blocks[0]
    assert caption.kind == "text" and caption.text == "Stanley Cups" and caption.sheet == "Stanley Cups"


def test_xlsx_formulas_give_their_cached_values() -> None:
    doc = parse_bytes(example("2023-half-year-analyses-by-segment.xlsx"), "nestle.xlsx")
    block = next(b for b in tables(doc) if "\nTotal | 46293 | 7904 | 7351" in b.text)  # =SUM(B9:B17) on row 18
    assert block.sheet == "OS-Rev.and results 30 06 2023"
    assert row_number(block, "Total | 46293") == 18
    assert block.header.startswith(" | Sales (a) | Underlying Trading operating profit (b)")
    assert "=SUM" not in doc.text


def test_xlsx_subtables_after_an_empty_row_get_their_own_header() -> None:
    doc = parse_bytes(example("vodafone.xlsx"), "vodafone.xlsx")
    operational = next(b for b in tables(doc) if "Mobile customers" in b.text)
    assert operational.header == "Topic | Period | Page"
    assert row_number(operational, "Mobile customers") == 13
    assert "Operational metrics" in [b.text for b in doc.blocks if b.kind == "text"]


def test_xlsx_numbers_dates_and_empty_cells_are_rendered_sensibly(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["Item", None, "Amount", "Ratio", "When", "Big"])
    sheet.append(["apples", None, 3.0, 0.1 + 0.2, dt.datetime(2024, 1, 5), 12345678901234])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["pears", None, 2.5, 1 / 3, dt.datetime(2024, 1, 5, 14, 30), -7])
    path = tmp_path / "numbers.xlsx"
    book.save(str(path))
    doc = parse_bytes(path.read_bytes(), "numbers.xlsx")
    first, second = tables(doc)
    assert first.header == "Item | Amount | Ratio | When | Big"  # the empty column is gone
    assert first.text == "apples | 3 | 0.3 | 2024-01-05 | 12345678901234"
    assert first.row_start == 2
    assert second.text == "pears | 2.5 | 0.333333333333 | 2024-01-05 14:30:00 | -7"
    assert second.row_start == 4 and second.header == first.header  # the empty row 3 is dropped


def test_xlsx_long_sheet_is_split_with_exact_row_numbers(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "name"])
    for n in range(1, 2501):
        sheet.append([n, f"item {n}"])
    path = tmp_path / "long.xlsx"
    book.save(str(path))
    blocks = tables(parse_bytes(path.read_bytes(), "long.xlsx"))
    assert [b.row_start for b in blocks] == [2, 1002, 2002]
    assert [len(b.text.splitlines()) for b in blocks] == [1000, 1000, 500]
    assert blocks[1].text.splitlines()[0] == "1001 | item 1001"
    assert all(b.header == "id | name" for b in blocks)


def test_xlsx_empty_workbook_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no data"):
        parse_bytes(example("empty.xlsx"), "empty.xlsx")


def test_xlsx_that_is_not_a_zip_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"not a valid \.xlsx file"):
        parse_bytes(example("tests-example.xls"), "renamed.xlsx")


def test_xls_is_read_with_every_sheet() -> None:
    doc = parse_bytes(example("tests-example.xls"), "quiz.xls")
    assert doc.metadata["sheets"] == ["Example Test", "Format Abbr.", "Readme"]
    quiz = tables(doc)[0]
    assert quiz.sheet == "Example Test"
    assert quiz.header.startswith("MC | What is 2+2? | 4 | correct")
    abbreviations = next(b for b in tables(doc) if "Multiple Choice" in b.text)
    assert abbreviations.sheet == "Format Abbr."
    assert "MC | Multiple Choice" in abbreviations.text.splitlines()


def test_csv_semicolon_delimiter_is_detected() -> None:
    (table,) = parse_bytes(example("table-semicolon-delimiter.csv"), "revenue.csv").blocks
    assert table.header == "Year | Month | Revenue | Costs"
    assert table.text.splitlines()[1] == "2023 | 2 | 143,1 | -814,38"


def test_csv_pipe_delimiter_and_quoted_commas() -> None:
    (pipes,) = parse_bytes(example("csv-with-line-delimiter.csv"), "pipes.csv").blocks
    assert pipes.header == "col1 | col2 | col3" and pipes.text.splitlines()[-1] == "g | h | i"
    (quoted,) = parse_bytes(example("csv-with-escaped-commas.csv"), "quoted.csv").blocks
    assert quoted.text.splitlines()[0] == "A | A | A | A,A | A"


@pytest.mark.parametrize("name", ["stanley-cups-utf-16.csv", "stanley-cups.tsv", "stanley-cups-with-emoji.tsv"])
def test_csv_and_tsv_in_any_encoding_give_the_same_table(name: str) -> None:
    table = tables(parse_bytes(example(name), name))[0]
    assert table.header == "Team | Location | Stanley Cups"
    assert table.text.splitlines()[:3] == ["Blues | STL | 1", "Flyers | PHI | 2", "Maple Leafs | TOR | 13"]
    assert table.row_start == 3


def test_csv_with_a_bom_and_multiline_cells_counts_records_as_rows() -> None:
    data = '\ufeffname,notes\n"Ada","line one\nline two"\n"Grace",short\n'.encode()
    (table,) = parse_bytes(data, "people.csv").blocks
    assert table.header == "name | notes"
    assert table.text.splitlines() == ["Ada | line one line two", "Grace | short"]
    assert table.row_start == 2


def test_csv_of_binary_noise_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_bytes(b"\x00\xff\x10" * 400, "noise.csv")
