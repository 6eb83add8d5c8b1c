"""Images (PNG, JPEG, TIFF, BMP, GIF, WebP): photographed or scanned pages, read by OCR.

Each frame of the file is a page (a multi-page TIFF from a scanner or a fax has several; the others
have one), turned upright by its EXIF orientation and read by the OCR engine of the parse limits
(:func:`docket.ingest.parsers.ocr_text.read_picture`). The text becomes blocks as a PDF page's
does (paragraphs, and tables where rows of figures line up); pages of a multi-page file carry their
number, so a citation says "p. N", and their running headers and footers are dropped. The quality
record has one entry per page with the engine and its confidence.

An image OCR cannot read (OCR off, the engine not installed, no text found) is refused with the
reason, which names what to install when the engine is missing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.page_edges import drop_running_lines
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.ocr_text import picture_frames, read_picture
from docket.ingest.parsers.pdf import LOW_CONFIDENCE, page_blocks, typical_length
from docket.ingest.quality import QUALITY_KEY, PageQuality, ParseQuality, count_words
from docket.ingest.regions import attach_regions
from docket.types import Block, ParsedDocument

__all__ = ["ImageParser"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


@PARSERS.register("image")
class ImageParser:
    name: str = "image"
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        count, frames = picture_frames(data)
        many = count > 1
        readings = []
        for frame in frames:
            readings.append(read_picture(frame))
            frame.close()
        if not any(r.text for r in readings):
            notes = sorted({r.note for r in readings if r.note}) or ["OCR read nothing"]
            raise ParseError(f"no text read from the image: {'; '.join(notes)}"[:400])
        texts = drop_running_lines([r.text for r in readings]) if many else [r.text for r in readings]
        typical = typical_length([line.strip() for text in texts for line in text.splitlines()])
        blocks: list[Block] = []
        pages: list[PageQuality] = []
        warnings_: list[str] = []
        for number, (reading, text) in enumerate(zip(readings, texts, strict=True), start=1):
            found = attach_regions(page_blocks(text, number, typical, cells=True), reading.lines)
            if not many:
                found = [replace(b, page=None) for b in found]
            blocks.extend(found)
            page_text = "\n".join(b.text for b in found)
            chars = sum(1 for c in page_text if not c.isspace())
            if not found:
                pages.append(PageQuality(number, None, 0, 0, skipped="image", ocr_note=reading.note))
                warnings_.append(f"page {number}: no text ({reading.note})")
                continue
            pages.append(
                PageQuality(number, reading.engine, chars, count_words(page_text), ocr_confidence=reading.confidence)
            )
            if reading.confidence is not None and reading.confidence < LOW_CONFIDENCE:
                where = f"page {number}" if many else "the image"
                warnings_.append(f"{where}: read by OCR with low confidence ({reading.confidence:.0%}); check its text")
        metadata: dict[str, Any] = {"pages": count} if many else {}
        metadata[QUALITY_KEY] = ParseQuality.of_pages(self.name, pages, warnings_).to_dict()
        return ParsedDocument(
            blocks=tuple(blocks), title=PurePath(path).stem, metadata=metadata, warnings=tuple(warnings_)
        )
