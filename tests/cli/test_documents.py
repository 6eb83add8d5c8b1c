"""docket documents, docket summarize and whole-document questions from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import docket


def test_summarize_cites_the_document(indexed) -> None:
    summary = json.loads(docket("summarize", "New Parent Leave.md", "--home", str(indexed[0]), "--json").stdout)
    assert summary["question"] == "Summary of benefits/New Parent Leave.md"
    assert "12 weeks" in summary["answer"]
    assert {c["path"] for c in summary["citations"]} == {"benefits/New Parent Leave.md"}


def test_summarize_an_unknown_document_names_it(indexed) -> None:
    proc = docket("summarize", "no-such-file.md", "--home", str(indexed[0]), check=False)
    assert proc.returncode == 2 and "no-such-file.md" in proc.stderr


def test_ask_doc_quotes_each_named_document(indexed) -> None:
    home = str(indexed[0])
    answer = json.loads(
        docket(
            "ask", "How much leave?", "--doc", "New Parent Leave.md", "--doc", "Sabbatical.md", "--home", home, "--json"
        ).stdout
    )
    assert {c["path"] for c in answer["citations"]} == {"benefits/New Parent Leave.md", "benefits/Sabbatical.md"}
    assert answer["method"] == "extractive" and answer["log_id"] > 0


PDFS = Path(__file__).resolve().parents[1] / "data" / "pdf"


@pytest.fixture
def pdf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")  # what is listed, not what is searched
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(PDFS / "clinical-protocol-NCT06149832.pdf", docs / "protocol.pdf")
    shutil.copy(PDFS / "scanned-NCT06155240.pdf", docs / "scan.pdf")
    (docs / "notes.md").write_text("# Notes\n\nThe sabbatical policy applies after five years.\n")
    home = str(tmp_path / "kb")
    report = json.loads(docket("ingest", str(docs), "--home", home, "--json").stdout)
    assert report["failed"] == [] and report["added"] == 3
    return home


def test_documents_lists_every_file_and_its_parse_quality(pdf_home: str) -> None:
    plain = json.loads(docket("documents", "--home", pdf_home, "--json").stdout)["documents"]
    assert [d["path"] for d in plain] == ["notes.md", "protocol.pdf", "scan.pdf"]
    assert "quality" not in plain[0]
    listed = {
        d["path"]: d
        for d in json.loads(docket("documents", "--quality", "--home", pdf_home, "--json").stdout)["documents"]
    }
    assert listed["protocol.pdf"]["quality"]["readers"] == {"pypdfium2": 6}
    assert listed["protocol.pdf"]["quality"]["chars_per_page"] > 1000
    ocr = shutil.which("tesseract") is not None  # the OCR engine (CI installs it)
    if ocr:
        assert listed["scan.pdf"]["quality"]["ocr_pages"] == [1]
    else:
        assert listed["scan.pdf"]["quality"]["pages_without_text"] == [1]
    assert listed["notes.md"]["quality"]["parser"] == "markdown"
    table = docket("documents", "--quality", "--home", pdf_home).stdout
    scan = ("tesseract", "OCR: p. 1") if ocr else ("no text: p. 1",)
    for shown in ("protocol.pdf", "pypdfium2", "scan.pdf", *scan, "markdown", "Chars/page"):
        assert shown in table, shown
    # the source's totals, after the table and in the JSON
    source = json.loads(docket("documents", "--quality", "--home", pdf_home, "--json").stdout)["sources"]
    (summary,) = source.values()
    assert summary["files"] == 3 and summary["parsers"] == {"pdf": 2, "markdown": 1} and summary["pages"] == 7
    summary_line = " ".join(table.split())
    if ocr:
        assert summary["pages_ocr"] == 1 and summary["pages_without_text"] == {}
        assert "3 files (pdf 2, markdown 1) · 7 pages, 1 read by OCR (confidence" in summary_line
    else:
        assert summary["pages_ocr"] == 0 and summary["pages_without_text"] == {"image": 1}
        assert "7 pages, 1 without text (image 1)" in summary_line


def test_documents_show_gives_each_page_and_why_one_has_no_text(
    pdf_home: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_INGEST__OCR", "false")
    without_ocr = str(tmp_path / "kb-without-ocr")
    docket("ingest", str(tmp_path / "docs" / "scan.pdf"), "--home", without_ocr)
    shown = " ".join(docket("documents", "show", "scan.pdf", "--home", without_ocr).stdout.split())
    assert "0 passage(s)" in shown and "image only (scanned?); OCR is off (ingest.ocr = false)" in shown
    detail = json.loads(docket("documents", "show", "protocol.pdf", "--home", pdf_home, "--json").stdout)
    assert detail["chunks"] > 0 and len(detail["metadata"]["quality"]["page_details"]) == 6
    missing = docket("documents", "show", "nothing.pdf", "--home", pdf_home, check=False)
    assert missing.returncode == 2 and "no indexed document 'nothing.pdf'" in missing.stderr


def test_a_profile_set_by_hand_is_listed_filtered_on_and_reset(indexed) -> None:
    home = str(indexed[0])
    set_ = json.loads(
        docket(
            "documents",
            "set-profile",
            "New Parent Leave.md",
            "--org",
            "Clef, Inc.",
            "--type",
            "policy",
            "--date",
            "2024-01-15",
            "--home",
            home,
            "--json",
        ).stdout
    )
    assert set_["profile"]["organizations"] == ["Clef, Inc."]
    assert set_["profile"]["label"] == "Clef, Inc. policy, dated 15 Jan 2024"
    listed = json.loads(docket("documents", "--where", "org=clef", "--home", home, "--json").stdout)["documents"]
    assert [d["path"] for d in listed] == ["benefits/New Parent Leave.md"]
    answer = json.loads(
        docket("ask", "How much parental leave?", "--where", "org=Clef", "--home", home, "--json").stdout
    )
    assert {c["path"] for c in answer["citations"]} <= {"benefits/New Parent Leave.md"}
    bad = docket("documents", "set-profile", "New Parent Leave.md", "--date", "15 Jan", "--home", home, check=False)
    assert bad.returncode == 2 and "--date must be a date as YYYY-MM-DD" in bad.stderr
    reset = json.loads(
        docket(
            "documents", "set-profile", "New Parent Leave.md", "--reset", "organizations", "--home", home, "--json"
        ).stdout
    )
    assert reset["profile"]["organizations"] == [] and reset["profile"]["edited"] == ["date", "doc_type"]
