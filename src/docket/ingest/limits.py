"""Limits on what one file may make a parser do: pages, unzipped size, attachments and their nesting.

The limits in force are a context variable, so parsers (and the parsers they call for attachments)
read them with :func:`current_limits` without every ``parse`` signature carrying them; a sync sets
them from the ``ingest`` settings with :func:`applied_limits` (in the parse worker too). Each limit
that is hit becomes a :class:`~docket.errors.ParseError` (or, for one attachment, a warning) that
names the limit and the setting that raises it.

:func:`check_zip` refuses zip bombs before any parser opens the container: DOCX, XLSX and PPTX files
are zip files, and their central directory says what each member unpacks to. The declared sizes are
checked (their sum, and how far each member claims to expand); a member that lies about its size
fails its CRC check when read, and the parse worker's memory limit stops whatever gets past both.

OCR is set here too (whether it runs, the engine, its languages, the resolution pages are rendered
at), since it travels to the parse worker the same way. A parser about to OCR a page calls
:func:`extend_deadline`: in a parse worker that adds ``ocr_page_seconds`` to the file's time limit
(the sandbox grants it), so a 40-page scan is not cut off by a limit sized for text files, while a
page that hangs the engine still is.
"""

from __future__ import annotations

import contextvars
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from docket.errors import ParseError

__all__ = [
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "ParseLimits",
    "applied_limits",
    "check_zip",
    "current_limits",
    "deadline_extended_by",
    "extend_deadline",
]

# A member that unpacks to more than this many times its compressed size (and to more than
# _RATIO_FLOOR bytes) is a zip bomb: office XML compresses about 5-30x, bombs 1000x and more.
MAX_ZIP_RATIO = 200
_RATIO_FLOOR = 10 * 1024 * 1024
MAX_ZIP_MEMBERS = 20_000


@dataclass(frozen=True)
class ParseLimits:
    """What one file may make a parser do; the defaults match the ``ingest`` settings'."""

    max_pages: int = 5000
    max_unzipped_mb: float = 1024.0
    max_attachment_depth: int = 3
    max_attachments: int = 100
    ocr: bool = True  # read pages without a usable text layer, and image files, by OCR
    ocr_engine: str = "tesseract"
    ocr_languages: str = "auto"  # Tesseract codes, "+" between them (eng+deu); auto: English or as detected
    ocr_dpi: int = 300  # PDF pages are rendered at this resolution for OCR
    ocr_page_seconds: float = 60.0  # time one page's OCR may take, added to the file's limit


_DEFAULT = ParseLimits()
_current: contextvars.ContextVar[ParseLimits | None] = contextvars.ContextVar("docket_parse_limits", default=None)
_extender: contextvars.ContextVar[Callable[[float], None] | None] = contextvars.ContextVar(
    "docket_parse_deadline", default=None
)


def extend_deadline(seconds: float) -> None:
    """Ask for ``seconds`` more for the file being parsed (before slow work such as one page's OCR);
    nothing happens outside a parse worker."""
    extend = _extender.get()
    if extend is not None:
        extend(seconds)


@contextmanager
def deadline_extended_by(extend: Callable[[float], None]) -> Iterator[None]:
    """Inside the ``with`` block, :func:`extend_deadline` calls ``extend`` (the parse worker's
    message to the sandbox)."""
    token = _extender.set(extend)
    try:
        yield
    finally:
        _extender.reset(token)


def current_limits() -> ParseLimits:
    """The limits in force for the parse running now."""
    return _current.get() or _DEFAULT


@contextmanager
def applied_limits(limits: ParseLimits) -> Iterator[ParseLimits]:
    """Parse with ``limits`` inside the ``with`` block."""
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def check_zip(data: bytes, limits: ParseLimits | None = None) -> None:
    """Refuse a zip container whose members would unpack to too much (a zip bomb).

    Only the central directory is read. A file that is not a readable zip passes: the parser then
    says what is wrong with it.
    """
    limits = limits or current_limits()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError):
        return  # NotImplementedError: a member needing a zip version or compression Python cannot read
    if len(members) > MAX_ZIP_MEMBERS:
        raise ParseError(
            f"zip container with {len(members):,} members (more than {MAX_ZIP_MEMBERS:,}); refused as a likely zip bomb"
        )
    total = sum(max(m.file_size, 0) for m in members)
    limit = limits.max_unzipped_mb * 1024 * 1024
    if total > limit:
        raise ParseError(
            f"unpacks to {total / 1024 / 1024:,.0f} MB (more than the {limits.max_unzipped_mb:g} MB limit); refused "
            "as a likely zip bomb. If the file is genuine, raise ingest.max_unzipped_mb"
        )
    for member in members:
        if member.file_size > _RATIO_FLOOR and member.file_size > MAX_ZIP_RATIO * max(member.compress_size, 1):
            ratio = member.file_size / max(member.compress_size, 1)
            raise ParseError(
                f"member {member.filename[:80]} expands {ratio:,.0f}x ({member.compress_size:,} bytes to "
                f"{member.file_size / 1024 / 1024:,.0f} MB); refused as a likely zip bomb"
            )
