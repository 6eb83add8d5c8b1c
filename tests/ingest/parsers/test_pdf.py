"""PDF: text by page, paragraphs, titles, encryption, scans and broken files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes
from tests.ingest.parsers.helpers import EXAMPLES, SHARED, read

CLINICAL = SHARED / "docugami-kg-rag-raw-pdfs" / "nih-clinical-trial-protocols" / "data" / "v1" / "docs"
NTSB = SHARED / "docugami-kg-rag-raw-pdfs" / "ntsb-aviation-incident-accident-reports" / "data" / "v1" / "docs"
INVOICES = SHARED / "invoice2data-samples" / "tests" / "compare"


def pdf_bytes(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_blocks_carry_their_page_number() -> None:
    doc = parse_bytes(read(CLINICAL / "NCT06152367_Prot_000.pdf"), "protocol.pdf")
    assert doc.metadata["pages"] == 21
    assert [b.page for b in doc.blocks] == list(range(1, 22))
    theory = next(b for b in doc.blocks if "Theoretical Formulation of the Project" in b.text)
    assert theory.page == 3
    assert doc.title == "Protocol Melanoma fase I:II English Final 2001"


def test_pdf_lines_are_joined_into_paragraphs() -> None:
    doc = parse_bytes(read(EXAMPLES / "pdf" / "layout-parser-paper-fast.pdf"), "paper.pdf")
    page1 = doc.blocks[0]
    # one paragraph per line would split this sentence after "have been"
    assert "Recent advances in document image analysis (DIA) have been primarily driven by" in page1.text
    # words hyphenated across a line break are rejoined, ligatures become letters
    assert "the easy reuse of important innovations" in page1.text
    assert "Unified Toolkit" in page1.text
    paragraphs = page1.text.split("\n\n")
    assert 3 <= len(paragraphs) < len(page1.text.splitlines()) + 1
    assert doc.title == "LayoutParser: A Unified Toolkit for Deep"


def test_pdf_short_lines_stay_on_their_own_lines() -> None:
    doc = parse_bytes(read(NTSB / "20080102X00002.pdf"), "ntsb.pdf")
    page1 = doc.blocks[0].text
    assert "Aircraft Accident Investigation Bureau\nBureau d'Enquêtes et d'Analyses\nZone Sud" in page1
    assert "The pilot was fatally injured. The flight originated from Chalon (LFLH)" in page1
    assert doc.title == "National Transportation Safety Board"  # "Page 1 of 3" is not a title


@pytest.mark.parametrize(
    "name",
    ["AmazonWebServices", "AzureInterior", "NetpresseInvoice", "QualityHosting", "coolblue1", "free_fiber", "oyo"],
)
def test_pdf_invoice_text_holds_the_gold_invoice_number(name: str) -> None:
    gold = json.loads(read(INVOICES / f"{name}.json"))[0]
    doc = parse_bytes(read(INVOICES / f"{name}.pdf"), f"{name}.pdf")
    assert str(gold["invoice_number"]) in " ".join(doc.text.split())
    assert doc.blocks[0].page == 1


def test_pdf_metadata_title_is_used_unless_it_is_a_placeholder() -> None:
    guide = parse_bytes(read(EXAMPLES / "pdf" / "interface-config-guide-p93.pdf"), "guide.pdf")
    assert guide.title == "Interface Configuration Guide"
    bold = parse_bytes(read(EXAMPLES / "pdf" / "fake-bold-sample.pdf"), "bold.pdf")  # metadata title "untitled"
    assert bold.title != "untitled" and bold.title in bold.text


def test_pdf_pages_without_text_are_warnings() -> None:
    doc = parse_bytes(read(EXAMPLES / "pdf" / "layout-parser-paper-with-empty-pages.pdf"), "paper.pdf")
    assert [b.page for b in doc.blocks] == [1, 4]
    assert doc.warnings == (
        "page 2 has no text layer (scanned image?; OCR is not supported)",
        "page 3 has no text layer (scanned image?; OCR is not supported)",
    )


def test_pdf_scanned_document_is_refused_as_a_scan() -> None:
    with pytest.raises(ParseError, match=r"scanned PDF: .*text layer.*OCR is not supported"):
        parse_bytes(read(EXAMPLES / "pdf" / "loremipsum-flat.pdf"), "scan.pdf")


def test_pdf_of_blank_pages_is_refused_as_a_scan() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_blank_page(width=595, height=842)
    with pytest.raises(ParseError, match=r"scanned PDF: none of its 2 page\(s\) has a text layer"):
        parse_bytes(pdf_bytes(writer), "blank.pdf")


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_encrypted_with_empty_password_opens(tmp_path: Path, algorithm: str) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(read(EXAMPLES / "pdf" / "fake-memo.pdf"))))
    writer.encrypt("", owner_password="owner-secret", algorithm=algorithm)
    target = tmp_path / "locked.pdf"
    target.write_bytes(pdf_bytes(writer))
    assert PdfReader(target).is_encrypted
    doc = parse_bytes(target.read_bytes(), "locked.pdf")
    plain = parse_bytes(read(EXAMPLES / "pdf" / "fake-memo.pdf"), "memo.pdf")
    assert doc.text == plain.text
    assert "There were 20,000 bottles of water, 10,000 blankets, and 200 laptops delivered" in doc.text


def test_pdf_encrypted_with_a_password_asks_for_it(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(read(EXAMPLES / "pdf" / "fake-memo.pdf"))))
    writer.encrypt("s3cret", algorithm="AES-256")
    with pytest.raises(ParseError, match="encrypted PDF: a password is required"):
        parse_bytes(pdf_bytes(writer), "locked.pdf")


def test_pdf_truncated_file_is_a_parse_error() -> None:
    data = read(EXAMPLES / "pdf" / "fake-memo.pdf")
    with pytest.raises(ParseError):
        parse_bytes(data[:400], "truncated.pdf")


def test_pdf_garbage_named_pdf_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_bytes(b"this is not a pdf at all, just words" * 20, "fake.pdf")
