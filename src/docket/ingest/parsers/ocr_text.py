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

import io
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from docket.errors import MissingExtraError, ParseError
from docket.ingest.limits import current_limits, extend_deadline
from docket.ingest.ocr import OcrError, ocr_engine, read_image
from docket.ingest.quality import TextCheck
from docket.ingest.regions import Box, normalised_box

__all__ = ["OcrReading", "needs_ocr", "picture_frames", "read_embedded_pictures", "read_picture"]

OCR_OFF = "OCR is off (ingest.ocr = false)"  # notes of pages OCR did not try begin as quality.OCR_NOT_RUN


@dataclass(frozen=True)
class OcrReading:
    """What OCR read on one picture: its text (empty when nothing), the engine, its confidence
    (0-1, None when nothing was read), and why nothing was read."""

    text: str
    engine: str
    confidence: float | None = None
    note: str | None = None
    # each line's text and box as fractions of the picture (left, top, right, bottom), in reading order
    lines: tuple[tuple[str, Box], ...] = ()


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
    width, height = max(image.width, 1), max(image.height, 1)
    lines = tuple((ln.text, normalised_box(ln.on_page, width, height)) for ln in page.lines if ln.text)
    return OcrReading(page.text, engine.name, page.confidence, lines=lines)


@contextmanager
def _pillow_errors() -> Iterator[None]:
    """Pillow's complaints about a picture as one-line ParseErrors (decompression bombs included)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ParseError(f"image too large to read safely ({exc})"[:300]) from exc
    except UnidentifiedImageError as exc:
        raise ParseError("not a readable image (unknown or damaged format)") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or broken files
        raise ParseError(f"not a readable image ({exc})"[:300]) from exc


def picture_frames(data: bytes) -> tuple[int, Iterator[Any]]:
    """How many pages an image file has, and the pages one at a time (a long fax in memory one
    page at a time), upright by EXIF and in grey; ParseError for what Pillow cannot open or decode."""
    from PIL import Image, ImageOps

    with _pillow_errors():
        image = Image.open(io.BytesIO(data))
        count = int(getattr(image, "n_frames", 1))
    max_pages = current_limits().max_pages
    if count > max_pages:
        raise ParseError(
            f"too many pages ({count:,} > the {max_pages:,} page limit); raise ingest.max_pages to index it"
        )

    def frames() -> Iterator[Any]:
        for index in range(count):
            with _pillow_errors():
                image.seek(index)
                frame = ImageOps.exif_transpose(image).convert("L")
            yield frame

    return count, frames()


MAX_EMBEDDED = 20  # pictures read per slide or document
MIN_SIDE = 24  # pixels: smaller pictures (bullets, icons) hold no text worth reading


def read_embedded_pictures(blobs: Iterable[bytes]) -> tuple[str, str | None]:
    """OCR the pictures embedded in a slide or a document that otherwise has no text (a scanned
    page pasted in): their text, one picture a paragraph, and a note for the warnings ("text read
    from 2 pictures by OCR (confidence 91%)", or why there is no text). Pictures Pillow cannot open
    (EMF, WMF, damaged) and tiny ones (icons, bullets) are passed over; at most
    :data:`MAX_EMBEDDED` are read."""
    texts: list[str] = []
    notes: set[str] = set()
    chars = 0
    weighted = 0.0
    for count, blob in enumerate(blobs):
        if count >= MAX_EMBEDDED:
            break
        try:
            frame = next(picture_frames(blob)[1])
        except ParseError:
            continue
        if min(frame.size) < MIN_SIDE:
            continue
        got = read_picture(frame)
        if got.text.strip():
            texts.append(got.text.strip())
            chars += len(got.text)
            weighted += len(got.text) * (got.confidence or 0.0)
        elif got.note:
            notes.add(got.note)
    if not texts:
        return "", "; ".join(sorted(notes)) or None
    pictures = f"{len(texts)} picture{'s' if len(texts) != 1 else ''}"
    return "\n\n".join(texts), f"text read from {pictures} by OCR (confidence {weighted / max(chars, 1):.0%})"
