"""bench/pdf_parsers.py on the two small real PDFs of tests/data/pdf: the harness itself works.

Speed is not asserted (benchmarks measure it); only what the harness counts.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

from tests.bench_modules import load_bench

ROOT = Path(__file__).resolve().parents[2]
PDFS = ROOT / "tests" / "data" / "pdf"


def _bench() -> ModuleType:
    return load_bench("pdf_parsers_bench", "pdf_parsers.py")


def test_the_sweep_parses_every_pdf_in_the_sandbox_and_counts_what_it_found() -> None:
    result = _bench().sweep([PDFS])
    assert result["files"] == 2 and result["failed"] == 0 and result["failures"] == []
    assert result["pages"] == 7
    if shutil.which("tesseract"):  # the OCR engine reads the scanned page
        assert result["pages_ocr"] == 1 and result["pages_without_text"] == 0 and result["files_without_any_text"] == 0
    else:
        assert result["pages_without_text"] == 1 and result["files_without_any_text"] == 1


def test_the_speed_run_compares_the_readers_text() -> None:
    readers = _bench().speed(PDFS)["readers"]
    assert set(readers) == {"pypdfium2", "pypdf", "docket (pypdfium2 + pypdf per page)"}
    assert all(r["pages"] == 7 and r["failed_files"] == 0 for r in readers.values())
    # on the protocol pypdf runs words together on five pages; PDFium does not
    assert readers["pypdf"]["flagged_pages"] >= 5 > readers["pypdfium2"]["flagged_pages"]
    assert readers["pypdfium2"]["known_words"] > readers["pypdf"]["known_words"]
