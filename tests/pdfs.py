"""Test helper: a few pages of a real PDF, as a smaller PDF to ingest quickly."""

from __future__ import annotations

import io
from pathlib import Path


def pdf_pages(path: Path, pages: list[int]) -> bytes:
    """The PDF at ``path`` cut down to ``pages`` (0-based), in that order."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    reader = PdfReader(path)
    for page in pages:
        writer.add_page(reader.pages[page])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
