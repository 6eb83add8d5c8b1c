"""How well a file's text was read: one parse-quality record per file, kept with the document.

Every parsed file gets a :class:`ParseQuality`: the format parser, the characters and words of its
text and the warnings the parser gave. A PDF (and an image file) adds a :class:`PageQuality` per
page: which reader's text was kept (``pypdfium2``, ``pypdf``, or the OCR engine, ``tesseract``),
its characters and words, why a second reader was tried (``fallback``), the OCR engine's
confidence (0-1, averaged over characters) where OCR read it, and, for a page without text, why
(``skipped``, a code of :data:`SKIP_REASONS`; :data:`NEEDS_OCR` are the codes of pages OCR reads)
and why OCR did not read it either (``ocr_note``). The record travels in
``ParsedDocument.metadata["quality"]`` and is stored with the document as JSON under the same key
of ``Document.metadata``, so no store needs a new column.

The stored form is versioned (``"version": 1``); fields were added since (``ocr_confidence``,
``ocr_note``, ``ocr_pages``) and :meth:`ParseQuality.from_dict` ignores fields it does not know.

:func:`check_text` is the test a page's text must pass to be kept without a second opinion: enough
characters, few replacement or private-use characters, letters that form words, and words that
are not run together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docket.types import Document

__all__ = [
    "NEEDS_OCR",
    "OCR_NOT_RUN",
    "QUALITY_KEY",
    "QUALITY_VERSION",
    "SKIP_REASONS",
    "PageQuality",
    "ParseQuality",
    "TextCheck",
    "awaits_ocr",
    "check_text",
    "count_words",
    "page_counts",
    "source_summaries",
    "source_summary",
    "summary_of",
    "unread_scan",
]

QUALITY_KEY = "quality"
QUALITY_VERSION = 1

_WORD = re.compile(r"\w+")
_LATIN_RUN = re.compile(r"[A-Za-z]+")
_CID = re.compile(r"\(cid:\d+\)")  # what some readers print for a glyph they cannot map to a character
_UNMAPPED = re.compile(r"[\ufffd\ue000-\uf8ff]|[\x00-\x08\x0b\x0c\x0e-\x1f]")
_LEADERS = re.compile(r"([.\-_=*~·…])\1{2,}")  # dot leaders of a table of contents, rules of underscores

# A page below this many characters is checked with the other reader too ("little text").
MIN_CHARS = 20
# Share of characters that are replacement, private-use or control characters above which text is garbled.
MAX_UNMAPPED = 0.05
# Share of Latin letters standing in "words" this long, above which the words are taken as run together.
LONG_WORD = 25
MAX_RUN_TOGETHER = 0.15
# Share of non-space characters that are letters or digits below which the text is symbols, not words.
MIN_WORD_CHARS = 0.4


# Why a page has no text: a stable code (what programs, such as a later OCR step, look at) and the
# words shown to people.
SKIP_REASONS = {
    "blank": "blank page",
    "image": "image only (scanned?)",
    "drawing": "drawings only (text turned into outlines?)",
    "unmapped": "its text could not be read (fonts without a character mapping?)",
    "no_text_layer": "no text layer (scanned?)",
    "error": "its text could not be extracted",
}
# Pages that show something a person could read but that has no text: what OCR would read.
NEEDS_OCR = frozenset({"image", "drawing", "unmapped", "no_text_layer"})


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


@dataclass(frozen=True)
class TextCheck:
    """What :func:`check_text` found: the counts, and the problem that calls for another reader."""

    chars: int
    words: int
    problem: str | None = None
    badness: float = 0.0  # 0 for clean text; the share of unmapped or run-together text otherwise

    def better_than(self, other: TextCheck) -> bool:
        """Whether this reading should replace ``other``: free of problems where the other is not,
        else less garbled, else longer."""
        return (self.problem is None, -round(self.badness, 3), self.chars) > (
            other.problem is None,
            -round(other.badness, 3),
            other.chars,
        )


def check_text(text: str) -> TextCheck:
    """Counts and the first problem of one page's text (None when it can be kept as it is)."""
    chars = sum(1 for c in text if not c.isspace())
    words = count_words(text)
    if chars == 0:
        return TextCheck(0, 0, "no text", 1.0)
    unmapped = (len(_UNMAPPED.findall(text)) + 6 * len(_CID.findall(text))) / chars
    letters = sum(len(w) for w in _LATIN_RUN.findall(text))
    long_letters = sum(len(w) for w in _LATIN_RUN.findall(text) if len(w) >= LONG_WORD)
    run_together = long_letters / letters if letters else 0.0
    badness = min(1.0, unmapped + run_together)
    if unmapped > MAX_UNMAPPED:
        return TextCheck(chars, words, f"garbled: {unmapped:.0%} unmapped characters", badness)
    if chars < MIN_CHARS:
        return TextCheck(chars, words, "little text", badness)
    word_chars = sum(1 for c in text if c.isalnum())
    other_chars = sum(1 for c in _LEADERS.sub("", text) if not c.isspace() and not c.isalnum())
    if other_chars and word_chars / (word_chars + other_chars) < MIN_WORD_CHARS:
        symbols = other_chars / (word_chars + other_chars)
        return TextCheck(chars, words, "garbled: symbols rather than words", max(badness, symbols))
    if letters >= 200 and run_together > MAX_RUN_TOGETHER:
        return TextCheck(chars, words, "words run together", badness)
    return TextCheck(chars, words, None, badness)


@dataclass(frozen=True)
class PageQuality:
    """One page as read: the reader whose text was kept (None when the page has no text)."""

    page: int
    reader: str | None
    chars: int
    words: int
    fallback: str | None = None  # why another reader was tried, e.g. "pypdfium2: words run together"
    skipped: str | None = None  # why the page has no text: a key of SKIP_REASONS
    error: str | None = None  # what the readers said when they failed on the page
    ocr_confidence: float | None = None  # where OCR read the page: the engine's confidence, 0-1
    ocr_note: str | None = None  # why OCR did not read a page that needed it (off, not installed, failed)

    @property
    def ocr(self) -> bool:
        """Whether the page's text came from OCR."""
        return self.ocr_confidence is not None

    @property
    def has_text(self) -> bool:
        return self.chars > 0

    @property
    def reason(self) -> str | None:
        """Why the page has no text, in words."""
        if self.skipped is None:
            return None
        words = SKIP_REASONS.get(self.skipped, self.skipped)
        words = f"{words} ({self.error})" if self.error else words
        return f"{words}; {self.ocr_note}" if self.ocr_note else words

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "page": self.page,
            "reader": self.reader,
            "chars": self.chars,
            "words": self.words,
            "has_text": self.has_text,
        }
        if self.fallback:
            out["fallback"] = self.fallback
        if self.skipped:
            out["skipped"] = self.skipped
            out["reason"] = self.reason
        if self.error:
            out["error"] = self.error
        if self.ocr_confidence is not None:
            out["ocr_confidence"] = self.ocr_confidence
        if self.ocr_note:
            out["ocr_note"] = self.ocr_note
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PageQuality:
        return cls(
            page=int(data["page"]),
            reader=data.get("reader"),
            chars=int(data.get("chars", 0)),
            words=int(data.get("words", 0)),
            fallback=data.get("fallback"),
            skipped=data.get("skipped"),
            error=data.get("error"),
            ocr_confidence=data.get("ocr_confidence"),
            ocr_note=data.get("ocr_note"),
        )


@dataclass(frozen=True)
class ParseQuality:
    """The parse-quality record of one file (see the module docstring)."""

    parser: str
    chars: int
    words: int
    warnings: tuple[str, ...] = ()
    pages: tuple[PageQuality, ...] = ()  # PDFs: one per page, in order
    page_count: int | None = None  # pages or slides of the file, where it has them
    readers: Mapping[str, int] = field(default_factory=dict)  # reader -> pages whose text it gave

    @classmethod
    def of_text(
        cls, parser: str, text: str, warnings: Sequence[str] = (), page_count: int | None = None
    ) -> ParseQuality:
        """The summary record of a format without per-page detail."""
        chars = sum(1 for c in text if not c.isspace())
        return cls(parser, chars, count_words(text), tuple(warnings), page_count=page_count)

    @classmethod
    def of_pages(cls, parser: str, pages: Sequence[PageQuality], warnings: Sequence[str] = ()) -> ParseQuality:
        readers: dict[str, int] = {}
        for page in pages:
            if page.reader is not None:
                readers[page.reader] = readers.get(page.reader, 0) + 1
        return cls(
            parser,
            sum(p.chars for p in pages),
            sum(p.words for p in pages),
            tuple(warnings),
            tuple(pages),
            len(pages),
            readers,
        )

    @property
    def pages_without_text(self) -> tuple[int, ...]:
        return tuple(p.page for p in self.pages if not p.has_text)

    @property
    def rechecked_pages(self) -> tuple[int, ...]:
        """Pages a second reader was tried on (whichever reading was kept)."""
        return tuple(p.page for p in self.pages if p.fallback)

    @property
    def ocr_pages(self) -> tuple[int, ...]:
        """Pages whose text came from OCR."""
        return tuple(p.page for p in self.pages if p.ocr)

    @property
    def ocr_confidence(self) -> float | None:
        """The OCR engine's confidence over the pages it read, weighted by their characters."""
        read = [p for p in self.pages if p.ocr_confidence is not None]
        chars = sum(p.chars for p in read)
        if not read:
            return None
        if not chars:
            return round(sum(p.ocr_confidence or 0.0 for p in read) / len(read), 3)
        return round(sum(p.chars * (p.ocr_confidence or 0.0) for p in read) / chars, 3)

    @property
    def chars_per_page(self) -> float | None:
        return round(self.chars / self.page_count, 1) if self.page_count else None

    def summary(self) -> dict[str, Any]:
        """The per-file summary, without the per-page list: what a listing shows."""
        out: dict[str, Any] = {
            "version": QUALITY_VERSION,
            "parser": self.parser,
            "chars": self.chars,
            "words": self.words,
        }
        if self.page_count is not None:
            out["pages"] = self.page_count
            out["chars_per_page"] = self.chars_per_page
        if self.pages:
            out["pages_with_text"] = len(self.pages) - len(self.pages_without_text)
            out["pages_without_text"] = list(self.pages_without_text)
            out["rechecked_pages"] = list(self.rechecked_pages)
            out["ocr_pages"] = list(self.ocr_pages)
            if self.ocr_confidence is not None:
                out["ocr_confidence"] = self.ocr_confidence
            out["readers"] = dict(self.readers)
        out["warnings"] = list(self.warnings)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The stored form: the summary plus one entry per page (PDFs)."""
        out = self.summary()
        if self.pages:
            out["page_details"] = [p.to_dict() for p in self.pages]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParseQuality:
        pages = tuple(PageQuality.from_dict(p) for p in data.get("page_details") or ())
        return cls(
            parser=str(data.get("parser", "")),
            chars=int(data.get("chars", 0)),
            words=int(data.get("words", 0)),
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
            pages=pages,
            page_count=data.get("pages"),
            readers={str(k): int(v) for k, v in (data.get("readers") or {}).items()},
        )


def awaits_ocr(stored: Mapping[str, Any] | None) -> bool:
    """Whether a stored record is of a file without text whose pages show something OCR could read
    (a scan): such a file is kept as a document, listed with its record, instead of failing."""
    if not isinstance(stored, Mapping):
        return False
    pages = stored.get("page_details") or []
    return (
        bool(pages) and not any(p.get("has_text") for p in pages) and any(p.get("skipped") in NEEDS_OCR for p in pages)
    )


# How the notes of pages OCR did not even try begin (ingest.ocr off, the engine not installed).
OCR_NOT_RUN = ("OCR is off", "not read by OCR")


def unread_scan(stored: Mapping[str, Any] | None) -> bool:
    """Whether a stored record is of a scan kept without text because OCR did not run (it was off,
    not installed, or the file was indexed before Docket had OCR): a sync reads such a file again
    once OCR can run, though the file has not changed."""
    if not awaits_ocr(stored):
        return False
    pages = (stored or {}).get("page_details") or []
    return any(
        p.get("skipped") in NEEDS_OCR and str(p.get("ocr_note") or OCR_NOT_RUN[0]).startswith(OCR_NOT_RUN)
        for p in pages
    )


def page_counts(stored: Mapping[str, Any] | None) -> tuple[int, int]:
    """(pages read by OCR, pages that show something but gave no text) of a stored record, for the
    summary after an ingest."""
    if not isinstance(stored, Mapping):
        return 0, 0
    pages = stored.get("page_details") or []
    ocr = sum(1 for p in pages if p.get("ocr_confidence") is not None)
    unreadable = sum(1 for p in pages if not p.get("has_text") and p.get("skipped") in NEEDS_OCR)
    return ocr, unreadable


def summary_of(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The per-file summary of a stored record (``Document.metadata``), or None when the document
    was indexed before records were kept."""
    stored = metadata.get(QUALITY_KEY)
    if not isinstance(stored, Mapping):
        return None
    return {k: v for k, v in stored.items() if k != "page_details"}


def source_summary(records: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Totals over the stored records of a source's files (one per file; None for a file indexed
    before records were kept): files per parser, pages, pages read by OCR and the engine's
    confidence over them (weighted by characters), pages without text per reason, and the files
    with warnings."""
    out: dict[str, Any] = {"files": 0, "not_recorded": 0, "parsers": {}, "pages": 0, "pages_ocr": 0}
    without: dict[str, int] = {}
    ocr_chars = 0
    weighted = 0.0
    warned = 0
    for stored in records:
        out["files"] += 1
        if not isinstance(stored, Mapping):
            out["not_recorded"] += 1
            continue
        parser = str(stored.get("parser") or "")
        out["parsers"][parser] = out["parsers"].get(parser, 0) + 1
        warned += bool(stored.get("warnings"))
        pages = stored.get("page_details") or []
        out["pages"] += len(pages)
        for page in pages:
            if page.get("ocr_confidence") is not None:
                out["pages_ocr"] += 1
                chars = max(int(page.get("chars") or 0), 1)
                ocr_chars += chars
                weighted += chars * float(page["ocr_confidence"])
            elif not page.get("has_text"):
                reason = str(page.get("skipped") or "no_text_layer")
                without[reason] = without.get(reason, 0) + 1
    out["ocr_confidence"] = round(weighted / ocr_chars, 3) if ocr_chars else None
    out["pages_without_text"] = dict(sorted(without.items()))
    out["files_with_warnings"] = warned
    return out


def source_summaries(docs: Iterable[Document]) -> dict[str, dict[str, Any]]:
    """:func:`source_summary` of each source, over the stored records of ``docs`` (their metadata
    only, never their text), in one pass; sources in the order their documents first come."""
    by_source: dict[str, list[Mapping[str, Any] | None]] = {}
    for doc in docs:
        stored = doc.metadata.get(QUALITY_KEY)
        by_source.setdefault(doc.source, []).append(stored if isinstance(stored, Mapping) else None)
    return {name: source_summary(records) for name, records in by_source.items()}
