"""Word documents: headings, document order, tables, lists, text boxes, titles and broken files."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Sequence
from pathlib import Path

import docx
import pytest
from docx.shared import Inches

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes
from tests.conftest import REPO
from tests.ingest.ocr_helpers import needs_tesseract, typed_page
from tests.ingest.parsers.helpers import block_with, example

NOTE = REPO / "tests" / "data" / "ocr" / "delivery-note.png"


def test_docx_headings_build_the_heading_path() -> None:
    doc = parse_bytes(example("category-level.docx"), "moby.docx")
    assert block_with(doc, "Call me Ishmael.").heading_path == ()
    assert block_with(doc, "damp, drizzly November in my soul").heading_path == ("A Heading 1",)
    assert block_with(doc, "substitute for pistol and ball").heading_path == ("A Heading 1", "A Heading 2")
    assert block_with(doc, "insular city of the Manhattoes").heading_path == ("Another Heading 1",)
    assert doc.title == "A Heading 1"


def test_docx_list_paragraphs_keep_a_bullet() -> None:
    doc = parse_bytes(example("category-level.docx"), "moby.docx")
    assert "- A top level list item\n- Next level\n- Same\n- Second top-level list item" in doc.text


def test_docx_tables_keep_their_header_row() -> None:
    doc = parse_bytes(example("fake_table.docx"), "fake_table.docx")
    table = doc.blocks[0]
    assert table.kind == "table"
    assert table.header == "Header Col 1 | Header Col 2"
    assert table.text == "Lorem ipsum | A Link example"
    assert table.row_start == 2


def test_docx_body_is_read_in_document_order() -> None:
    doc = parse_bytes(example("fake-doc-emphasized-text.docx"), "emph.docx")
    kinds = [(b.kind, b.text.splitlines()[0]) for b in doc.blocks]
    assert kinds == [
        ("table", "A bold italic bold-italic example | A Link example"),
        ("text", "I am a bold italic bold-italic text."),
    ]
    docs_tables = parse_bytes(example("docx-tables.docx"), "tables.docx")
    order = [b.text.splitlines()[0] for b in docs_tables.blocks]
    assert order.index("Simple uniform table") < order.index("Nested Table")


def test_docx_nested_table_is_flattened_into_its_cell() -> None:
    doc = parse_bytes(example("docx-tables.docx"), "tables.docx")
    nested = next(b for b in doc.blocks if b.kind == "table" and b.header == "a | >b< | c")
    assert nested.text.splitlines()[1] == "j | k | l"
    assert "e; f" in nested.text.splitlines()[0]


def test_docx_rows_that_skip_grid_columns_do_not_crash() -> None:
    doc = parse_bytes(example("grid_offset_error.docx"), "grid.docx")
    assert "Merged B1-B3" in doc.text


def test_docx_text_boxes_are_read() -> None:
    doc = parse_bytes(example("docx-shapes.docx"), "shapes.docx")
    assert "<floating-shape>" in doc.text
    assert doc.text.count("<inline-image1>") == 1  # not repeated from the legacy VML copy


def test_docx_long_handbook_keeps_chapter_and_section() -> None:
    doc = parse_bytes(example("handbook-872p.docx"), "handbook.docx")
    assert len(doc.blocks) > 200
    eligibility = next(b for b in doc.blocks if b.heading_path[-1:] == ("A. ELIGIBILITY",))
    assert eligibility.heading_path[0].startswith("CHAPTER 2")
    assert doc.title == "CHAPTER 1 – INTRODUCTION"


def test_docx_title_comes_from_core_properties_and_title_style(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Quarterly plan"
    document.add_heading("Plan overview", level=0)  # the Title style
    document.add_paragraph("We ship the importer in March.")
    document.add_heading("Risks", level=1)
    document.add_paragraph("Vendor delays.", style="List Bullet")
    path = tmp_path / "plan.docx"
    document.save(str(path))
    doc = parse_bytes(path.read_bytes(), "plan.docx")
    assert doc.title == "Quarterly plan"
    assert block_with(doc, "We ship the importer in March.").heading_path == ("Plan overview",)
    assert block_with(doc, "- Vendor delays.").heading_path == ("Plan overview", "Risks")


def test_docx_of_random_bytes_is_a_parse_error() -> None:
    data = random.Random(7).randbytes(4096)
    with pytest.raises(ParseError, match=r"not a valid \.docx file"):
        parse_bytes(data, "corrupt.docx")


def test_docx_zip_without_a_document_is_a_parse_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    with pytest.raises(ParseError, match=r"not a readable Word \(.docx\) document"):
        parse_bytes(buffer.getvalue(), "hollow.docx")


def test_docx_truncated_zip_is_a_parse_error() -> None:
    data = example("fake.docx")
    with pytest.raises(ParseError, match=r"not a readable Word \(.docx\) document"):
        parse_bytes(data[: len(data) // 2], "truncated.docx")


def _docx(*paragraphs: str, pictures: Sequence[Path] = ()) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    for picture in pictures:
        document.add_picture(str(picture), width=Inches(6))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@needs_tesseract
def test_a_docx_of_scanned_pages_pasted_in_is_read_by_ocr_and_one_with_text_is_not(tmp_path: Path) -> None:
    returns = tmp_path / "returns.png"
    typed_page(["Returns", "", "Damaged fittings are returned within fourteen days."]).save(returns)
    doc = parse_bytes(_docx(pictures=[NOTE, returns]), "scans.docx")
    text = " ".join(doc.text.split())
    assert text.index("delivered on 28 March 2026") < text.index("returned within fourteen days")  # document order
    assert len(doc.warnings) == 1
    assert doc.warnings[0].startswith("no text but pictures: text read from 2 pictures by OCR")
    with_text = parse_bytes(_docx("Delivery notes are kept for six years.", pictures=[NOTE]), "policy.docx")
    assert with_text.text == "Delivery notes are kept for six years." and with_text.warnings == ()
