"""The parse-quality record: the page text check, the stored form, and the summary every format gets."""

from __future__ import annotations

import json

from docket.ingest.parsers import parse_bytes
from docket.ingest.quality import (
    PageQuality,
    ParseQuality,
    awaits_ocr,
    check_text,
    source_summaries,
    source_summary,
    summary_of,
)
from docket.types import Document
from tests.conftest import REPO

FUZZ = REPO / "tests" / "data" / "fuzz"
PROSE = (
    "The preparation of financial statements in conformity with generally accepted accounting principles "
    "requires estimates and assumptions that affect the reported amounts of assets and liabilities."
)


def test_clean_prose_passes_the_check() -> None:
    check = check_text(PROSE)
    assert check.problem is None and check.badness == 0
    assert check.chars == sum(1 for c in PROSE if not c.isspace()) and check.words == len(PROSE.split())


def test_a_table_of_contents_with_dot_leaders_is_not_garbled() -> None:
    toc = "\n".join(f"{n} {title} {'.' * 60} {n * 3}" for n, title in enumerate(["INTRODUCTION", "METHODS"], 1))
    assert check_text(toc * 5).problem is None


def test_each_problem_that_calls_for_a_second_reader() -> None:
    assert check_text("").problem == "no text"
    assert check_text("  \n 12 \n").problem == "little text"
    assert check_text("\ue000\ue001\ue002 Revenue \ufffd\ufffd grew").problem.startswith("garbled: ")
    assert check_text("(cid:12)(cid:7)(cid:44) " * 20).problem.startswith("garbled: ")
    assert check_text("!#$% &*+< >@^| ~{}[ ]/\\ " * 10).problem == "garbled: symbols rather than words"
    run_together = " ".join("".join(PROSE.split()[i : i + 5]) for i in range(0, 25, 5))
    assert check_text(run_together * 3).problem == "words run together"


def test_the_better_reading_wins() -> None:
    clean, run_together = check_text(PROSE), check_text("".join(PROSE.split()) * 2)
    assert clean.better_than(run_together) and not run_together.better_than(clean)
    assert check_text(PROSE + " " + PROSE).better_than(clean)  # both clean: the longer one


def test_the_record_round_trips_through_json_and_ignores_fields_it_does_not_know() -> None:
    pages = [
        PageQuality(1, "pypdfium2", 1200, 200),
        PageQuality(2, "pypdf", 900, 150, fallback="pypdfium2: words run together"),
        PageQuality(3, None, 0, 0, fallback="pypdfium2: no text", skipped="image", ocr_note="OCR failed: boom"),
        PageQuality(4, "tesseract", 700, 120, fallback="pypdfium2: no text", ocr_confidence=0.91),
    ]
    record = ParseQuality.of_pages("pdf", pages, ["page 3: no text, image only (scanned?); OCR failed: boom"])
    stored = json.loads(json.dumps(record.to_dict()))
    assert stored["page_details"][2]["reason"] == "image only (scanned?); OCR failed: boom"
    assert stored["page_details"][3]["ocr_confidence"] == 0.91 and stored["ocr_pages"] == [4]
    assert ParseQuality.from_dict(stored).pages[3] == pages[3]
    assert not awaits_ocr(stored)  # it has text on two pages
    assert stored["pages"] == 4 and stored["pages_with_text"] == 3 and stored["pages_without_text"] == [3]
    assert stored["readers"] == {"pypdfium2": 1, "pypdf": 1, "tesseract": 1}
    assert stored["rechecked_pages"] == [2, 3, 4]
    assert stored["chars"] == 2800 and stored["chars_per_page"] == 700.0
    # a later version may add fields; this version reads what it knows
    stored["page_details"][1] |= {"boxes": [[1, 2, 3, 4]]}
    again = ParseQuality.from_dict({**stored, "layout": "columns"})
    assert again.pages[1] == pages[1]
    assert summary_of({"quality": stored}) == {k: v for k, v in stored.items() if k != "page_details"}
    assert summary_of({"pages": 3}) is None  # indexed before records were kept


def test_every_format_gets_a_summary_record() -> None:
    doc = parse_bytes((FUZZ / "fake.docx").read_bytes(), "fake.docx")
    quality = doc.metadata["quality"]
    assert quality["parser"] == "docx" and quality["version"] == 1
    assert quality["chars"] == sum(1 for c in doc.text if not c.isspace()) > 0
    assert quality["words"] > 0 and quality["warnings"] == list(doc.warnings)
    assert "page_details" not in quality and "pages" not in quality
    email = parse_bytes((FUZZ / "fake-email-attachment.eml").read_bytes(), "mail.eml")
    assert email.metadata["quality"]["parser"] == "email"


def test_only_a_file_whose_pages_an_ocr_step_could_read_counts_as_a_scan() -> None:
    def record(*skipped: str) -> dict:
        return ParseQuality.of_pages(
            "pdf", [PageQuality(n, None, 0, 0, skipped=s) for n, s in enumerate(skipped, 1)]
        ).to_dict()

    assert awaits_ocr(record("image", "blank")) and awaits_ocr(record("drawing")) and awaits_ocr(record("unmapped"))
    assert not awaits_ocr(record("blank", "blank")) and not awaits_ocr(record("error"))
    assert not awaits_ocr(None) and not awaits_ocr({"parser": "docx", "chars": 0})


def test_a_source_summary_totals_its_files_pages_ocr_and_pages_without_text() -> None:
    scan = ParseQuality.of_pages(
        "pdf",
        [
            PageQuality(1, "tesseract", 900, 150, fallback="pypdfium2: no text", ocr_confidence=0.9),
            PageQuality(2, "tesseract", 100, 20, fallback="pypdfium2: no text", ocr_confidence=0.5),
            PageQuality(3, None, 0, 0, skipped="blank"),
            PageQuality(4, None, 0, 0, skipped="image", ocr_note="tesseract found no text on it"),
        ],
        ["page 4: no text, image only (scanned?); tesseract found no text on it"],
    ).to_dict()
    text = ParseQuality.of_pages("pdf", [PageQuality(1, "pypdfium2", 1500, 250)], []).to_dict()
    markdown = {"version": 1, "parser": "markdown", "chars": 300, "words": 50, "warnings": []}
    summary = source_summary([scan, text, markdown, None])
    assert summary == {
        "files": 4,
        "not_recorded": 1,
        "parsers": {"pdf": 2, "markdown": 1},
        "pages": 5,
        "pages_ocr": 2,
        "ocr_confidence": 0.86,  # weighted by characters: (900 * 0.9 + 100 * 0.5) / 1000
        "pages_without_text": {"blank": 1, "image": 1},
        "files_with_warnings": 1,
    }
    assert source_summary([])["ocr_confidence"] is None


def test_source_summaries_group_the_records_of_documents_by_their_source() -> None:
    def doc(source: str, path: str, quality: object) -> Document:
        metadata = {} if quality is None else {"quality": quality}
        return Document(path, source, path, path, "pdf", "hash", 1, 0.0, metadata=metadata)

    scan = ParseQuality.of_pages("pdf", [PageQuality(1, None, 0, 0, skipped="image")]).to_dict()
    text = ParseQuality.of_pages("pdf", [PageQuality(1, "pypdfium2", 1500, 250)]).to_dict()
    docs = [doc("/b", "one.pdf", scan), doc("/a", "two.pdf", text), doc("/b", "old.pdf", None), doc("/b", "x", "?")]
    summaries = source_summaries(docs)
    assert list(summaries) == ["/b", "/a"]
    assert summaries["/b"] == source_summary([scan, None, None])
    assert (summaries["/b"]["files"], summaries["/b"]["not_recorded"]) == (3, 2)
    assert summaries["/a"] == source_summary([text])
    assert source_summaries([]) == {}
