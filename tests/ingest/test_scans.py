"""Scans end to end: a scanned PDF and an image ingested through the parse sandbox answer with
citations, from the library and from the `docket` command; the ingest report counts the pages read
by OCR; files OCR could not read are read once it can run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.ingest import ocr
from docket.kb import KnowledgeBase
from tests.cli.conftest import docket
from tests.conftest import REPO
from tests.ingest.ocr_helpers import needs_tesseract, scanned_pdf, typed_page

NOTE = REPO / "tests" / "data" / "ocr" / "delivery-note.png"  # a typed delivery note, scanned askew

pytestmark = needs_tesseract


def _handbook() -> bytes:
    return scanned_pdf(
        [
            typed_page(["Boiler service handbook", "", "This handbook covers installing the boilers we sell."]),
            typed_page(
                [
                    "Warranty",
                    "",
                    "The Model X boiler comes with a warranty of seven years from the",
                    "date of installation. The warranty covers parts and labour.",
                ]
            ),
            typed_page(["Servicing", "", "Book a yearly service with an approved engineer."]),
        ]
    )


def test_a_scanned_pdf_answers_with_a_page_citation(tmp_path: Path, minilm) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.pdf").write_bytes(_handbook())
    kb = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=minilm)  # parse sandbox on: the default
    try:
        report = kb.ingest([str(docs)])
        assert report.added == 1 and report.pages_ocr == 3 and report.pages_unreadable == 0
        assert report.to_dict()["pages_ocr"] == 3
        answer = kb.ask("What is the warranty on the Model X boiler?")
    finally:
        kb.close()
    assert "seven years" in answer.text
    assert answer.citations and answer.citations[0].location.page == 2
    assert answer.citations[0].location.label().startswith("p. 2")
    # stored with the passage and shown on the citation: the region of page 2 it was typed in
    region = answer.citations[0].to_dict()["region"]
    assert region["page"] == 2 and abs(region["x0"] - 150 / 1700) < 0.01 and region["y1"] < 0.25


def test_a_scan_indexed_without_ocr_is_read_once_ocr_can_run(tmp_path: Path, fake_embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.pdf").write_bytes(_handbook())
    home = tmp_path / "kb"
    without = KnowledgeBase(load_settings(home=home, overrides={"ingest": {"ocr": False}}), embedder=fake_embedder)
    try:
        first = without.ingest([str(docs)])
        assert first.added == 1 and first.pages_ocr == 0 and first.pages_unreadable == 3
        assert without.sync().unchanged == 1  # still no OCR: nothing to do
    finally:
        without.close()
    kb = KnowledgeBase(load_settings(home=home), embedder=fake_embedder)
    try:
        again = kb.sync()  # the file has not changed, but OCR can read it now
        assert again.updated == 1 and again.pages_ocr == 3 and again.pages_unreadable == 0
        assert kb.sync().unchanged == 1
    finally:
        kb.close()


def test_an_image_refused_without_the_engine_is_read_once_it_is_installed(
    tmp_path: Path, fake_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(NOTE, docs / "delivery-note.png")
    home = tmp_path / "kb"
    in_process = {"ingest": {"sandbox": False}}  # so that the engine can be hidden from the parser
    with monkeypatch.context() as m:
        m.setattr(ocr.shutil, "which", lambda name: None)
        ocr.ocr_engine.cache_clear()
        kb = KnowledgeBase(load_settings(home=home, overrides=in_process), embedder=fake_embedder)
        try:
            first = kb.ingest([str(docs)])
            assert first.added == 0 and first.failed[0]["path"] == "delivery-note.png"
            assert "apt install tesseract-ocr" in first.failed[0]["error"]
            assert kb.sync().failed_before  # not tried again while nothing changed
        finally:
            kb.close()
    ocr.ocr_engine.cache_clear()
    kb = KnowledgeBase(load_settings(home=home, overrides=in_process), embedder=fake_embedder)
    try:
        again = kb.sync()  # the engine is there now: what decides the outcome has changed
        assert again.added == 1 and again.failed == [] and again.pages_ocr == 1
    finally:
        kb.close()


def test_docket_ingest_and_ask_answer_from_a_scanned_image_with_a_citation(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(NOTE, docs / "delivery-note.png")
    (docs / "handbook.pdf").write_bytes(_handbook())
    home = str(tmp_path / "kb")
    shown = docket("ingest", str(docs), "--home", home).stdout
    assert "4 scanned pages read by OCR" in shown
    answer = json.loads(
        docket("ask", "When will the thermostatic radiator valves be delivered?", "--home", home, "--json").stdout
    )
    assert answer["abstained"] is False and "28 March 2026" in answer["answer"]
    assert answer["citations"][0]["path"] == "delivery-note.png"
    assert "28 March 2026" in answer["citations"][0]["quote"]
    listed = docket("documents", "--quality", "--home", home).stdout
    assert "OCR: p. 1-3" in listed
