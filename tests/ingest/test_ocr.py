"""OCR: the engine on real rendered pages, reading order, the routing rule, running headers, and
what a machine without the engine says."""

from __future__ import annotations

import sys

import pytest

from docket.errors import MissingExtraError, ParseError
from docket.ingest import ocr
from docket.ingest.limits import ParseLimits, applied_limits
from docket.ingest.ocr import OcrLine, read_image, reading_order
from docket.ingest.page_edges import drop_running_lines
from docket.ingest.parsers import parse_bytes
from docket.ingest.parsers.ocr_text import needs_ocr
from docket.ingest.quality import check_text
from tests.ingest.ocr_helpers import (
    PROTOCOL,
    image_bytes,
    needs_tesseract,
    render,
    scanned_pdf,
    text_layer,
    word_recall,
)

PROSE = (
    "The study enrols patients with oral chronic graft-versus-host disease after a transplant. Each "
    "patient applies the dressing four times a day for two weeks, and the mouth is examined weekly."
)


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch):
    """A machine without Tesseract (and without RapidOCR)."""
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    ocr.ocr_engine.cache_clear()
    yield
    ocr.ocr_engine.cache_clear()


# ------------------------------------------------------------------------------------ the engine
@needs_tesseract
def test_tesseract_reads_the_words_of_a_real_page_rendered_and_fed_askew() -> None:
    data = PROTOCOL.read_bytes()
    page = read_image(render(data, 3, dpi=200, angle=0.7))
    assert page.engine == "tesseract" and page.confidence is not None and page.confidence > 0.8
    assert word_recall(page.text, text_layer(data, 3)) > 0.9
    assert "Inclusion Criteria" in page.text


@needs_tesseract
def test_a_page_scanned_sideways_is_turned_upright_before_it_is_read() -> None:
    data = PROTOCOL.read_bytes()
    page = read_image(render(data, 0, dpi=200, angle=90))
    assert word_recall(page.text, text_layer(data, 0)) > 0.85


# ---------------------------------------------------------------------------------- reading order
def _line(text: str, left: float, top: float, right: float, height: float = 20) -> OcrLine:
    return OcrLine(text, (left, top, right, top + height), 0.9)


def test_two_columns_are_read_left_then_right_under_a_title_across_both() -> None:
    lines = [
        _line("right one", 900, 200, 1500),
        _line("left one", 100, 200, 700),
        _line("Title across both columns", 100, 100, 1500),
        _line("right two", 900, 230, 1500),
        _line("left two", 100, 230, 700),
        _line("left three", 100, 260, 700),
    ]
    order = [line.text for line in reading_order(lines) if line.text]
    assert order == ["Title across both columns", "left one", "left two", "left three", "right one", "right two"]


def test_the_cells_of_a_table_row_are_read_together_not_column_by_column() -> None:
    lines = [
        _line("Charges", 100, 300, 220),
        _line("$4.11", 1400, 302, 1480),
        _line("Credits", 100, 340, 210),
        _line("$0.00", 1400, 342, 1480),
        _line("Total", 100, 380, 180),
        _line("$4.11", 1400, 382, 1480),
    ]
    assert [line.text for line in reading_order(lines)] == ["Charges  $4.11", "Credits  $0.00", "Total  $4.11"]


def test_tesseract_lines_of_a_tilted_page_are_straightened_into_rows() -> None:
    # a row of cells drifting down 2 px per 100 px, as on a page fed 1 degree askew
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [header]
    for block, (line, y) in enumerate([("Charges", 300), ("Credits", 360), ("Total", 420)], start=1):
        words = [(line, 100), ("for", 300), ("the", 420), ("month", 540)]
        for n, (word, x) in enumerate(words, start=1):
            rows.append(f"5\t1\t{block}\t1\t1\t{n}\t{x}\t{y + x // 50}\t100\t30\t95\t{word}")
        rows.append(f"5\t1\t{block + 10}\t1\t1\t1\t1400\t{y + 28 - 2}\t80\t30\t95\t$4.11")
    lines, turned = ocr._tsv_lines("\n".join(rows))
    assert not turned
    # straightened, each label on the row of its amount; spaced as they are (a label, a gap of three
    # line heights, then the rest), the rows are a table, cut into cells by the gaps
    assert [line.text for line in reading_order(lines)] == [
        "Charges | for the month | $4.11",
        "Credits | for the month | $4.11",
        "Total | for the month | $4.11",
    ]


# ---------------------------------------------------------------------------------------- routing
@pytest.mark.parametrize(
    ("text", "drawn", "wanted"),
    [
        (PROSE, "image", False),  # a good text layer is kept, whatever else the page shows
        ("", "image", True),  # a scan
        ("", "unmapped", True),  # text drawn with fonts that map to no characters
        ("", "blank", False),
        ("", None, True),  # the reader cannot tell what is drawn: try
        ("Page 3", "image", True),  # a scan with a stamped page number
        ("Appendix A", "unmapped", False),  # a short page of real text
        ("\ufffd\ufffd\ufffd \ufffd\ufffd " * 20 + PROSE[:40], "unmapped", True),  # replacement characters
        ("#$%& *@!^ ~|<> " * 20, "drawing", True),  # symbols rather than words
        ("".join(PROSE.split()) * 3, "unmapped", True),  # words run together
    ],
)
def test_a_page_goes_to_ocr_when_its_text_layer_is_absent_or_garbled(text: str, drawn: str, wanted: bool) -> None:
    assert needs_ocr(check_text(text), drawn) is wanted


# ------------------------------------------------------------------------------ running headers
def test_a_line_repeated_at_the_top_of_every_page_is_kept_once_and_page_numbers_dropped() -> None:
    pages = [f"ACME Ltd - Confidential\nBody of page {n}.\nMore text.\nPage {n} of 4" for n in range(1, 5)]
    pages[2] = "ACME Ltd - Confidential\nThe body says ACME Ltd - Confidential too.\nPage 3 of 4"
    out = drop_running_lines(pages)
    assert out[0] == "Body of page 1.\nMore text.\n\nACME Ltd - Confidential"  # after its first page
    assert out[1] == "Body of page 2.\nMore text."
    assert out[2] == "The body says ACME Ltd - Confidential too."
    assert drop_running_lines(pages[:2]) == pages[:2]  # two pages are too few to tell
    # a line at the top and at the bottom of every page is kept once, not twice
    framed = [f"ACME Ltd\nIntro {w}.\nMiddle {w}.\nEnd {w}.\nACME Ltd" for w in ("one", "two", "three")]
    assert drop_running_lines(framed)[0] == "Intro one.\nMiddle one.\nEnd one.\n\nACME Ltd"


def test_the_running_header_of_a_real_protocol_is_kept_once() -> None:
    """Its header is the only place the protocol gives its version date: kept on the first page,
    not repeated in every passage."""
    doc = parse_bytes(PROTOCOL.read_bytes(), "protocol.pdf")
    holding = [block.page for block in doc.blocks if "Version: v1.0 Date: September 13, 2023" in block.text]
    assert holding == [1]
    assert "4.2 Inclusion Criteria" in " ".join(b.text for b in doc.blocks if b.page == 4)


# ------------------------------------------------------------------------------- no engine here
def test_without_tesseract_the_error_says_what_to_install(no_engine: None) -> None:
    with pytest.raises(MissingExtraError, match=r"needs the 'tesseract' program.*apt install tesseract-ocr"):
        ocr.ocr_engine("tesseract")
    with pytest.raises(MissingExtraError, match=r"pip install 'docket\[ocr\]'"):
        ocr.ocr_engine("rapidocr")
    assert not ocr.ocr_available()


def test_without_an_engine_a_scan_is_kept_with_a_warning_naming_the_install(no_engine: None) -> None:
    data = scanned_pdf([render(PROTOCOL.read_bytes(), 0)])
    doc = parse_bytes(data, "scan.pdf")
    assert doc.blocks == ()
    assert "apt install tesseract-ocr" in doc.warnings[0] and doc.warnings[0].startswith("page 1: no text, image only")
    assert "apt install tesseract-ocr" in doc.metadata["quality"]["page_details"][0]["ocr_note"]
    with pytest.raises(ParseError, match=r"no text read from the image: .*apt install tesseract-ocr"):
        parse_bytes(image_bytes([render(PROTOCOL.read_bytes(), 0)], "PNG"), "photo.png")


def test_with_ocr_off_an_image_is_refused_saying_so() -> None:
    with applied_limits(ParseLimits(ocr=False)), pytest.raises(ParseError, match=r"OCR is off \(ingest.ocr"):
        parse_bytes(image_bytes([render(PROTOCOL.read_bytes(), 0, dpi=72)], "PNG"), "photo.png")
