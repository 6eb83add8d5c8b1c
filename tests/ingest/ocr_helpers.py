"""Pictures of pages for the OCR tests: real PDF pages rendered as a scanner would give them, and
scanned PDFs made from them; the skip marker for a machine without the OCR engine."""

from __future__ import annotations

import io
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from tests.conftest import REPO

PDF_DATA = REPO / "tests" / "data" / "pdf"
PROTOCOL = PDF_DATA / "clinical-protocol-NCT06149832.pdf"  # MIT, docugami (tests/data/pdf/README.md)

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="the OCR engine is not installed here: apt install tesseract-ocr (.ci/run installs it)",
)

_WORD = re.compile(r"[^\W_]{3,}")


def text_layer(data: bytes, index: int) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return str(pdf[index].get_textpage().get_text_bounded())
    finally:
        pdf.close()


def render(data: bytes, index: int, dpi: int = 200, angle: float = 0.0) -> Any:
    """Page ``index`` of a PDF as a grey picture, turned by ``angle`` degrees like a page fed askew."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        image = pdf[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    return image.rotate(angle, expand=True, fillcolor=255) if angle else image


def image_bytes(images: Sequence[Any], fmt: str) -> bytes:
    out = io.BytesIO()
    images[0].save(out, format=fmt, save_all=len(images) > 1, append_images=list(images[1:]))
    return out.getvalue()


def scanned_pdf(images: Sequence[Any], dpi: int = 200) -> bytes:
    """A PDF of pictures only, as a scanner makes it: no text layer."""
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=list(images[1:]), resolution=dpi)
    return out.getvalue()


def typed_page(lines: Sequence[str], size: tuple[int, int] = (1700, 2200)) -> Any:
    """A page of typed text (Pillow's own font, so any machine draws the same)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).multiline_text(
        (150, 200), "\n".join(lines), font=ImageFont.load_default(size=36), fill=0, spacing=10
    )
    return image


def word_recall(ocr: str, truth: str) -> float:
    """Share of the words (3+ letters or digits) of ``truth`` found in ``ocr``."""
    want = Counter(w.lower() for w in _WORD.findall(truth))
    got = Counter(w.lower() for w in _WORD.findall(ocr))
    return sum(min(n, got[w]) for w, n in want.items()) / max(sum(want.values()), 1)
