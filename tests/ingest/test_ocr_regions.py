"""Scanned pages: the passages of a page read by OCR carry the box of the page that holds them, as
fractions of the page, from the OCR lines' boxes through the blocks to each chunk's location and
the citation; a page in another language is read with that language's model; a table on a scan
becomes a table block with its columns, as the other parsers' tables."""

from __future__ import annotations

import re
import shutil

import pytest

from docket.ingest import ocr
from docket.ingest.chunking import chunk_document
from docket.ingest.limits import ParseLimits, applied_limits
from docket.ingest.ocr import guess_language, installed_languages
from docket.ingest.parsers import parse_bytes
from docket.ingest.regions import attach_regions, passage_region
from docket.types import Block, Citation, Location
from tests.conftest import REPO
from tests.ingest.ocr_helpers import PROTOCOL, needs_tesseract, render, scanned_pdf, text_layer, typed_page


def _phrase_box(data: bytes, index: int, phrase: str) -> tuple[float, float, float, float]:
    """Where ``phrase`` is on page ``index`` by the PDF's own text layer, as fractions of the page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        found = textpage.search(phrase).get_next()
        assert found is not None, phrase
        start, count = found
        boxes = [textpage.get_charbox(i) for i in range(start, start + count)]
    finally:
        pdf.close()
    left, bottom = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, top = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return left / width, 1 - top / height, right / width, 1 - bottom / height


def _contains(outer: tuple[float, ...], inner: tuple[float, ...], slack: float = 0.01) -> bool:
    return (
        outer[0] <= inner[0] + slack
        and outer[1] <= inner[1] + slack
        and outer[2] >= inner[2] - slack
        and outer[3] >= inner[3] - slack
    )


@needs_tesseract
def test_a_passage_of_a_real_scanned_page_has_the_region_its_words_are_printed_in() -> None:
    data = PROTOCOL.read_bytes()
    scan = scanned_pdf([render(data, 0, dpi=200)])
    parsed = parse_bytes(scan, "protocol.pdf")
    assert all(block.regions for block in parsed.blocks)
    chunks = chunk_document(parsed, max_tokens=48)
    phrase = "Oral Chronic Graft"
    holding = [c for c in chunks if phrase in c.text]
    assert holding, [c.text for c in chunks]
    region = holding[0].location.region
    assert region is not None and holding[0].location.page == 1
    truth = _phrase_box(data, 0, phrase)
    assert _contains(region, truth), (region, truth)
    # the passage's box, not the whole page's text: the passages further down start lower
    assert region[3] - region[1] < 0.5
    later = [c.location.region for c in chunks[chunks.index(holding[0]) + 1 :]]
    assert later and all(r is not None and r[1] > region[1] for r in later)
    # regions travel with the stored location and show on the citation as {page, x0, y0, x1, y1}
    stored = Location.from_dict(holding[0].location.to_dict())
    assert stored.region == region
    cited = Citation(1, "protocol.pdf", stored, holding[0].text[:40]).to_dict()
    assert cited["region"] == {"page": 1, "x0": region[0], "y0": region[1], "x1": region[2], "y1": region[3]}


@needs_tesseract
def test_the_passages_of_a_typed_page_are_boxed_where_they_were_typed() -> None:
    page = typed_page(["Warranty", "", "The Model X boiler comes with a warranty of seven years."])
    with applied_limits(ParseLimits(ocr_languages="eng")):
        parsed = parse_bytes(scanned_pdf([page, typed_page(["Servicing", "", "Book a yearly service."])]), "h.pdf")
    chunks = chunk_document(parsed)
    warranty = next(c for c in chunks if "seven years" in c.text)
    x0, y0, x1, y1 = warranty.location.region or (0, 0, 0, 0)
    # typed from (150, 200) on a 1700 x 2200 page, three lines of 36-pixel text
    assert abs(x0 - 150 / 1700) < 0.01 and abs(y0 - 200 / 2200) < 0.015
    assert 0.5 < x1 < 0.9 and y1 < 0.2


def test_a_page_with_a_text_layer_has_no_region() -> None:
    parsed = parse_bytes(PROTOCOL.read_bytes(), "protocol.pdf")
    chunks = chunk_document(parsed)
    assert chunks and all(c.location.region is None for c in chunks)
    assert "region" not in Citation(1, "p.pdf", chunks[0].location, "q").to_dict()


def test_lines_go_to_the_block_that_holds_them_and_a_passage_gets_the_box_around_its_own() -> None:
    blocks = [
        Block("Warranty terms\n\nThe boiler is covered for seven years from the date of installa-tion.", page=1),
        Block("Product  Price\nBoiler  1,200.00", kind="table", page=1),
    ]
    lines = [
        ("Warranty terms", (0.1, 0.1, 0.3, 0.12)),
        ("The boiler is covered for seven years from the date of installa-", (0.1, 0.15, 0.9, 0.17)),
        ("tion.", (0.1, 0.18, 0.15, 0.2)),
        ("Product Price", (0.1, 0.3, 0.6, 0.32)),
        ("Boiler 1,200.00 EUR", (0.1, 0.33, 0.6, 0.35)),  # rewritten in the table: found by its words
    ]
    first, table = attach_regions(blocks, lines)
    assert [text for text, _ in first.regions] == [
        "Warranty terms",
        "The boiler is covered for seven years from the date of installa",
        "tion.",
    ]
    assert len(table.regions) == 2
    assert passage_region("Warranty terms", [first]) == (0.1, 0.1, 0.3, 0.12)
    assert passage_region("Boiler  1,200.00", [table]) == (0.1, 0.3, 0.6, 0.35)  # rows: the whole table
    assert passage_region("anything", [Block("text")]) is None


def test_the_language_of_a_page_is_told_from_its_short_words() -> None:
    every = frozenset({"eng", "deu", "fra", "nld"})
    german = "Die Rechnung ist mit der Lieferung fällig. Bitte überweisen Sie den Betrag auf das Konto."
    dutch = "Wij danken u voor uw bestelling. De factuur is betaald met een creditcard op de website."
    english = "The invoice is due on delivery. Please pay the amount into the account of the company."
    assert guess_language(german, every) == "deu"
    assert guess_language(dutch, every) == "nld"
    assert guess_language(english, every) is None
    assert guess_language(german, frozenset({"eng"})) is None  # its model is not installed
    assert guess_language("Visit www.shop.de or mail info@shop.de", every) is None  # addresses are no words


SCANS = REPO / "tests" / "data" / "scans"  # MIT, invoice2data (tests/data/scans/README.md)


def _has_german() -> bool:
    program = shutil.which("tesseract")
    return program is not None and "deu" in installed_languages(program)


@pytest.mark.skipif(
    not _has_german(),
    reason="Tesseract's German model is not installed here: apt install tesseract-ocr-deu (.ci/run installs it)",
)
@pytest.mark.parametrize(("languages", "at_least", "at_most"), [("auto", 9, 11), ("eng", 0, 2)])
def test_a_real_german_invoice_is_read_again_in_german_and_keeps_its_umlauts(
    languages: str, at_least: int, at_most: int
) -> None:
    data = (SCANS / "invoice-german-qualityhosting.pdf").read_bytes()
    truth = text_layer(data, 1)
    umlauts = {w for w in re.findall(r"\w+", truth) if re.search("[äöüÄÖÜß]", w)}  # Grundgebühr, Beträge, ...
    assert len(umlauts) == 11
    page = ocr.read_image(render(data, 1, dpi=300), ocr.ocr_engine("tesseract", languages))
    found = {w for w in umlauts if w in page.text}
    assert at_least <= len(found) <= at_most, (languages, sorted(found))


@needs_tesseract
def test_a_table_on_a_real_scanned_invoice_becomes_a_table_with_its_columns() -> None:
    data = (SCANS / "invoice-table-azure.pdf").read_bytes()
    parsed = parse_bytes(scanned_pdf([render(data, 0, dpi=300)], dpi=300), "invoice.pdf")
    tables = [b for b in parsed.blocks if b.kind == "table"]
    assert len(tables) == 1, [b.text for b in parsed.blocks]
    table = tables[0]
    assert table.header == "Description | Quantity | Unit Price | Disc.% | Taxes | Amount"
    rows = [line.split(" | ") for line in table.text.splitlines()]
    chair = next(r for r in rows if "Office Chair" in r[0])
    assert chair == ["[FURN_7777] Office Chair", "1.00 Units", "70.00", "0.00", "15.00%", "$70.00"]
    assert all(len(r) == 6 for r in rows)  # every row on the header's columns
    assert table.page == 1 and table.regions  # and the table has its place on the page
    chunks = [c for c in chunk_document(parsed) if "Office Chair" in c.text]
    assert chunks and chunks[0].text.startswith(table.header)  # cut as a table: the header in every chunk
