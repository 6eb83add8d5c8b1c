"""Plain text and the registry's common paths: encodings, empty and mislabelled files, unsupported
formats, and one sweep over every real example document."""

from __future__ import annotations

import time

import pytest

from docket.errors import ParseError, UnsupportedFileError
from docket.ingest.parsers import parse_bytes
from docket.ingest.quality import awaits_ocr
from tests.ingest.parsers.helpers import SHARED, example


def test_text_is_split_into_paragraphs() -> None:
    doc = parse_bytes(example("fake-text.txt"), "fake-text.txt")
    assert doc.blocks[0].text == "This is a test document to use for unit tests."
    assert "Doylestown, PA 18901" in [b.text for b in doc.blocks]
    assert doc.title == "fake-text"


@pytest.mark.parametrize("name", ["fake-text-utf-16.txt", "fake-text-utf-32.txt"])
def test_text_in_utf16_and_utf32_with_byte_order_mark_is_decoded(name: str) -> None:
    doc = parse_bytes(example(name), name)
    assert doc.blocks[0].text == "This is a test document to use for unit tests."


def test_text_in_cp1252_is_decoded() -> None:
    data = "Grüße aus Köln: die Straße ist schön, das Frühstück kostet 12 €.\n".encode("cp1252")
    doc = parse_bytes(data, "gruss.txt")
    assert doc.text == "Grüße aus Köln: die Straße ist schön, das Frühstück kostet 12 €."


def test_text_in_cp1252_with_french_accents_is_decoded() -> None:
    data = "L'été était très chaud; un café crème coûte 3,50 € à Paris.\n".encode("cp1252")
    assert parse_bytes(data, "fr.txt").text == "L'été était très chaud; un café crème coûte 3,50 € à Paris."


@pytest.mark.parametrize("name", ["fake-text-utf-16-le.txt", "fake-text-utf-16-be.txt"])
def test_text_in_utf16_without_byte_order_mark_is_decoded(name: str) -> None:
    doc = parse_bytes(example(name), name)
    assert doc.blocks[0].text == "This is a test document to use for unit tests."


@pytest.mark.parametrize("name", ["empty.txt", "fake-text-all-whitespace.txt"])
def test_empty_file_is_a_parse_error(name: str) -> None:
    with pytest.raises(ParseError, match="empty file"):
        parse_bytes(example(name), name)


def test_binary_content_named_txt_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="binary content"):
        parse_bytes(b"\x00\x01\x02garbage\x00" * 50, "blob.txt")


def test_pdf_named_txt_is_reported_as_mislabelled() -> None:
    with pytest.raises(ParseError, match=r"mislabelled file.*rename it to \.pdf"):
        parse_bytes(example("pdf/fake-memo.pdf"), "memo.txt")


def test_pdf_without_extension_is_read_as_pdf() -> None:
    doc = parse_bytes(example("pdf/fake-memo.pdf"), "memo")
    assert doc.blocks[0].page == 1


@pytest.mark.parametrize(
    "name",
    [
        "fake.doc",
        "fake-power-point.ppt",
        "fake.odt",
        "fake-doc.rtf",
        "fake-email.msg",
        "winter-sports.epub",
    ],
)
def test_legacy_and_out_of_scope_formats_are_unsupported(name: str) -> None:
    with pytest.raises(UnsupportedFileError, match="unsupported file type"):
        parse_bytes(example(name), name)


def test_every_example_document_parses_or_fails_with_a_parse_error() -> None:
    root = SHARED / "unstructured-example-docs"
    if not root.is_dir():
        pytest.skip(f"shared test data not found: {root}")
    started = time.monotonic()
    parsed = refused = 0
    unexpected: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            doc = parse_bytes(path.read_bytes(), str(path))
        except ParseError:
            refused += 1
            continue
        except Exception as exc:  # the point of the sweep: nothing but ParseError escapes
            unexpected.append(f"{path.relative_to(root)}: {type(exc).__name__}: {exc}")
            continue
        if not doc.text.strip() and not awaits_ocr(doc.metadata["quality"]):  # a scan is listed without text
            unexpected.append(f"{path.relative_to(root)}: parsed to empty text")
        parsed += 1
    assert unexpected == []
    assert parsed > 130 and refused > 10
    assert time.monotonic() - started < 45
