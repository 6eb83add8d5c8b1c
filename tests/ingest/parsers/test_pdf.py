"""PDF: text by page, paragraphs, titles, encryption, scans and broken files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from docket.errors import ParseError
from docket.ingest.limits import ParseLimits, applied_limits
from docket.ingest.parsers import parse_bytes
from docket.ingest.parsers.pdf import PdfParser
from docket.ingest.quality import awaits_ocr, count_words
from tests.conftest import REPO
from tests.ingest.ocr_helpers import PROTOCOL, needs_tesseract, render, scanned_pdf, text_layer, word_recall
from tests.ingest.parsers.helpers import EXAMPLES, SHARED, read

DATA = REPO / "tests" / "data" / "pdf"
MEMO = REPO / "tests" / "data" / "fuzz" / "fake-memo.pdf"

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


def test_pdf_pages_without_text_are_warnings_and_in_the_quality_record() -> None:
    doc = parse_bytes(read(EXAMPLES / "pdf" / "layout-parser-paper-with-empty-pages.pdf"), "paper.pdf")
    assert [b.page for b in doc.blocks] == [1, 4]
    assert doc.warnings == ("pages 2-3: no text, blank page",)
    quality = doc.metadata["quality"]
    assert quality["pages"] == 4 and quality["pages_with_text"] == 2 and quality["pages_without_text"] == [2, 3]
    blank = quality["page_details"][1]
    assert blank == {
        "page": 2,
        "reader": None,
        "chars": 0,
        "words": 0,
        "has_text": False,
        "fallback": "pypdfium2: no text",  # pypdf was asked too, and found nothing either
        "skipped": "blank",
        "reason": "blank page",
    }


def test_scanned_pdf_without_ocr_is_kept_as_a_document_without_text_and_says_why() -> None:
    with applied_limits(ParseLimits(ocr=False)):
        doc = parse_bytes((DATA / "scanned-NCT06155240.pdf").read_bytes(), "scan.pdf")
    assert doc.blocks == () and doc.title == "scan"
    assert doc.warnings[0] == "page 1: no text, image only (scanned?); OCR is off (ingest.ocr = false)"
    assert "none of its 1 page(s) has text" in doc.warnings[1]
    quality = doc.metadata["quality"]
    assert quality["pages_without_text"] == [1] and quality["chars"] == 0 and quality["readers"] == {}
    assert quality["page_details"][0]["skipped"] == "image"  # a page OCR reads
    assert quality["page_details"][0]["reason"] == "image only (scanned?); OCR is off (ingest.ocr = false)"
    assert quality["page_details"][0]["ocr_note"] == "OCR is off (ingest.ocr = false)"


@needs_tesseract
def test_a_scanned_page_is_read_by_ocr_and_its_record_says_so() -> None:
    doc = parse_bytes((DATA / "scanned-NCT06155240.pdf").read_bytes(), "scan.pdf")  # a table scanned sideways
    assert "Yoga for a Healthy Heart Protocol" in doc.text and "Chair-based yoga" in doc.text
    assert all(block.page == 1 for block in doc.blocks) and doc.warnings == ()
    quality = doc.metadata["quality"]
    assert quality["readers"] == {"tesseract": 1} and quality["ocr_pages"] == [1]
    assert quality["pages_without_text"] == []
    page = quality["page_details"][0]
    assert page["reader"] == "tesseract" and page["fallback"] == "pypdfium2: no text" and page["ocr_confidence"] > 0.7


@needs_tesseract
def test_pages_with_a_text_layer_are_not_ocr_d_and_scanned_ones_are_in_the_same_file() -> None:
    data = PROTOCOL.read_bytes()
    mixed = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    scan = PdfReader(io.BytesIO(scanned_pdf([render(data, 3, dpi=200, angle=0.4)])))
    mixed.add_page(scan.pages[0])
    doc = parse_bytes(pdf_bytes(mixed), "mixed.pdf")
    quality = doc.metadata["quality"]
    assert quality["ocr_pages"] == [7] and quality["readers"] == {"pypdfium2": 6, "tesseract": 1}
    seventh = " ".join(block.text for block in doc.blocks if block.page == 7)
    assert word_recall(seventh, text_layer(data, 3)) > 0.9


def test_pdf_of_blank_pages_is_refused_as_having_no_text() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_blank_page(width=595, height=842)
    with pytest.raises(ParseError, match=r"no text found in the file \(pages 1-2: no text, blank page\)"):
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


# -- two readers: pypdfium2 first, pypdf where a page's text is missing or garbled ------------------


def test_both_readers_failing_is_one_parse_error_naming_each() -> None:
    with pytest.raises(ParseError, match=r"not a readable PDF \(pypdfium2: .*; pypdf: .*\)"):
        parse_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog" + b" " * 200, "broken.pdf")


def _with_huge_array(data: bytes) -> bytes:
    """The file with a 100,001-element array in its catalog: pypdf's "maximum array element count"."""
    from pypdf.generic import ArrayObject, NameObject, NumberObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer._root_object[NameObject("/PieceInfoHuge")] = ArrayObject([NumberObject(0)] * 100_001)
    return pdf_bytes(writer)


def test_a_pdf_pypdf_refuses_is_read_by_pypdfium2() -> None:
    data = _with_huge_array(MEMO.read_bytes())
    with pytest.raises(Exception, match="maximum array element count"):
        len(PdfReader(io.BytesIO(data)).pages)
    # the default order never needs pypdf here
    doc = parse_bytes(data, "memo.pdf")
    assert "There were 20,000 bottles of water, 10,000 blankets, and 200 laptops delivered" in doc.text
    assert doc.metadata["quality"]["readers"] == {"pypdfium2": 1} and doc.warnings == ()
    # with pypdf first, the whole file falls back to pypdfium2, and the record says so
    fallback = PdfParser(readers=("pypdf", "pypdfium2")).parse(data, "memo.pdf")
    assert fallback.text == doc.text
    assert fallback.metadata["quality"]["readers"] == {"pypdfium2": 1}
    assert fallback.warnings == (
        "pypdf could not open the file (Reached maximum array element count.); it was read with pypdfium2",
    )


def test_a_pdf_pypdfium2_refuses_is_read_by_pypdf() -> None:
    data = MEMO.read_bytes()
    end = data.rindex(b"> ]")  # damage the end of the second trailer ID: PDFium gives up, pypdf does not
    damaged = data[: end - 3] + b"xxxx" + data[end + 1 :]
    import pypdfium2

    with pytest.raises(pypdfium2.PdfiumError):
        pypdfium2.PdfDocument(damaged)
    doc = parse_bytes(damaged, "memo.pdf")
    assert "There were 20,000 bottles of water, 10,000 blankets, and 200 laptops delivered" in doc.text
    assert doc.metadata["quality"]["readers"] == {"pypdf": 1}
    assert doc.warnings[0].startswith("pypdfium2 could not open the file (") and "read with pypdf" in doc.warnings[0]


_SUBSIDIARIES = [
    "H.J. Heinz Company Limited United Kingdom",
    "Kraft Heinz Foods Company United States",
    "Heinz European Holding B.V. Netherlands",
]
_HELVETICA = {  # glyph widths of Helvetica, per 1000 units of the font size
    **dict.fromkeys(" .,ftj", 278),
    **dict.fromkeys("abdeghnopqu", 556),
    **dict.fromkeys("ckvxyz", 500),
    **{"i": 222, "l": 222, "m": 833, "r": 333, "s": 500, "w": 722},
}


def _typeset_glyph_by_glyph(lines: list[str]) -> bytes:
    """A page whose every glyph is placed on its own and whose spaces are narrow glyphs, as the
    subsidiaries list of a real 10-K is set: PDFium runs its words together, pypdf does not."""
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    ops = [b"BT", b"/F1 10 Tf"]
    for row, line in enumerate(lines):
        ops.append(b"1 0 0 1 72 %d Tm" % (700 - 14 * row))
        advance = None
        for ch in line:
            if advance is not None:
                ops.append(b"%.3f 0 Td" % advance)
            ops.append(b"(%s) Tj" % ch.encode())
            width = _HELVETICA.get(ch.lower(), 600) / 100
            advance = width * 0.4 if ch == " " else width
    ops.append(b"ET")
    writer = PdfWriter(clone_from=PdfReader(MEMO))
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"\n".join(ops))
    page[NameObject("/Contents")] = writer._add_object(stream)
    return pdf_bytes(writer)


def test_a_page_whose_words_pypdfium2_runs_together_is_read_again_by_pypdf() -> None:
    data = _typeset_glyph_by_glyph(_SUBSIDIARIES * 4)
    with applied_limits(ParseLimits(ocr=False)):  # OCR, the last resort, would read it too
        alone = PdfParser(readers=("pypdfium2",)).parse(data, "subsidiaries.pdf")
    assert "HeinzCompanyLimited" in alone.blocks[1].text  # what PDFium alone makes of page 2
    assert alone.metadata["quality"]["page_details"][1]["fallback"] == "pypdfium2: words run together"

    doc = parse_bytes(data, "subsidiaries.pdf")
    assert "H.J. Heinz Company Limited United Kingdom" in doc.blocks[1].text
    first, second = doc.metadata["quality"]["page_details"]
    assert first["reader"] == "pypdfium2" and "fallback" not in first  # page 1 (the memo) is fine as read
    assert second["reader"] == "pypdf" and second["fallback"] == "pypdfium2: words run together"
    assert doc.metadata["quality"]["readers"] == {"pypdfium2": 1, "pypdf": 1}
    assert doc.metadata["quality"]["rechecked_pages"] == [2]


def test_pages_pypdf_runs_together_in_a_real_protocol_are_read_again_by_pypdfium2() -> None:
    data = (DATA / "clinical-protocol-NCT06149832.pdf").read_bytes()
    doc = PdfParser(readers=("pypdf", "pypdfium2")).parse(data, "protocol.pdf")
    details = doc.metadata["quality"]["page_details"]
    assert [p["reader"] for p in details] == ["pypdf"] + ["pypdfium2"] * 5
    assert all(p["fallback"] == "pypdf: words run together" for p in details[1:])
    assert "is an important protocol for the treatment of benign and malignant" in " ".join(doc.blocks[1].text.split())
    # the default order reads every page well at the first attempt
    default = parse_bytes(data, "protocol.pdf")
    assert default.metadata["quality"]["readers"] == {"pypdfium2": 6}
    assert default.metadata["quality"]["rechecked_pages"] == []
    assert " ".join(default.text.split()) == " ".join(doc.text.split())


def test_pdf_quality_record_counts_characters_and_words_per_page() -> None:
    doc = parse_bytes(read(CLINICAL / "NCT06152367_Prot_000.pdf"), "protocol.pdf")
    quality = doc.metadata["quality"]
    details = quality["page_details"]
    assert len(details) == quality["pages"] == 21
    for detail, block in zip(details, doc.blocks, strict=True):
        assert detail["page"] == block.page and detail["has_text"]
        assert detail["chars"] == sum(1 for c in block.text if not c.isspace())
        assert detail["words"] == count_words(block.text) > 0
    assert quality["chars"] == sum(p["chars"] for p in details)
    assert quality["chars_per_page"] == round(quality["chars"] / 21, 1)
    json.dumps(quality)  # stored as JSON with the document


@pytest.mark.parametrize("folder", ["docugami-kg-rag-raw-pdfs", "invoice2data-samples", "unstructured-example-docs"])
def test_every_pdf_of_the_shared_sets_parses(folder: str) -> None:
    root = SHARED / folder
    if not root.is_dir():
        pytest.skip(f"shared test data not found: {root}")
    failed = []
    for path in sorted(root.rglob("*.pdf")):
        try:
            doc = parse_bytes(path.read_bytes(), path.name)
        except ParseError as exc:
            failed.append(f"{path.name}: {exc}")
            continue
        quality = doc.metadata["quality"]
        assert quality["pages"] == len(quality["page_details"]) >= 1
        assert doc.blocks or awaits_ocr(quality)
    assert failed == []


class _ScriptedReader:
    """A reader whose pages are given: text, or an exception to raise (the routing logic alone)."""

    def __init__(self, name: str, pages: list[str | Exception]) -> None:
        self.name, self.pages = name, pages

    def page_count(self) -> int:
        return len(self.pages)

    def page_text(self, index: int) -> str:
        from docket.ingest.parsers.pdf_readers import ReaderError

        page = self.pages[index]
        if isinstance(page, Exception):
            raise ReaderError(str(page))
        return page

    def why_no_text(self, index: int) -> str | None:
        return None

    def metadata(self) -> dict:
        return {"title": "Scripted"}

    def close(self) -> None:
        pass


PROSE = "Refunds are issued within fourteen days of the return, to the card used for the purchase. " * 3


def test_a_page_one_reader_fails_on_is_read_by_the_other_and_both_failing_is_said(monkeypatch) -> None:
    from docket.ingest.parsers import pdf_readers

    first = [PROSE, ValueError("bad content stream"), ValueError("bad content stream")]
    second = ["other text " * 10, PROSE, ValueError("unknown operator")]
    monkeypatch.setitem(pdf_readers.READERS, "pypdfium2", lambda data: _ScriptedReader("pypdfium2", first))
    monkeypatch.setitem(pdf_readers.READERS, "pypdf", lambda data: _ScriptedReader("pypdf", second))
    doc = parse_bytes(b"%PDF-1.7 scripted", "scripted.pdf")
    details = doc.metadata["quality"]["page_details"]
    assert [d["reader"] for d in details] == ["pypdfium2", "pypdf", None]
    assert details[1]["fallback"] == "pypdfium2: bad content stream"
    assert details[2]["skipped"] == "error"
    assert details[2]["reason"] == (
        "its text could not be extracted (pypdfium2: bad content stream; pypdf: unknown operator)"
    )
    assert "page 3: no text, its text could not be extracted" in doc.warnings[0]
    # a file whose every page fails in both readers is a parse error, not a document without text
    monkeypatch.setitem(pdf_readers.READERS, "pypdfium2", lambda data: _ScriptedReader("pypdfium2", first[1:]))
    monkeypatch.setitem(pdf_readers.READERS, "pypdf", lambda data: _ScriptedReader("pypdf", second[2:] * 2))
    with pytest.raises(ParseError, match=r"no text found in the file .*could not be extracted"):
        parse_bytes(b"%PDF-1.7 scripted", "scripted.pdf")
