"""File parsers, one module per format, registered by name like any backend.

:func:`parse_bytes` picks the parser by extension (after sniffing for mislabelled files) and turns
every failure into a :class:`~docket.errors.ParseError` whose message is one line a user can act on.
Every parsed file carries a parse-quality record in ``metadata["quality"]``
(:mod:`docket.ingest.quality`): the parser's own, with per-page detail, or a summary made here.
Third-party parsers register under the ``docket.parsers`` entry-point group.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import PurePath

from docket.errors import ParseError, UnsupportedFileError
from docket.ingest.quality import QUALITY_KEY, ParseQuality, awaits_ocr
from docket.protocols import Parser
from docket.registry import Registry
from docket.types import ParsedDocument

__all__ = ["PARSERS", "parse_bytes", "parser_for"]

PARSERS: Registry[Parser] = Registry("parser", "docket.parsers")

# Built-in parser modules; each registers itself on import. Imported lazily so that the heavy
# libraries (pypdf, openpyxl, ...) load only when a file of that type is met.
_BUILTIN_MODULES: dict[str, tuple[str, ...]] = {
    "text": (".txt", ".text", ".log"),
    "markdown": (".md", ".markdown", ".mdx"),
    "html": (".html", ".htm", ".xhtml"),
    "pdf": (".pdf",),
    "docx": (".docx",),
    "pptx": (".pptx",),
    "spreadsheet": (".xlsx", ".xlsm", ".xls", ".csv", ".tsv"),
    "email": (".eml", ".mbox"),
    "jsondata": (".json", ".jsonl", ".ndjson"),
    "image": (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"),
}

_EXTENSION_TO_MODULE = {ext: mod for mod, exts in _BUILTIN_MODULES.items() for ext in exts}

MAX_BYTES_DEFAULT = 200 * 1024 * 1024


def _sniff(data: bytes) -> str | None:
    """The extension the content says it is, for the formats with a reliable signature."""
    head = data[:8]
    if head.startswith(b"%PDF"):
        return ".pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"
    return None


def parser_for(path: str, data: bytes | None = None) -> Parser:
    """The parser for ``path``; raises UnsupportedFileError naming the type when there is none."""
    ext = PurePath(path).suffix.lower()
    module = _EXTENSION_TO_MODULE.get(ext)
    if module is not None:
        importlib.import_module(f"docket.ingest.parsers.{module}")
    for name in PARSERS.names():
        parser = PARSERS.get(name)()
        if ext in parser.extensions:
            return parser
    if data is not None and _sniff(data) == ".pdf":
        return parser_for("x.pdf")
    what = f"'{ext}' files" if ext else "files without an extension"
    raise UnsupportedFileError(f"unsupported file type: {what} are not parsed (skipped)")


def parse_bytes(data: bytes, path: str) -> ParsedDocument:
    """Parse one file's bytes. Every failure comes out as a one-line ParseError."""
    if not data.strip():
        raise ParseError("empty file: nothing to index")
    parser = parser_for(path, data)
    sniffed = _sniff(data)
    ext = PurePath(path).suffix.lower()
    if sniffed == ".pdf" and ext != ".pdf" and parser.name != "pdf":
        raise ParseError(f"mislabelled file: named '{ext}' but the content is a PDF; rename it to .pdf")
    if ext in (".docx", ".pptx", ".xlsx", ".xlsm") and sniffed != "zip":
        raise ParseError(
            f"not a valid {ext} file (it is not a zip container); it may be corrupt, or an old "
            f"binary Office file renamed to {ext}"
        )
    if sniffed == "zip":  # DOCX, XLSX, PPTX: refuse zip bombs before a parser unpacks anything
        from docket.ingest.limits import check_zip

        check_zip(data)
    try:
        parsed = parser.parse(data, path)
    except ParseError:
        raise
    except Exception as exc:  # third-party parsers raise anything; translate at the boundary
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParseError(f"could not parse as {parser.name}: {reason[:200]}") from exc
    quality = parsed.metadata.get(QUALITY_KEY)
    # a scan (pages with images but no text) is kept, listed with its record; other empty files fail
    if not any(b.text.strip() for b in parsed.blocks) and not awaits_ocr(quality):
        raise ParseError("no text found in the file" + (f" ({parsed.warnings[0]})" if parsed.warnings else ""))
    if quality is None:  # formats without per-page detail get the summary
        record = ParseQuality.of_text(parser.name, parsed.text, parsed.warnings, parsed.metadata.get("pages"))
        parsed = replace(parsed, metadata={**parsed.metadata, QUALITY_KEY: record.to_dict()})
    return parsed
