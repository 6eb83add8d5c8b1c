"""PowerPoint: slides, titles, groups, tables, notes and broken files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.util import Inches

from docket.errors import ParseError
from docket.ingest.limits import ParseLimits, applied_limits
from docket.ingest.parsers import parse_bytes
from tests.conftest import REPO
from tests.ingest.ocr_helpers import needs_tesseract
from tests.ingest.parsers.helpers import example

NOTE = REPO / "tests" / "data" / "ocr" / "delivery-note.png"


def test_pptx_blocks_carry_slide_number_and_title() -> None:
    doc = parse_bytes(example("sample-presentation.pptx"), "deck.pptx")
    slide2 = next(b for b in doc.blocks if b.slide == 2)
    assert slide2.heading_path == ("This is the first content slide",)
    assert "And a list of bulleted information\nWith a sub-bullet" in slide2.text
    assert sorted({b.slide for b in doc.blocks}) == [1, 2, 3, 4]
    assert doc.metadata["slides"] == 4


def test_pptx_tables_become_table_blocks() -> None:
    doc = parse_bytes(example("fake-power-point-table.pptx"), "table.pptx")
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.slide == 1
    assert table.heading_path == ("A Slide with a Table",)
    assert table.header == "Column 1 | Column 2 | Column 3"
    assert table.text.splitlines() == ["Red | Green | Blue", "Purple | Orange | Yellow", "Tangerine | Pink | Aqua"]


def test_pptx_nested_groups_are_read() -> None:
    doc = parse_bytes(example("group-shapes-nested.pptx"), "groups.pptx")
    assert set(doc.text.split()) == set("ABCDEFGHIJ")


def test_pptx_text_boxes_and_placeholders_are_read() -> None:
    doc = parse_bytes(example("fake-power-point.pptx"), "bullets.pptx")
    assert doc.title == "Adding a Bullet Slide"
    assert "Use _TextFrame.add_paragraph() for subsequent bullets" in doc.text
    assert "Here is some text in a text box!" in doc.text


def test_pptx_speaker_notes_are_a_block_under_the_slide_title(tmp_path: Path) -> None:
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Budget 2025"
    slide.placeholders[1].text = "Travel is cut by 10%"
    group = slide.shapes.add_group_shape()
    inner = group.shapes.add_group_shape()
    box = inner.shapes.add_textbox(Inches(1), Inches(5), Inches(3), Inches(1))
    box.text_frame.text = "Deep inside a group"
    slide.notes_slide.notes_text_frame.text = "Mention the hiring freeze."
    path = tmp_path / "budget.pptx"
    deck.save(str(path))
    doc = parse_bytes(path.read_bytes(), "budget.pptx")
    notes = next(b for b in doc.blocks if "hiring freeze" in b.text)
    assert notes.heading_path == ("Budget 2025", "Notes")
    assert notes.slide == 1
    body = doc.blocks[0]
    assert body.heading_path == ("Budget 2025",)
    assert "Travel is cut by 10%" in body.text and "Deep inside a group" in body.text


def test_pptx_malformed_example_still_gives_its_text() -> None:
    doc = parse_bytes(example("fake-power-point-malformed.pptx"), "malformed.pptx")
    assert doc.blocks[0].heading_path == ("Test Slide",)


def test_pptx_of_pictures_only_is_a_parse_error_naming_the_reason() -> None:
    with applied_limits(ParseLimits(ocr=False)), pytest.raises(ParseError, match=r"pictures only\?; OCR is off"):
        parse_bytes(example("picture.pptx"), "picture.pptx")


@needs_tesseract
def test_a_slide_of_pictures_only_is_read_by_ocr_and_a_slide_with_text_is_not() -> None:
    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Deliveries"
    first.placeholders[1].text = "Scanned delivery notes follow."
    first.shapes.add_picture(str(NOTE), Inches(5), Inches(4), width=Inches(2))  # a picture beside text: not read
    scanned = deck.slides.add_slide(deck.slide_layouts[6])  # blank: the scan is all there is
    scanned.shapes.add_picture(str(NOTE), 0, 0, height=deck.slide_height)
    out = io.BytesIO()
    deck.save(out)
    doc = parse_bytes(out.getvalue(), "deliveries.pptx")
    assert [b.slide for b in doc.blocks] == [1, 2]
    assert doc.blocks[0].text == "Deliveries\n\nScanned delivery notes follow."
    assert "delivered on 28 March 2026" in " ".join(doc.blocks[1].text.split())
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("slide 2: text read from 1 picture by OCR")
    # a picture with no text on it (a photograph, a logo without words) leaves the slide without text
    with pytest.raises(ParseError, match=r"pictures only\?; tesseract found no text on it"):
        parse_bytes(example("test-image-jpg-mime.pptx"), "photo.pptx")


def test_pptx_with_a_missing_part_is_a_parse_error() -> None:
    source = zipfile.ZipFile(io.BytesIO(example("simple.pptx")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as broken:
        for item in source.infolist():
            if item.filename != "ppt/presentation.xml":
                broken.writestr(item, source.read(item.filename))
    with pytest.raises(ParseError, match=r"not a readable PowerPoint \(.pptx\) file"):
        parse_bytes(buffer.getvalue(), "broken.pptx")


def test_pptx_of_random_bytes_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"not a valid \.pptx file"):
        parse_bytes(b"\x13\x37" * 3000, "noise.pptx")
