"""The two libraries that read a PDF's text layer, behind one small interface.

``pypdfium2`` (PDFium, the engine of Chrome's PDF viewer; BSD-3-Clause / Apache-2.0) reads first:
on the financebench filings it is about 18 times faster than pypdf and keeps words apart where
pypdf runs them together (bench/pdf_parsers.py, bench/RESULTS.md). ``pypdf`` (BSD-3-Clause, pure Python) reads a
page again when PDFium's text of it is missing or garbled, and the whole file when PDFium cannot
open it. Each reader raises :class:`ReaderError` with a one-line reason; nothing else escapes.

PDFium is not thread-safe, so every call into it holds :data:`PDFIUM_LOCK` (parse workers are
single-threaded processes, but with ``ingest.sandbox = false`` several threads may parse at once).
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

__all__ = ["PDFIUM_LOCK", "READERS", "PasswordRequired", "PdfText", "ReaderError", "open_reader"]

PDFIUM_LOCK = threading.RLock()
MAX_RENDER_PIXELS = 40_000_000  # a Letter page at 300 dpi is 8.4 million


class ReaderError(Exception):
    """A reader could not open the file or read a page; the message is one line."""


class PasswordRequired(ReaderError):
    """The file is encrypted with a password that is not empty."""


class PdfText(Protocol):
    """One open PDF, as one reader sees it."""

    name: str

    def page_count(self) -> int: ...

    def page_text(self, index: int) -> str:
        """The text of page ``index`` (0-based); raises ReaderError."""
        ...

    def why_no_text(self, index: int) -> str | None:
        """Why a page has no text, from what is drawn on it (a code of ``quality.SKIP_REASONS``:
        blank, image, drawing, unmapped), where the reader can tell."""
        ...

    def metadata(self) -> dict[str, Any]:
        """``title``, ``author``, ``subject``, ``creator``, ``producer``, ``created`` (ISO 8601), where set."""
        ...

    def close(self) -> None: ...


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# ------------------------------------------------------------------------------------- pypdfium2
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([Zz+\-])(\d{2})?'?(\d{2})?'?)?")


def pdf_date(value: str) -> datetime | None:
    """A PDF date string (``D:20230701120000-05'00'``) as a datetime, None if it is not one."""
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    tz = None
    if sign in ("Z", "z"):
        tz = UTC
    elif sign:
        offset = timedelta(hours=int(tz_hours or 0), minutes=int(tz_minutes or 0))
        tz = timezone(offset if sign == "+" else -offset)
    try:
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


class PdfiumText:
    name = "pypdfium2"

    def __init__(self, data: bytes) -> None:
        import pypdfium2 as pdfium
        import pypdfium2.raw as raw

        self._raw = raw
        with PDFIUM_LOCK:
            try:
                self._pdf = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                if getattr(exc, "err_code", None) == raw.FPDF_ERR_PASSWORD:
                    raise PasswordRequired("a password is required to open it") from exc
                raise ReaderError(_reason(exc)) from exc

    def page_count(self) -> int:
        with PDFIUM_LOCK:
            return len(self._pdf)

    def page_text(self, index: int) -> str:
        with PDFIUM_LOCK:
            try:
                page = self._pdf[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        return str(textpage.get_text_bounded())
                    finally:
                        textpage.close()
                finally:
                    page.close()
            except Exception as exc:  # PdfiumError, or a broken page tree
                raise ReaderError(_reason(exc)) from exc

    def why_no_text(self, index: int) -> str | None:
        raw = self._raw
        with PDFIUM_LOCK:
            try:
                page = self._pdf[index]
                try:
                    kinds = {obj.type for obj in page.get_objects(max_depth=4)}
                finally:
                    page.close()
            except Exception:
                return None
        if not kinds - {raw.FPDF_PAGEOBJ_FORM}:
            return "blank"
        if raw.FPDF_PAGEOBJ_IMAGE in kinds:
            return "image"
        if raw.FPDF_PAGEOBJ_TEXT in kinds:
            return "unmapped"
        return "drawing"

    def render(self, index: int, dpi: int) -> Any:
        """Page ``index`` as a grey Pillow image at ``dpi`` (for OCR), at most :data:`MAX_RENDER_PIXELS`
        (a poster-sized page is rendered at a lower resolution); raises ReaderError."""
        with PDFIUM_LOCK:
            try:
                page = self._pdf[index]
                try:
                    width, height = page.get_size()  # in points, 1/72 inch
                    scale = min(dpi / 72, (MAX_RENDER_PIXELS / max(width * height, 1.0)) ** 0.5)
                    picture = page.render(scale=scale, grayscale=True).to_pil()
                    picture.info["dpi"] = (round(scale * 72),) * 2  # for the OCR engine
                    return picture
                finally:
                    page.close()
            except Exception as exc:  # PdfiumError, a broken page, a page too large to allocate
                raise ReaderError(_reason(exc)) from exc

    def metadata(self) -> dict[str, Any]:
        with PDFIUM_LOCK:
            try:
                info = self._pdf.get_metadata_dict(skip_empty=True)
            except Exception:  # a broken information dictionary must not lose the text
                return {}
        out: dict[str, Any] = {}
        for key in ("Title", "Author", "Subject", "Creator", "Producer"):
            value = str(info.get(key) or "").strip()
            if value:
                out[key.lower()] = value
        created = pdf_date(str(info.get("CreationDate") or ""))
        if created is not None:
            out["created"] = created.isoformat()
        return out

    def close(self) -> None:
        with PDFIUM_LOCK:
            self._pdf.close()


# ----------------------------------------------------------------------------------------- pypdf
class PypdfText:
    name = "pypdf"

    def __init__(self, data: bytes) -> None:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError

        pypdf_log = logging.getLogger("pypdf")
        if pypdf_log.level == logging.NOTSET:  # unless the application chose otherwise, hush the
            pypdf_log.setLevel(logging.ERROR)  # warnings pypdf logs for every quirk of real files
        try:
            self._reader = PdfReader(io.BytesIO(data))
            if self._reader.is_encrypted:
                try:
                    opened = self._reader.decrypt("")
                except DependencyError as exc:
                    raise ReaderError("encrypted: opening it needs the 'cryptography' package") from exc
                if not opened:
                    raise PasswordRequired("a password is required to open it")
            self._pages = list(self._reader.pages)
        except FileNotDecryptedError as exc:
            raise PasswordRequired("a password is required to open it") from exc
        except ReaderError:
            raise
        except Exception as exc:  # PdfReadError, LimitReachedError, and whatever a broken file raises
            raise ReaderError(_reason(exc)) from exc

    def page_count(self) -> int:
        return len(self._pages)

    def page_text(self, index: int) -> str:
        try:
            return self._pages[index].extract_text() or ""
        except Exception as exc:  # pypdf fails on individual broken content streams
            raise ReaderError(_reason(exc)) from exc

    def why_no_text(self, index: int) -> str | None:
        return None

    def metadata(self) -> dict[str, Any]:
        try:
            info = self._reader.metadata
        except Exception:  # a broken information dictionary must not lose the text
            return {}
        if info is None:
            return {}
        out: dict[str, Any] = {}
        for key in ("Title", "Author", "Subject", "Creator", "Producer"):
            try:
                value = info.get(f"/{key}")
            except Exception:
                value = None
            text = str(value).strip() if value is not None else ""
            if text:
                out[key.lower()] = text
        try:
            created = info.creation_date
        except Exception:  # unparsable dates
            created = None
        if created is not None:
            out["created"] = created.isoformat()
        return out

    def close(self) -> None:
        pass


READERS: dict[str, Callable[[bytes], PdfText]] = {"pypdfium2": PdfiumText, "pypdf": PypdfText}


def open_reader(name: str, data: bytes) -> PdfText:
    """Open ``data`` with reader ``name``; ReaderError (PasswordRequired) when it cannot."""
    return READERS[name](data)
