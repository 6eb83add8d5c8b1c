"""PDF readers compared (speed and text quality), and every PDF of the shared data parsed.

    python bench/pdf_parsers.py speed [--dir ../shared/data/financebench-dev/pdfs] [--json]
    python bench/pdf_parsers.py sweep [DIR ...] [--src OTHER_CHECKOUT/src] [--json]

``speed``: each reader alone (pypdfium2, pypdf) extracts the text of every page of every PDF in
``--dir``, one file after another in this process; then Docket's PDF parser does the same (its
default: pypdfium2 first, pypdf per page where the text is missing or garbled, paragraphs joined).
Reported per reader: pages/s (wall clock on this machine), and the quality of the text:

- known words: the share of words of 3+ letters that are whole words of the MiniLM vocabulary
  (30k English word pieces): words run together ("andassumptions") or cut apart ("finan cial")
  are not, so a higher share means better spacing;
- run-together: Latin "words" of 25+ letters; unmapped: U+FFFD and private-use characters;
- empty pages, and pages :func:`docket.ingest.quality.check_text` flags for a second reading.

``sweep``: Docket's parse of every PDF under the given folders (default: the four PDF sets of
``../shared/data``) in the sandboxed parse workers, as ingestion runs it: files that fail and why,
pages without text, pages read again by the second reader. ``--src`` runs another checkout's code
(for example the parent commit's ``src``, from ``git archive``) for a before/after count.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PDF_SETS = (
    SHARED / "financebench-dev" / "pdfs",
    SHARED / "docugami-kg-rag-raw-pdfs",
    SHARED / "invoice2data-samples",
    SHARED / "unstructured-example-docs",
)
_WORD = re.compile(r"[^\W\d_]{3,}")
_LATIN = re.compile(r"[A-Za-z]+")
_UNMAPPED = re.compile(r"[\ufffd\ue000-\uf8ff]")


def _use_src(argv: list[str]) -> None:
    src = ROOT / "src"
    if "--src" in argv:
        src = Path(argv[argv.index("--src") + 1]).resolve()
        # parse workers import docket before they are told the search path: they need it from the start
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(src))


def _pdfs(folders: list[Path]) -> list[Path]:
    return sorted(p for d in folders for p in d.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")


# ------------------------------------------------------------------------------------------ speed
def _pypdfium2_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    texts = []
    for index in range(len(pdf)):
        page = pdf[index]
        textpage = page.get_textpage()
        texts.append(textpage.get_text_bounded())
        textpage.close()
        page.close()
    pdf.close()
    return texts


def _pypdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    texts = []
    for page in PdfReader(io.BytesIO(data)).pages:
        try:
            texts.append(page.extract_text() or "")
        except Exception:  # a broken content stream: an empty page, as the parser would see it
            texts.append("")
    return texts


def _docket_pages(data: bytes) -> list[str]:
    from docket.ingest.parsers.pdf import PdfParser

    doc = PdfParser().parse(data, "x.pdf")
    by_page = {b.page: b.text for b in doc.blocks}
    return [by_page.get(n, "") for n in range(1, int(doc.metadata["pages"]) + 1)]


def _vocabulary() -> set[str]:
    tokenizer = json.loads((ROOT / "src" / "docket" / "models" / "data" / "minilm-tokenizer.json").read_text())
    return {w for w in tokenizer["model"]["vocab"] if w.isalpha()}


def speed(folder: Path) -> dict[str, Any]:
    from docket.ingest.quality import check_text

    vocabulary = _vocabulary()
    files = _pdfs([folder])
    readers: dict[str, Callable[[bytes], list[str]]] = {
        "pypdfium2": _pypdfium2_pages,
        "pypdf": _pypdf_pages,
        "docket (pypdfium2 + pypdf per page)": _docket_pages,
    }
    out: dict[str, Any] = {"folder": str(folder), "files": len(files), "readers": {}}
    for name, read in readers.items():
        pages = seconds = words = known = run_together = unmapped = empty = flagged = failed = 0
        for path in files:
            data = path.read_bytes()
            started = time.perf_counter()
            try:
                texts = read(data)
            except Exception as exc:
                failed += 1
                print(f"{name}: {path.name} failed: {exc}", file=sys.stderr)
                continue
            seconds += time.perf_counter() - started
            pages += len(texts)
            for text in texts:
                found = [w.lower() for w in _WORD.findall(text)]
                words += len(found)
                known += sum(1 for w in found if w in vocabulary)
                run_together += sum(1 for w in _LATIN.findall(text) if len(w) >= 25)
                unmapped += len(_UNMAPPED.findall(text))
                empty += not text.strip()
                flagged += check_text(text).problem is not None
        out["readers"][name] = {
            "pages": pages,
            "seconds": round(seconds, 1),
            "pages_per_s": round(pages / seconds, 1) if seconds else None,
            "known_words": round(known / words, 4) if words else None,
            "run_together_words": run_together,
            "unmapped_chars": unmapped,
            "empty_pages": empty,
            "flagged_pages": flagged,
            "failed_files": failed,
        }
    return out


# ------------------------------------------------------------------------------------------ sweep
def sweep(folders: list[Path]) -> dict[str, Any]:
    from docket.errors import DocketError
    from docket.ingest.sandbox import Sandbox

    files = _pdfs(folders)
    failures: list[dict[str, str]] = []
    pages = without_text = reread = ocr = no_text_files = 0
    started = time.perf_counter()
    with Sandbox(timeout=120) as sandbox:
        for path in files:
            try:
                doc = sandbox.parse(path.read_bytes(), path.name)
            except DocketError as exc:
                failures.append(
                    {"path": str(path.relative_to(SHARED) if path.is_relative_to(SHARED) else path), "error": str(exc)}
                )
                continue
            quality = doc.metadata.get("quality") or {}
            pages += int(doc.metadata.get("pages") or 0)
            without_text += len(quality.get("pages_without_text") or [])
            reread += len(quality.get("rechecked_pages") or [])
            ocr += len(quality.get("ocr_pages") or [])
            no_text_files += not doc.blocks
    return {
        "files": len(files),
        "failed": len(failures),
        "failures": failures,
        "pages": pages,
        "pages_without_text": without_text,
        "pages_read_again": reread,
        "pages_ocr": ocr,
        "files_without_any_text": no_text_files,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    speed_cmd = sub.add_parser("speed", help="pages/s and text quality of each reader")
    speed_cmd.add_argument("--dir", type=Path, default=PDF_SETS[0])
    sweep_cmd = sub.add_parser("sweep", help="parse every PDF as ingestion does; count the failures")
    sweep_cmd.add_argument("folders", nargs="*", type=Path, default=list(PDF_SETS))
    for cmd in (speed_cmd, sweep_cmd):
        cmd.add_argument("--src", type=Path, help="import docket from this src folder (another checkout)")
        cmd.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = speed(args.dir) if args.command == "speed" else sweep(args.folders)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if args.command == "speed":
        print(f"{result['files']} PDFs in {result['folder']}")
        print("| reader | pages | pages/s | known words | run-together | unmapped | empty pages | flagged pages |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in result["readers"].items():
            print(
                f"| {name} | {r['pages']} | {r['pages_per_s']} | {r['known_words']} | {r['run_together_words']} "
                f"| {r['unmapped_chars']} | {r['empty_pages']} | {r['flagged_pages']} |"
            )
        return
    print(
        f"{result['files']} PDFs, {result['failed']} failed; {result['pages']} pages, {result['pages_without_text']} "
        f"without text, {result['pages_read_again']} read again; {result['files_without_any_text']} files without "
        f"any text; {result['seconds']} s"
    )
    for failure in result["failures"]:
        print(f"  failed {failure['path']}: {failure['error']}")


if __name__ == "__main__":
    _use_src(sys.argv)
    main()
