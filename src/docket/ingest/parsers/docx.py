"""Word documents (python-docx): the body in document order, by heading.

Paragraphs styled ``Title`` or ``Heading N`` (or a style based on one) build the heading path of the
paragraphs that follow; list paragraphs keep a bullet; text boxes are read with the paragraph that
anchors them; content controls are entered. Tables become table blocks with their first row as the
header (merged cells read once; nested tables flattened into their cell). Page headers, footers
and comments are left out. The title is the core ``title`` property, else the first title or
heading paragraph, else the file stem. A document with no text but pictures (scanned pages pasted
in) has its pictures read by OCR, in document order
(:func:`~docket.ingest.parsers.ocr_text.read_embedded_pictures`), with a warning saying so.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.ocr_text import read_embedded_pictures
from docket.ingest.parsers.spreadsheet import table_blocks
from docket.types import Block, ParsedDocument

__all__ = ["DocxParser"]

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)
_PLACEHOLDER_TITLES = {"word document", "document", "untitled", "title"}


class _Styles:
    """Heading level and list-ness of paragraph styles, looked up once per style id
    (python-docx searches the whole styles part on every ``paragraph.style``)."""

    def __init__(self) -> None:
        self._cache: dict[str | None, tuple[int | None, bool]] = {}

    def info(self, paragraph: Any) -> tuple[int | None, bool]:
        """``(heading level, is a list style)``; level 0 is the Title style."""
        style_id = paragraph._p.style
        if style_id not in self._cache:
            self._cache[style_id] = self._lookup(paragraph)
        return self._cache[style_id]

    @staticmethod
    def _lookup(paragraph: Any) -> tuple[int | None, bool]:
        try:
            style = paragraph.style
        except Exception:  # a style id the styles part does not define
            return None, False
        is_list = (getattr(style, "name", "") or "").lower().startswith("list")
        for _ in range(4):  # a custom style based on a heading style is a heading too
            if style is None:
                break
            name = (style.name or "").strip()
            if name.lower() == "title":
                return 0, is_list
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1)), is_list
            style = style.base_style
        return None, is_list


def _numbered(paragraph: Any) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _body_items(element: Any, parent: Any) -> Iterator[Any]:
    """Paragraphs and tables of a body or cell in document order, entering content controls."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in element.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent)
        elif child.tag == qn("w:tbl"):
            yield Table(child, parent)
        elif child.tag in (qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")):
            yield from _body_items(child, parent)


def _paragraph_text(paragraph: Any) -> str:
    """The paragraph's runs and hyperlinks, then the text of any text box anchored in it."""
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    text = paragraph.text
    boxes: list[str] = []
    fallback = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
    for box in paragraph._p.iter(qn("w:txbxContent")):
        if any(ancestor.tag == fallback for ancestor in box.iterancestors()):
            continue  # the same box again, in the legacy VML rendering
        lines = [Paragraph(p, paragraph._parent).text for p in box.iter(qn("w:p"))]
        boxes.append("\n".join(line for line in lines if line.strip()))
    return "\n".join(part for part in [text, *boxes] if part.strip())


def _cells(row: Any) -> list[Any]:
    from docx.table import _Cell

    try:
        cells = list(row.cells)
    except (ValueError, IndexError):  # rows that skip grid columns (w:gridBefore) confuse python-docx
        cells = [_Cell(tc, row.table) for tc in row._tr.tc_lst]
    unique: list[Any] = []
    for cell in cells:
        if not unique or cell._tc is not unique[-1]._tc:  # a merged cell comes back once per column
            unique.append(cell)
    return unique


def _cell_text(cell: Any) -> str:
    from docx.table import Table

    parts: list[str] = []
    for item in _body_items(cell._tc, cell):
        if isinstance(item, Table):
            parts.extend("; ".join(_cell_text(c) for c in _cells(r)) for r in item.rows)
        else:
            parts.append(_paragraph_text(item))
    return " ".join(p for p in parts if p.strip())


def _table_rows(table: Any) -> list[tuple[int, list[str]]]:
    return [(n, [_cell_text(c) for c in _cells(row)]) for n, row in enumerate(table.rows, start=1)]


def _picture_blobs(document: Any) -> Iterator[bytes]:
    """The pictures of a document in the order they appear (inline ones), then any other."""
    from docx.oxml.ns import qn

    seen: set[str] = set()
    related = document.part.related_parts
    for blip in document.element.body.iter(qn("a:blip")):
        rid = blip.get(qn("r:embed"))
        if rid and rid not in seen and rid in related:
            seen.add(rid)
            blob = getattr(related[rid], "blob", None)
            if blob:
                yield blob


@PARSERS.register("docx")
class DocxParser:
    name: str = "docx"
    extensions: tuple[str, ...] = (".docx",)

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        import docx
        from docx.table import Table

        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:  # BadZipFile, KeyError for missing parts, ValueError for .docm...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ParseError(f"not a readable Word (.docx) document: {reason[:150]}") from exc

        styles = _Styles()
        blocks: list[Block] = []
        headings: list[tuple[int, str]] = []
        section: list[tuple[str, bool]] = []
        first_heading: str | None = None

        def flush() -> None:
            if section:
                text = section[0][0]
                for (line, is_item), (_, was_item) in zip(section[1:], section[:-1], strict=True):
                    text += ("\n" if is_item and was_item else "\n\n") + line
                blocks.append(Block(text=text, heading_path=tuple(h for _, h in headings)))
                section.clear()

        for item in _body_items(document.element.body, document):
            if isinstance(item, Table):
                flush()
                blocks.extend(table_blocks(_table_rows(item), heading_path=tuple(h for _, h in headings)))
                continue
            text = _paragraph_text(item).strip()
            if not text:
                continue
            level, list_style = styles.info(item)
            if level is not None:
                flush()
                heading = " ".join(text.split())
                first_heading = first_heading or heading
                while headings and headings[-1][0] >= level:
                    headings.pop()
                headings.append((level, heading))
                continue
            is_item = list_style or _numbered(item)
            section.append((f"- {text}" if is_item else text, is_item))
        flush()
        if not blocks and headings:
            blocks = [Block(text=h) for _, h in headings]
        notes: list[str] = []
        if not blocks:  # pictures only: scanned pages pasted in
            text, note = read_embedded_pictures(_picture_blobs(document))
            if text:
                blocks = [Block(text=text)]
                notes.append(f"no text but pictures: {note}")
            elif note:
                notes.append(f"no text but pictures, which OCR could not read ({note})")

        props = document.core_properties
        metadata: dict[str, Any] = {}
        for name in ("author", "subject", "keywords", "category"):
            value = (getattr(props, name, None) or "").strip()
            if value:
                metadata[name] = value
        for name in ("created", "modified"):
            stamp = getattr(props, name, None)
            if stamp is not None:
                metadata[name] = stamp.isoformat()
        title = (props.title or "").strip()
        if title.lower() in _PLACEHOLDER_TITLES:
            title = ""
        title = title or first_heading or PurePath(path).stem
        return ParsedDocument(blocks=tuple(blocks), title=title, metadata=metadata, warnings=tuple(notes))
