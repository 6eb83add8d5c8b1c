"""PowerPoint presentations (python-pptx): one text block per slide, plus its tables and notes.

The slide title is the heading path of everything on the slide. Shapes are read top to bottom,
left to right, entering groups at any depth; tables become table blocks; chart titles are kept.
Speaker notes become a block under ``(title, "Notes")``. A slide whose shapes hold no text or table
but pictures (a scanned page pasted in) has its pictures read by OCR
(:func:`~docket.ingest.parsers.ocr_text.read_embedded_pictures`), with a warning saying so. A
slide that cannot be read is skipped with a warning; a file python-pptx cannot open at all is
refused with a ParseError.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.limits import current_limits
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.ocr_text import read_embedded_pictures
from docket.ingest.parsers.spreadsheet import table_blocks
from docket.types import Block, ParsedDocument

__all__ = ["PptxParser"]

_PLACEHOLDER_TITLES = {"powerpoint presentation", "presentation", "slide 1", "title slide", "untitled"}


def _clean(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\v", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _ordered(shapes: Iterable[Any]) -> list[Any]:
    """Shapes in reading order: top to bottom, then left to right (unplaced shapes keep their order)."""
    listed = list(shapes)

    def key(item: tuple[int, Any]) -> tuple[int, int, int]:
        index, shape = item
        try:
            return (shape.top if shape.top is not None else 0, shape.left if shape.left is not None else 0, index)
        except Exception:  # placeholders whose layout lacks a position
            return (0, 0, index)

    return [shape for _, shape in sorted(enumerate(listed), key=key)]


class _SlideContent:
    """Text and tables gathered from a slide's shapes; shapes that fail to read are counted."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tables: list[list[tuple[int, list[str]]]] = []
        self.pictures: list[Any] = []  # picture shapes, read by OCR when the slide has no text
        self.failed = 0

    def add(self, shape: Any) -> None:
        try:
            self._read(shape)
        except Exception:  # one broken shape (odd XML, unknown graphic frame) must not lose the slide
            self.failed += 1

    def _read(self, shape: Any) -> None:
        from pptx.enum.shapes import MSO_SHAPE_TYPE

        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            for child in _ordered(shape.shapes):
                self.add(child)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [
                (number, [_clean(cell.text).replace("\n", " ") for cell in row.cells])
                for number, row in enumerate(shape.table.rows, start=1)
            ]
            self.tables.append(rows)
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            chart = shape.chart
            if chart.has_title and chart.chart_title.has_text_frame:
                title = _clean(chart.chart_title.text_frame.text)
                if title:
                    self.texts.append(f"Chart: {title}")
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = _clean(shape.text_frame.text)
            if text:
                self.texts.append(text)
        elif shape.shape_type == MSO_SHAPE_TYPE.PICTURE or hasattr(shape, "image"):
            self.pictures.append(shape)

    def picture_blobs(self) -> Iterator[bytes]:
        for shape in self.pictures:
            try:
                yield shape.image.blob
            except Exception:  # a linked picture, a placeholder without one
                continue


def _slide_blocks(slide: Any, number: int) -> tuple[list[Block], str | None, int, str | None]:
    title_shape = slide.shapes.title
    title_text = _clean(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
    title = title_text.split("\n")[0][:200] if title_text else None
    path = (title,) if title else ()

    content = _SlideContent()
    for shape in _ordered(slide.shapes):
        content.add(shape)
    blocks: list[Block] = []
    ocr_note: str | None = None
    if not content.texts and not content.tables and content.pictures:  # a scanned page pasted in
        text, ocr_note = read_embedded_pictures(content.picture_blobs())
        if text:
            content.texts.append(text)
    if content.texts:
        blocks.append(Block(text="\n\n".join(content.texts), heading_path=path, slide=number))
    for rows in content.tables:
        blocks.extend(table_blocks(rows, heading_path=path, slide=number))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = _clean(frame.text) if frame is not None else ""
        if notes:
            blocks.append(Block(text=notes, heading_path=(*path, "Notes"), slide=number))
    return blocks, title, content.failed, ocr_note


@PARSERS.register("pptx")
class PptxParser:
    name: str = "pptx"
    extensions: tuple[str, ...] = (".pptx",)

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        import pptx

        try:
            presentation = pptx.Presentation(io.BytesIO(data))
            slides = list(presentation.slides)
        except Exception as exc:  # BadZipFile, KeyError for missing parts, XML syntax errors...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ParseError(f"not a readable PowerPoint (.pptx) file: {reason[:150]}") from exc
        max_pages = current_limits().max_pages
        if len(slides) > max_pages:
            raise ParseError(
                f"too many slides ({len(slides):,} > the {max_pages:,} page limit); raise ingest.max_pages to index it"
            )

        blocks: list[Block] = []
        warnings: list[str] = []
        first_title: str | None = None
        for number, slide in enumerate(slides, start=1):
            try:
                found, title, failed, ocr_note = _slide_blocks(slide, number)
            except Exception as exc:  # one malformed slide must not lose the others
                warnings.append(f"slide {number} could not be read ({type(exc).__name__}: {str(exc)[:100]})")
                continue
            if failed:
                warnings.append(f"slide {number}: {failed} shape(s) could not be read")
            if not found:
                why = f"; {ocr_note}" if ocr_note else ""
                warnings.append(f"slide {number} has no text (pictures only?{why})")
            elif ocr_note:
                warnings.append(f"slide {number}: {ocr_note}")
            first_title = first_title or title
            blocks.extend(found)

        metadata: dict[str, Any] = {"slides": len(slides)}
        title = ""
        try:
            props = presentation.core_properties
            title = (props.title or "").strip()
            if props.author:
                metadata["author"] = props.author
            if props.modified is not None:
                metadata["modified"] = props.modified.isoformat()
        except Exception:  # an unreadable core-properties part
            warnings.append("the document properties could not be read")
        if title.lower() in _PLACEHOLDER_TITLES:
            title = ""
        return ParsedDocument(
            blocks=tuple(blocks),
            title=title or first_title or PurePath(path).stem,
            metadata=metadata,
            warnings=tuple(warnings),
        )
