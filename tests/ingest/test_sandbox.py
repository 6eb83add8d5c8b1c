"""Hostile and broken files: parse workers with time and memory limits, zip bombs, page and attachment limits."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import ParseError, UnsupportedFileError
from docket.index.sqlite import SqliteStore
from docket.ingest.limits import ParseLimits, check_zip, extend_deadline
from docket.ingest.parsers import parse_bytes
from docket.ingest.sandbox import INLINE_TEXT_BYTES, Sandbox, limits_from_settings, parse_with, sandbox_from_settings
from docket.ingest.sync import source_for_path, sync_source
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.types import ParsedDocument
from tests.cli.conftest import docket


# Parse functions run inside the workers: module-level, so a worker can import them by name.
def hangs_on_request(data: bytes, path: str) -> ParsedDocument:
    if path.startswith("hang"):
        time.sleep(3600)
    return parse_bytes(data, path)


def slow_pages(data: bytes, path: str) -> ParsedDocument:
    """Three slow pages, asking for time before each as the OCR of a page does (too little for
    "short", none for "greedy")."""
    for _ in range(3):
        if path.startswith("short"):
            extend_deadline(0.1)
        elif not path.startswith("greedy"):
            extend_deadline(2.0)
        time.sleep(0.5)
    return parse_bytes(b"read slowly", "slow.txt")


def allocates_without_bound(data: bytes, path: str) -> ParsedDocument:
    if path.startswith("hog"):
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
    return parse_bytes(data, path)


def crashes_on_request(data: bytes, path: str) -> ParsedDocument:
    if path.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return parse_bytes(data, path)


def raises_unexpected(data: bytes, path: str) -> ParsedDocument:
    raise KeyError("no such part")


GOOD = b"Twelve weeks of parental leave for every employee."


def zip_bomb(member_mb: int = 30) -> bytes:
    """A .docx-shaped zip whose one member unpacks from a few KB to ``member_mb`` MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            zeros = bytes(1024 * 1024)
            for _ in range(member_mb):
                member.write(zeros)
    return buffer.getvalue()


def nested_email(depth: int) -> bytes:
    """A message with a message attached, ``depth`` messages in all."""
    inner: EmailMessage | None = None
    for level in range(depth, 0, -1):
        message = EmailMessage()
        message["Subject"] = f"level {level}"
        message["From"] = "a@example.com"
        message.set_content(f"Body of the message at level {level}.")
        if inner is not None:
            message.add_attachment(inner)
        inner = message
    assert inner is not None
    return bytes(inner)


# ------------------------------------------------------------------------------------- the sandbox
def test_sandboxed_parse_returns_the_same_document_as_in_process() -> None:
    with Sandbox(timeout=60) as sandbox:
        assert sandbox.parse(GOOD, "a.txt") == parse_bytes(GOOD, "a.txt")
        assert sandbox.parse(b"# Leave\n\nTen days.", "b.md") == parse_bytes(b"# Leave\n\nTen days.", "b.md")
        assert sandbox.started == 1  # the worker is reused


def test_small_plain_text_is_parsed_without_starting_a_worker() -> None:
    """A worker start costs more than reading a text file; only plain text of the built-in parser,
    up to INLINE_TEXT_BYTES, skips it."""
    big = b"word " * (INLINE_TEXT_BYTES // 5 + 1)
    with Sandbox(timeout=60) as sandbox:
        assert sandbox.parse(GOOD, "notes/a.TXT") == parse_bytes(GOOD, "a.TXT")
        assert sandbox.parse(b"Disk full at 03:00.", "app.log").text == "Disk full at 03:00."
        with pytest.raises(ParseError, match="empty file"):
            sandbox.parse(b"  \n", "empty.txt")
        assert (sandbox.started, sandbox.parsed, sandbox.inline) == (0, 0, 3)
        sandbox.parse(b"# Leave\n\nTen days.", "b.md")
        assert (sandbox.started, sandbox.parsed) == (1, 1)
        sandbox.parse(big, "big.txt")
        assert (sandbox.parsed, sandbox.inline) == (2, 3)
    with Sandbox(timeout=60, target=raises_unexpected) as custom:  # a custom parse function: always a worker
        with pytest.raises(ParseError):
            custom.parse(GOOD, "a.txt")
        assert (custom.started, custom.inline) == (1, 0)


def test_parse_errors_come_back_with_their_class_and_message() -> None:
    with Sandbox(timeout=60) as sandbox:
        with pytest.raises(ParseError, match="not a readable PDF"):
            sandbox.parse(b"%PDF-1.4 broken", "x.pdf")
        with pytest.raises(UnsupportedFileError, match="unsupported file type"):
            sandbox.parse(b"MZ\x90\x00", "tool.exe")
        with pytest.raises(ParseError, match="could not parse: KeyError"):
            Sandbox(target=raises_unexpected).parse(GOOD, "a.txt")


def test_a_file_that_hangs_the_parser_hits_the_time_limit_and_the_next_file_parses() -> None:
    with Sandbox(timeout=1, target=hangs_on_request) as sandbox:
        with pytest.raises(ParseError, match=r"took longer than 1 s to parse; .*ingest.parse_timeout"):
            sandbox.parse(GOOD, "hang.txt")
        assert sandbox.parse(GOOD, "next.txt").blocks[0].text == GOOD.decode()
        assert sandbox.started == 2  # the hung worker was killed and replaced


@pytest.mark.skipif(sys.platform != "linux", reason="the memory limit (RLIMIT_AS) is enforced on Linux")
def test_a_parser_that_allocates_without_bound_hits_the_memory_limit() -> None:
    with Sandbox(timeout=120, memory_mb=200, target=allocates_without_bound) as sandbox:
        with pytest.raises(ParseError, match=r"needed more than 200 MB of memory to parse; .*ingest.parse_memory_mb"):
            sandbox.parse(GOOD, "hog.txt")
        assert sandbox.parse(GOOD, "next.txt").blocks


def test_a_worker_that_dies_fails_only_that_file() -> None:
    with Sandbox(timeout=60, target=crashes_on_request) as sandbox:
        with pytest.raises(ParseError, match=r"the parser crashed on this file \(SIGSEGV\)"):
            sandbox.parse(GOOD, "crash.txt")
        assert sandbox.parse(GOOD, "next.txt").blocks


def test_settings_choose_the_sandbox_and_its_limits(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path,
        overrides={"ingest": {"parse_timeout": 5, "parse_memory_mb": 300, "max_pages": 7, "max_attachments": 2}},
    )
    sandbox = sandbox_from_settings(settings.ingest)
    assert sandbox is not None
    assert (sandbox.timeout, sandbox.memory_mb, sandbox.limits.max_pages, sandbox.limits.max_attachments) == (
        5,
        300,
        7,
        2,
    )
    sandbox.close()
    off = load_settings(home=tmp_path, overrides={"ingest": {"sandbox": False}})
    assert sandbox_from_settings(off.ingest) is None
    assert limits_from_settings(off.ingest) == ParseLimits()


# -------------------------------------------------------------------------------------------- limits
def test_zip_bomb_is_refused_before_any_parser_opens_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from docket.ingest.parsers.docx import DocxParser

    def must_not_run(self: object, data: bytes, path: str) -> ParsedDocument:
        raise AssertionError("the parser opened a zip bomb")

    monkeypatch.setattr(DocxParser, "parse", must_not_run)
    bomb = zip_bomb(30)
    assert len(bomb) < 100_000
    with pytest.raises(ParseError, match=r"expands [\d,]+x .*refused as a likely zip bomb"):
        parse_bytes(bomb, "report.docx")
    with pytest.raises(ParseError, match=r"unpacks to 30 MB \(more than the 20 MB limit\).*ingest.max_unzipped_mb"):
        check_zip(bomb, ParseLimits(max_unzipped_mb=20))


def test_a_zip_member_needing_an_unknown_zip_version_is_a_parse_error() -> None:
    """Python's zipfile raises NotImplementedError for a central-directory entry that needs a zip
    version it cannot read (found by the fuzz test): the zip check lets the file through and the
    parser gives its one-line reason, never an exception the batch does not expect."""
    document = io.BytesIO()
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    data = bytearray(document.getvalue())
    entry = data.find(b"PK\x01\x02")
    data[entry + 6] = 0x40  # "version needed to extract": 6.4
    check_zip(bytes(data))
    with pytest.raises(ParseError, match=r"zip file version 6\.4"):
        parse_bytes(bytes(data), "report.docx")


def test_ordinary_office_files_pass_the_zip_check() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Expense claims are due within 30 days.")
    buffer = io.BytesIO()
    document.save(buffer)
    check_zip(buffer.getvalue(), ParseLimits(max_unzipped_mb=1))
    assert "Expense claims" in parse_bytes(buffer.getvalue(), "policy.docx").text


def test_pdf_with_more_pages_than_the_limit_is_refused() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ParseError, match=r"too many pages \(3 > the 2 page limit\); raise ingest.max_pages"):
        parse_with(None, buffer.getvalue(), "long.pdf", ParseLimits(max_pages=2))


def test_email_nested_deeper_than_the_limit_says_so() -> None:
    data = nested_email(4)
    doc = parse_with(None, data, "thread.eml", ParseLimits(max_attachment_depth=2))
    assert "level 2" in doc.text and "level 3" not in doc.text
    assert any("nest more than 2 deep (ingest.max_attachment_depth)" in w for w in doc.warnings)
    assert "level 4" in parse_with(None, data, "thread.eml", ParseLimits(max_attachment_depth=4)).text


def test_email_with_more_attachments_than_the_limit_reads_the_first_ones() -> None:
    message = EmailMessage()
    message["Subject"] = "Receipts"
    message.set_content("Five receipts attached.")
    for number in range(1, 6):
        message.add_attachment(f"Receipt number {number}".encode(), "text", "plain", filename=f"r{number}.txt")
    doc = parse_with(None, bytes(message), "receipts.eml", ParseLimits(max_attachments=2))
    assert "Receipt number 2" in doc.text and "Receipt number 3" not in doc.text
    assert any("5 attachments: only the first 2 were read" in w for w in doc.warnings)


# ------------------------------------------------------------------------------------------ batches
def test_sync_with_a_sandbox_reports_the_hanging_file_and_indexes_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good-1.txt").write_bytes(GOOD)
    (folder / "hang.txt").write_bytes(b"This file hangs the parser.")
    (folder / "good-2.txt").write_bytes(b"Ten sick days a year.")
    store = SqliteStore(tmp_path / "kb.db")
    try:
        with Sandbox(timeout=1, target=hangs_on_request) as sandbox:
            report = sync_source(store, FakeEmbedder(), source_for_path(str(folder)), sandbox=sandbox)
            assert sandbox.parsed == 3
            again = sync_source(store, FakeEmbedder(), source_for_path(str(folder)), sandbox=sandbox)
            assert sandbox.parsed == 3  # the file that hung is not tried again: no second wait
    finally:
        store.close()
    assert report.added == 2
    assert [f["path"] for f in report.failed] == ["hang.txt"]
    assert report.failed[0]["error"].startswith("took longer than 1 s to parse")
    assert again.unchanged == 2 and again.failed == [] and again.failed_before == report.failed


def test_a_parse_worker_that_does_not_start_is_not_blamed_on_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "note.txt").write_bytes(GOOD)
    store = SqliteStore(tmp_path / "kb.db")
    source = source_for_path(str(folder))

    def not_importable(data: bytes, path: str) -> ParsedDocument:  # pragma: no cover - never runs
        return parse_bytes(data, path)

    sandbox = Sandbox(timeout=5, target=not_importable)  # the worker cannot find its target and exits
    try:
        with sandbox:
            first = sync_source(store, FakeEmbedder(), source, sandbox=sandbox)
            again = sync_source(store, FakeEmbedder(), source, sandbox=sandbox)
    finally:
        store.close()
    assert [f["path"] for f in first.failed] == ["note.txt"] and "parse worker" in first.failed[0]["error"]
    assert again.failed == first.failed and again.failed_before == []  # tried again: not the file's fault


def test_knowledge_base_parses_in_process_when_the_sandbox_is_off(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bomb.docx").write_bytes(zip_bomb(12))
    (folder / "note.txt").write_bytes(GOOD)
    settings = load_settings(home=tmp_path / "kb", overrides={"ingest": {"sandbox": False}})
    with KnowledgeBase(settings, embedder=FakeEmbedder()) as kb:
        report = kb.ingest([str(folder)])
        assert kb._sandbox is None
    assert report.added == 1
    assert "zip bomb" in report.failed[0]["error"]


def test_ingest_of_a_folder_with_hostile_files_indexes_the_good_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave\n\nWe offer twelve weeks of parental leave.", encoding="utf-8")
    (folder / "travel.txt").write_text("Book travel through the portal.", encoding="utf-8")
    (folder / "bomb.docx").write_bytes(zip_bomb(30))
    (folder / "thread.eml").write_bytes(nested_email(3))
    (folder / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")
    monkeypatch.setenv("DOCKET_INGEST__MAX_ATTACHMENT_DEPTH", "2")
    monkeypatch.setenv("DOCKET_INGEST__PARSE_TIMEOUT", "30")
    proc = docket("ingest", str(folder), "--home", str(tmp_path / "kb"), "--json", check=False)
    report = json.loads(proc.stdout)
    assert report["added"] == 3, report
    failed = {f["path"]: f["error"] for f in report["failed"]}
    assert set(failed) == {"bomb.docx", "truncated.pdf"}
    assert "refused as a likely zip bomb" in failed["bomb.docx"]
    assert any("ingest.max_attachment_depth" in w["warning"] for w in report["warnings"] if w["path"] == "thread.eml")


def test_html_nested_thousands_of_elements_deep_is_refused() -> None:
    """Found by bench/fuzz.py: 4,000 tables inside tables kept the HTML parser busy for minutes."""
    markup = b"<html><body>" + b"<table><tr><td>cell" * 4000 + b"</body></html>"
    with pytest.raises(ParseError, match="HTML nested more than 512 elements deep"):
        parse_bytes(markup, "deep.html")


def test_slow_pages_get_time_one_by_one_beyond_the_file_limit() -> None:
    with Sandbox(timeout=1.0, target=slow_pages) as sandbox:
        assert sandbox.parse(b"x", "scan.pdf").text == "read slowly"  # 1.5 s: 1 s plus 2 s a page
        with pytest.raises(ParseError, match=r"took longer than 1 s to parse; "):
            sandbox.parse(b"x", "greedy.pdf")  # the same work without asking for time
        with pytest.raises(ParseError, match=r"took longer than 1 s to parse \(and [\d.]+ s more for its pages read"):
            sandbox.parse(b"x", "short.pdf")


def test_ocr_settings_travel_to_the_parse_workers() -> None:
    settings = load_settings(overrides={"ingest": {"ocr": False, "ocr_languages": "eng+deu", "ocr_page_timeout": 9}})
    limits = limits_from_settings(settings.ingest)
    assert (limits.ocr, limits.ocr_engine, limits.ocr_languages, limits.ocr_page_seconds) == (
        False,
        "tesseract",
        "eng+deu",
        9,
    )
