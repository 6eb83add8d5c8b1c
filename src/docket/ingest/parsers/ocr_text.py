"""OCR for the parsers: one picture of a page read into text, and what to record about it.

:func:`needs_ocr` is the routing rule for a PDF page: its text layer is kept when it passes
:func:`~docket.ingest.quality.check_text`, and the page is read by OCR when that text is absent,
garbled (replacement characters, symbols rather than words, words run together) or too short on a
page that shows an image or drawing besides (a scan with a stamped page number). Blank pages are
not read. :func:`read_picture` runs the engine the parse limits name
(:class:`~docket.ingest.limits.ParseLimits`: ``ocr``, ``ocr_engine``, ``ocr_languages``) and never
raises: an engine that is off, missing or failing gives no text and a note saying why, which goes
into the page's quality record and the file's warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docket.errors import MissingExtraError
from docket.ingest.limits import current_limits, extend_deadline
from docket.ingest.ocr import OcrError, ocr_engine, read_image
from docket.ingest.quality import TextCheck

__all__ = ["OcrReading", "needs_ocr", "read_picture"]

OCR_OFF = "OCR is off (ingest.ocr = false)"  # notes of pages OCR did not try begin as quality.OCR_NOT_RUN


@dataclass(frozen=True)
class OcrReading:
    """What OCR read on one picture: its text (empty when nothing), the engine, its confidence
    (0-1, None when nothing was read), and why nothing was read."""

    text: str
    engine: str
    confidence: float | None = None
    note: str | None = None


def needs_ocr(check: TextCheck, drawn: str | None) -> bool:
    """Whether a PDF page whose text layer got ``check`` is read by OCR. ``drawn`` is what the page
    shows besides text, where the reader can tell (``blank``, ``image``, ``drawing``, ``unmapped``:
    text objects only; None: unknown)."""
    if check.problem is None or drawn == "blank":
        return False
    if check.problem == "little text":  # a short page is a scan only if something else is drawn on it
        return drawn in ("image", "drawing")
    return True  # no text, garbled, symbols rather than words, words run together


def read_picture(image: Any) -> OcrReading:
    """OCR one picture (a Pillow image) with the engine of the parse limits in force."""
    limits = current_limits()
    if not limits.ocr:
        return OcrReading("", limits.ocr_engine, note=OCR_OFF)
    try:
        engine = ocr_engine(limits.ocr_engine, limits.ocr_languages)
    except MissingExtraError as exc:
        return OcrReading("", limits.ocr_engine, note=f"not read by OCR: {exc}")
    extend_deadline(limits.ocr_page_seconds)
    try:
        page = read_image(image, engine)
    except OcrError as exc:
        return OcrReading("", engine.name, note=f"OCR failed: {exc}")
    if not page.text.strip():
        return OcrReading("", engine.name, note=f"{engine.name} found no text on it")
    return OcrReading(page.text, engine.name, page.confidence)
