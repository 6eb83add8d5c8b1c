"""PDF: the text layer, page by page, one block per page with lines joined into paragraphs.

Two readers (:mod:`docket.ingest.parsers.pdf_readers`): pypdfium2 reads every page; a page whose
text is missing or fails :func:`~docket.ingest.quality.check_text` (too few characters,
replacement characters, symbols rather than words, words run together) is read again by pypdf,
and the better of the two readings is kept. When pypdfium2 cannot open the file at all, pypdf
reads all of it, and the other way round. Each page's outcome goes into the parse-quality record
(``metadata["quality"]``, :class:`~docket.ingest.quality.ParseQuality`).

A page whose text is still absent or garbled after both readers, and that shows something (an
image, a drawing, text without a character mapping), is rendered by PDFium at ``ingest.ocr_dpi``
and read by OCR (:mod:`docket.ingest.parsers.ocr_text` holds the rule, :mod:`docket.ingest.ocr` the
engine); the OCR text is kept when it reads better than the text layer, and the page's quality
record says so (``reader``: the engine, ``ocr_confidence``). Running headers and footers (the same
short line at the top or bottom of most pages) are dropped (:mod:`docket.ingest.page_edges`).

Encrypted files are opened with the empty password when that works; otherwise the file is refused
with a message asking for a password. Pages without text are reported as warnings with the reason
(blank, image only, drawings only) and why OCR did not read them (off, not installed, failed). A
PDF where no page has text but some show an image or drawing (a scan OCR could not read) is kept
as a document without passages, so that it is listed with its quality record instead of failing;
one whose pages are all blank or broken is refused. The
title comes from the document information when it is meaningful, else the first line of text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.limits import current_limits
from docket.ingest.page_edges import drop_running_lines
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.ocr_text import needs_ocr, read_picture
from docket.ingest.parsers.pdf_readers import READERS, PasswordRequired, PdfText, ReaderError, open_reader
from docket.ingest.parsers.spreadsheet import table_blocks
from docket.ingest.quality import (
    NEEDS_OCR,
    QUALITY_KEY,
    PageQuality,
    ParseQuality,
    TextCheck,
    check_text,
    count_words,
)
from docket.ingest.regions import Box, attach_regions
from docket.ingest.text_tables import find_tables
from docket.sentences import CELL_SEPARATOR
from docket.types import Block, ParsedDocument

__all__ = ["PdfParser", "join_lines", "page_blocks", "typical_length"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000-\uf8ff\ufffe\uffff]")  # and private-use glyphs
_SPACES = re.compile(r"[ \t\u00a0]+")
_LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
)
_SENTENCE_END = (".", "!", "?", ":", ";", "。", "！", "？")
_PAGE_LABEL = re.compile(r"^(page\s*)?\d+(\s*(of|/)\s*\d+)?$", re.I)
_JUNK_TITLE = re.compile(
    r"^(untitled.*|microsoft (word|powerpoint|excel) - .*|.*\.(docx?|pptx?|xlsx?|pdf|jpe?g|png|tiff?))$", re.I
)


_LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])\x02(?=[^\W\d_A-Z])")


def _soft_hyphens(text: str) -> str:
    """PDFium joins a word hyphenated across a line break and marks the hyphen with ``\x02``:
    rejoin the word when a lower-case letter follows ("im\x02portant"), keep a hyphen elsewhere
    ("S\x02T"), as :func:`join_lines` treats a hyphen at the end of a line."""
    return _LINE_END_HYPHEN.sub("", text).replace("\x02", "-")


def typical_length(lines: list[str]) -> int:
    """The length of a full line of running text: the 90th percentile of line lengths."""
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, int(len(lengths) * 0.9))]


def join_lines(text: str, typical: int | None = None) -> list[str]:
    """Paragraphs from a PDF reader's lines of text.

    Lines of running text are joined with spaces (words hyphenated across a line break are
    rejoined); a paragraph ends at a blank line or after a short line (the last line of a
    paragraph, a heading, a list item). Runs of short lines (addresses, table rows, lists) stay
    together as one paragraph, one line each.
    """
    text = _CONTROL.sub("", _soft_hyphens(text)).translate(_LIGATURES)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    full = typical if typical is not None else typical_length(lines)
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


def page_blocks(text: str, number: int, typical: int, cells: bool = False) -> list[Block]:
    """A page as blocks: its numeric tables (:func:`docket.ingest.text_tables.find_tables`) as table
    blocks — row label, figures, column headers, unit, under the table's title — and the prose
    between them as paragraphs. With ``cells`` (a page read by OCR, whose tables come as rows of
    cells joined by ``" | "``, see :mod:`docket.ingest.ocr_tables`), those rows are tables too, with
    their first row as the header, as the other parsers' tables."""
    lines = text.split("\n")
    blocks: list[Block] = []

    def prose(part: list[str]) -> None:
        paragraphs = join_lines("\n".join(part), typical)
        if paragraphs:
            blocks.append(Block(text="\n\n".join(paragraphs), page=number))

    def text_part(part: list[str]) -> None:
        cursor = 0
        for table in find_tables("\n".join(part)):
            prose(part[cursor : table.first])
            heading = (table.title,) if table.title else ()
            rows = "\n".join(table.rows)
            blocks.append(Block(text=rows, kind="table", header=table.header, page=number, heading_path=heading))
            cursor = table.last + 1
        prose(part[cursor:])

    cursor = 0
    for first, last in _cell_runs(lines) if cells else ():
        text_part(lines[cursor:first])
        rows = [(n, line.split(CELL_SEPARATOR)) for n, line in enumerate(lines[first : last + 1], start=1)]
        blocks.extend(table_blocks(rows, page=number))
        cursor = last + 1
    text_part(lines[cursor:])
    return blocks


MIN_CELL_ROWS = 3  # rows of cells that make a table of an OCR'd page


def _cell_runs(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(first, last) line of each run of rows of cells: lines without a blank line between them,
    from the first to the last that holds cells, with at least :data:`MIN_CELL_ROWS` of them."""
    runs: list[tuple[int, int]] = []
    with_cells: list[int] = []
    for index, line in enumerate([*lines, ""]):
        if line.strip():
            if CELL_SEPARATOR in line:
                with_cells.append(index)
            continue
        if len(with_cells) >= MIN_CELL_ROWS:
            runs.append((with_cells[0], with_cells[-1]))
        with_cells = []
    return runs


def _title(info_title: str | None, first_text: str) -> str | None:
    if info_title and not _JUNK_TITLE.match(info_title):
        return info_title[:200]
    for line in first_text.splitlines():
        line = line.strip()
        if len(line) > 2 and not _PAGE_LABEL.match(line):
            return line[:200]
    return None


DEFAULT_READERS = ("pypdfium2", "pypdf")
LOW_CONFIDENCE = 0.6  # an OCR'd page below this is named in the warnings
_PASSWORD = "encrypted PDF: a password is required to open it; save an unprotected copy"


class _Readers:
    """The readers of one file, opened when first needed; the first that opens is the primary."""

    def __init__(self, data: bytes, names: Sequence[str]) -> None:
        self.data, self.names = data, list(names)
        self.opened: dict[str, PdfText] = {}
        self.failed: dict[str, str] = {}

    def get(self, name: str) -> PdfText | None:
        if name in self.opened:
            return self.opened[name]
        if name in self.failed:
            return None
        try:
            reader = open_reader(name, self.data)
        except PasswordRequired as exc:
            if not self.opened:  # nothing opened it: the file needs its password
                raise ParseError(_PASSWORD) from None
            self.failed[name] = str(exc)  # another reader opened it without one
            return None
        except ReaderError as exc:
            self.failed[name] = str(exc)
            return None
        self.opened[name] = reader
        return reader

    def primary(self) -> PdfText:
        for name in self.names:
            reader = self.get(name)
            if reader is not None:
                return reader
        reasons = "; ".join(f"{name}: {why}" for name, why in self.failed.items())
        raise ParseError(f"not a readable PDF ({reasons})"[:300])

    def others(self, first: PdfText) -> list[str]:
        return [name for name in self.names if name != first.name]

    def close(self) -> None:
        for reader in self.opened.values():
            reader.close()


@dataclass(frozen=True)
class _Reading:
    """The text kept for one page, the reader it came from, and what happened on the way."""

    text: str
    check: TextCheck
    reader: str
    fallback: str | None = None  # why another reader was tried
    errors: tuple[str, ...] = ()  # readers that failed on this page, with their reasons
    ocr_confidence: float | None = None  # the text came from OCR, with this confidence
    ocr_note: str | None = None  # why OCR, wanted, did not give the text
    lines: tuple[tuple[str, Box], ...] = ()  # OCR's lines and their boxes on the page (fractions)


def _read(reader: PdfText, index: int) -> tuple[str, TextCheck, str | None]:
    try:
        text = reader.page_text(index)
    except ReaderError as exc:
        return "", TextCheck(0, 0, "error", 1.0), f"{reader.name}: {exc}"
    return text, check_text(text), None


def _read_page(primary: PdfText, readers: _Readers, index: int) -> _Reading:
    """Page ``index`` by the primary reader, and by the others when its text has a problem; the
    better reading is kept (:meth:`TextCheck.better_than`)."""
    text, check, error = _read(primary, index)
    errors = [error] if error else []
    if check.problem is None:
        return _Reading(text, check, primary.name)
    fallback = error or f"{primary.name}: {check.problem}"
    best = _Reading(text, check, primary.name, fallback)
    for name in readers.others(primary):
        other = readers.get(name)
        if other is None or index >= other.page_count():
            continue
        other_text, other_check, other_error = _read(other, index)
        if other_error:
            errors.append(other_error)
        elif other_check.better_than(best.check):
            best = _Reading(other_text, other_check, other.name, fallback)
        if best.check.problem is None:
            break
    return replace(best, errors=tuple(errors))


def _with_ocr(primary: PdfText, readers: _Readers, index: int, reading: _Reading) -> _Reading:
    """The page read by OCR instead, where :func:`needs_ocr` asks for it and OCR reads it better."""
    drawn = primary.why_no_text(index) if reading.check.problem else None
    if not needs_ocr(reading.check, drawn):
        return reading
    renderer = readers.get("pypdfium2")
    render = getattr(renderer, "render", None)
    if render is None:
        why = readers.failed.get("pypdfium2", "no reader renders pages")
        return replace(reading, ocr_note=f"not read by OCR: the page could not be rendered ({why})")
    try:
        image = render(index, current_limits().ocr_dpi)
    except ReaderError as exc:
        return replace(reading, ocr_note=f"not read by OCR: the page could not be rendered ({exc})")
    got = read_picture(image)
    if not got.text:
        return replace(reading, ocr_note=got.note)
    check = check_text(got.text)
    if reading.check.chars and not check.better_than(reading.check):
        return replace(reading, ocr_note=f"{got.engine} read it no better than its text layer")
    fallback = reading.fallback or f"{reading.reader}: {reading.check.problem}"
    return _Reading(got.text, check, got.engine, fallback, reading.errors, got.confidence, lines=got.lines)


def _page_ranges(numbers: Sequence[int]) -> str:
    """``[2, 3, 4, 9]`` -> ``pages 2-4, 9``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)
    return ("pages " if len(numbers) > 1 else "page ") + text


@PARSERS.register("pdf")
class PdfParser:
    name: str = "pdf"
    extensions: tuple[str, ...] = (".pdf",)

    def __init__(self, readers: Sequence[str] = DEFAULT_READERS) -> None:
        unknown = [r for r in readers if r not in READERS]
        if unknown or not readers:
            raise ValueError(f"unknown PDF reader(s) {unknown}; readers: {', '.join(READERS)}")
        self.readers = tuple(readers)

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        readers = _Readers(data, self.readers)
        try:
            return self._parse(readers, path)
        finally:
            readers.close()

    def _parse(self, readers: _Readers, path: str) -> ParsedDocument:
        primary = readers.primary()
        count = primary.page_count()
        max_pages = current_limits().max_pages
        if count > max_pages:
            raise ParseError(
                f"too many pages ({count:,} > the {max_pages:,} page limit); raise ingest.max_pages to index it"
            )
        opened_first = dict(readers.failed)  # readers tried before the primary, which could not open it
        warnings: list[str] = []
        readings = [_read_page(primary, readers, index) for index in range(count)]
        readings = [_with_ocr(primary, readers, index, reading) for index, reading in enumerate(readings)]
        for number, reading in enumerate(readings, start=1):
            problem = reading.check.problem or ""
            if problem.startswith("garbled") and reading.check.chars:
                warnings.append(f"page {number}: the text may be garbled ({problem.partition(': ')[2]})")
        for name, why in readers.failed.items():
            if name in opened_first:
                warnings.insert(0, f"{name} could not open the file ({why}); it was read with {primary.name}")
            else:
                warnings.insert(0, f"{name} could not open the file ({why}) to read pages again")

        texts = drop_running_lines([r.text for r in readings])
        texts = [text if text.strip() else r.text for text, r in zip(texts, readings, strict=True)]
        typical = typical_length([line.strip() for text in texts for line in text.splitlines()])
        blocks: list[Block] = []
        pages: list[PageQuality] = []
        empty: dict[str, list[int]] = {}
        for number, (reading, text) in enumerate(zip(readings, texts, strict=True), start=1):
            found = attach_regions(page_blocks(text, number, typical, cells=bool(reading.lines)), reading.lines)
            if found:
                blocks.extend(found)
                page_text = "\n".join(b.text for b in found)
                chars = sum(1 for c in page_text if not c.isspace())
                confidence = reading.ocr_confidence
                pages.append(
                    PageQuality(
                        number,
                        reading.reader,
                        chars,
                        count_words(page_text),
                        reading.fallback,
                        ocr_confidence=confidence,
                    )
                )
                if confidence is not None and confidence < LOW_CONFIDENCE:
                    warnings.append(
                        f"page {number}: read by OCR with low confidence ({confidence:.0%}); check its text"
                    )
                continue
            error = "; ".join(reading.errors) or None
            why = "error" if error else primary.why_no_text(number - 1) or "no_text_layer"
            note = reading.ocr_note if why in NEEDS_OCR else None
            page = PageQuality(number, None, 0, 0, reading.fallback, skipped=why, error=error, ocr_note=note)
            empty.setdefault(page.reason or why, []).append(number)
            pages.append(page)
        for reason, numbers in empty.items():
            warnings.append(f"{_page_ranges(numbers)}: no text, {reason}")
        if not blocks and any(p.skipped in NEEDS_OCR for p in pages):
            warnings.append(
                f"none of its {count} page(s) has text, so it is listed but none of it can be found by search"
            )

        meta = primary.metadata()
        metadata: dict[str, Any] = {"pages": count}
        for key in ("author", "subject", "creator", "producer", "created"):
            if meta.get(key):
                metadata[key] = meta[key]
        metadata[QUALITY_KEY] = ParseQuality.of_pages(self.name, pages, warnings).to_dict()
        first_text = blocks[0].text if blocks else ""
        title = _title(meta.get("title"), first_text) or PurePath(path).stem
        return ParsedDocument(blocks=tuple(blocks), title=title, metadata=metadata, warnings=tuple(warnings))
