"""Images: photographed and scanned pages read by OCR, multi-page TIFFs page by page."""

from __future__ import annotations

import pytest

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes, parser_for
from tests.ingest.ocr_helpers import PROTOCOL, image_bytes, needs_tesseract, render, text_layer, word_recall


def test_image_files_are_parsed_by_the_image_parser() -> None:
    for name in ("scan.png", "photo.JPG", "fax.tiff", "fax.tif", "photo.jpeg", "photo.webp"):
        assert parser_for(name).name == "image"


@needs_tesseract
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_real_page_saved_as_an_image_is_read_with_its_quality_record(fmt: str) -> None:
    data = PROTOCOL.read_bytes()
    doc = parse_bytes(image_bytes([render(data, 3, dpi=200, angle=-0.5)], fmt), f"page.{fmt.lower()}")
    assert word_recall(doc.text, text_layer(data, 3)) > 0.9
    assert all(block.page is None for block in doc.blocks)  # one picture: no page numbers to cite
    quality = doc.metadata["quality"]
    assert quality["parser"] == "image" and quality["readers"] == {"tesseract": 1} and quality["ocr_pages"] == [1]
    page = quality["page_details"][0]
    assert page["reader"] == "tesseract" and page["ocr_confidence"] > 0.8 and page["words"] > 200


@needs_tesseract
def test_a_multi_page_tiff_keeps_page_numbers_and_the_running_header_once() -> None:
    data = PROTOCOL.read_bytes()
    tiff = image_bytes([render(data, i, dpi=150) for i in (0, 2, 3)], "TIFF")
    doc = parse_bytes(tiff, "fax.tiff")
    assert doc.metadata["pages"] == 3 and doc.metadata["quality"]["ocr_pages"] == [1, 2, 3]
    assert {block.page for block in doc.blocks} == {1, 2, 3}
    third = " ".join(block.text for block in doc.blocks if block.page == 3)
    assert "Inclusion Criteria" in third
    # the header of every page, kept once: on the first page
    assert [block.page for block in doc.blocks if "September 13, 2023" in block.text] == [1]


def test_a_broken_image_is_refused_in_one_line() -> None:
    png = image_bytes([render(PROTOCOL.read_bytes(), 0, dpi=36)], "PNG")
    with pytest.raises(ParseError, match="not a readable image"):
        parse_bytes(png[: len(png) // 3], "broken.png")
    with pytest.raises(ParseError, match="not a readable image"):
        parse_bytes(b"GIF89a not really", "broken.gif")
