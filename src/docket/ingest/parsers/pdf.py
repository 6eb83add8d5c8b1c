"""PDF (pypdf): the text layer, page by page, one block per page with lines joined into paragraphs.

Encrypted files are opened with the empty password when that works (AES needs ``cryptography``);
otherwise the file is refused with a message asking for a password. Pages without a text layer are
reported as warnings, and a PDF where no page has one is refused as a scan (OCR is not supported).
The title comes from the document information when it is meaningful, else the first line of text.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.limits import current_limits
from docket.ingest.parsers import PARSERS
from docket.types import Block, ParsedDocument

__all__ = ["PdfParser", "join_lines"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
)
_SENTENCE_END = (".", "!", "?", ":", ";", "。", "！", "？")
_PAGE_LABEL = re.compile(r"^(page\s*)?\d+(\s*(of|/)\s*\d+)?$", re.I)
_JUNK_TITLE = re.compile(
    r"^(untitled.*|microsoft (word|powerpoint|excel) - .*|.*\.(docx?|pptx?|xlsx?|pdf|jpe?g|png|tiff?))$", re.I
)


def _typical_length(lines: list[str]) -> int:
    """The length of a full line of running text: the 90th percentile of line lengths."""
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, int(len(lengths) * 0.9))]


def join_lines(text: str, typical: int | None = None) -> list[str]:
    """Paragraphs from pypdf's lines of text.

    Lines of running text are joined with spaces (words hyphenated across a line break are
    rejoined); a paragraph ends at a blank line or after a short line (the last line of a
    paragraph, a heading, a list item). Runs of short lines (addresses, table rows, lists) stay
    together as one paragraph, one line each.
    """
    text = _CONTROL.sub("", text).translate(_LIGATURES)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    full = typical if typical is not None else _typical_length(lines)
    short = max(int(full * 0.7), 1)

    raw: list[list[str]] = [[]]
    for line in lines:
        if not line:
            if raw[-1]:
                raw.append([])
            continue
        raw[-1].append(line)
        if len(line) < short or (line.endswith(_SENTENCE_END) and len(line) < full * 0.85):
            raw.append([])

    paragraphs: list[str] = []
    pending_short: list[str] = []
    for group in raw:
        if not group:
            continue
        if len(group) == 1 and len(group[0]) < short:
            pending_short.append(group[0])
            continue
        if pending_short:
            paragraphs.append("\n".join(pending_short))
            pending_short = []
        paragraphs.append(_join_prose(group))
    if pending_short:
        paragraphs.append("\n".join(pending_short))
    return paragraphs


def _join_prose(lines: list[str]) -> str:
    out = lines[0]
    for line in lines[1:]:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}"
    return out


def _meta(info: Any, key: str) -> str | None:
    try:
        value = info.get(key) if info is not None else None
    except Exception:  # broken document information dictionaries
        return None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _title(info_title: str | None, first_text: str) -> str | None:
    if info_title and not _JUNK_TITLE.match(info_title):
        return info_title[:200]
    for line in first_text.splitlines():
        line = line.strip()
        if len(line) > 2 and not _PAGE_LABEL.match(line):
            return line[:200]
    return None


@PARSERS.register("pdf")
class PdfParser:
    name: str = "pdf"
    extensions: tuple[str, ...] = (".pdf",)

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

        pypdf_log = logging.getLogger("pypdf")
        if pypdf_log.level == logging.NOTSET:  # unless the application chose otherwise, hush the
            pypdf_log.setLevel(logging.ERROR)  # warnings pypdf logs for every quirk of real files
        try:
            reader = PdfReader(io.BytesIO(data))
        except PdfReadError as exc:
            raise ParseError(f"not a readable PDF: {exc}"[:200]) from exc
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError as exc:
                raise ParseError("encrypted PDF: opening it needs the 'cryptography' package") from exc
            except (PdfReadError, NotImplementedError) as exc:
                raise ParseError(f"encrypted PDF: unsupported encryption ({exc})"[:200]) from exc
            if not opened:
                raise ParseError("encrypted PDF: a password is required to open it; save an unprotected copy")

        try:
            count = len(reader.pages)
            max_pages = current_limits().max_pages
            if count > max_pages:
                raise ParseError(
                    f"too many pages ({count:,} > the {max_pages:,} page limit); raise ingest.max_pages to index it"
                )
            pages = list(reader.pages)
        except FileNotDecryptedError as exc:
            raise ParseError("encrypted PDF: a password is required to open it; save an unprotected copy") from exc
        warnings: list[str] = []
        texts: list[str] = []
        for number, page in enumerate(pages, start=1):
            try:
                texts.append(page.extract_text() or "")
            except Exception as exc:  # pypdf fails on individual broken content streams
                warnings.append(f"page {number}: text could not be extracted ({type(exc).__name__})")
                texts.append("")

        typical = _typical_length([line.strip() for text in texts for line in text.splitlines()])
        blocks: list[Block] = []
        for number, text in enumerate(texts, start=1):
            paragraphs = join_lines(text, typical)
            if not paragraphs:
                warnings.append(f"page {number} has no text layer (scanned image?; OCR is not supported)")
                continue
            blocks.append(Block(text="\n\n".join(paragraphs), page=number))
        if not blocks:
            raise ParseError(
                f"scanned PDF: none of its {len(pages)} page(s) has a text layer, so there is no text "
                "to index (OCR is not supported)"
            )

        info = None
        try:
            info = reader.metadata
        except Exception:  # a broken information dictionary must not lose the text
            warnings.append("the document information (title, author) could not be read")
        metadata: dict[str, Any] = {"pages": len(pages)}
        for key in ("Author", "Subject", "Creator", "Producer"):
            value = _meta(info, f"/{key}")
            if value:
                metadata[key.lower()] = value
        try:
            created = info.creation_date if info is not None else None
        except Exception:  # unparsable dates
            created = None
        if created is not None:
            metadata["created"] = created.isoformat()
        title = _title(_meta(info, "/Title"), blocks[0].text) or PurePath(path).stem
        return ParsedDocument(blocks=tuple(blocks), title=title, metadata=metadata, warnings=tuple(warnings))
