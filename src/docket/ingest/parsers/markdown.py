"""Markdown (markdown-it-py for structure, python-frontmatter for YAML/TOML front matter).

Front matter becomes the document's metadata and is left out of the text. Headings build the
heading path of the paragraphs, lists and code below them; each section's text is its Markdown
source (bullets and code fences kept, raw HTML reduced to its text). Pipe tables become table
blocks. The title is the front matter's ``title``, else the first level-1 heading, else the stem.
"""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.spreadsheet import table_blocks
from docket.ingest.parsers.text import decode_text
from docket.types import Block, ParsedDocument

__all__ = ["MarkdownParser", "jsonable"]


def jsonable(value: Any) -> Any:
    """Front-matter values made JSON-ready: dates as ISO text, unknown objects as text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)


def split_front_matter(text: str) -> tuple[dict[str, Any], str, list[str]]:
    """``(metadata, body, warnings)``; unreadable front matter is dropped with a warning."""
    import frontmatter

    handler = frontmatter.detect_format(text, frontmatter.handlers)
    if handler is None:
        return {}, text, []
    try:
        raw, body = handler.split(text)
    except ValueError:
        return {}, text, []
    try:
        loaded = handler.load(raw)
    except Exception as exc:  # YAML/TOML syntax errors of every kind
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {}, body, [f"front matter could not be read and was skipped: {reason[:150]}"]
    if not isinstance(loaded, dict):
        return {}, body, ["front matter is not a mapping and was skipped"]
    return jsonable(loaded), body, []


def _inline_text(token: Any) -> str:
    """Plain text of an inline token: markup dropped, image alt text and code spans kept."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _html_text(markup: str) -> str:
    from docket.ingest.parsers.html import html_document

    return html_document(markup, "").text.strip()


@PARSERS.register("markdown")
class MarkdownParser:
    name: str = "markdown"
    extensions: tuple[str, ...] = (".md", ".markdown", ".mdx")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        from markdown_it import MarkdownIt

        text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
        if "\x00" in text:
            raise ParseError("binary content: the file contains NUL bytes and is not Markdown")
        metadata, body, warnings = split_front_matter(text)
        lines = body.split("\n")
        tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(body)

        blocks: list[Block] = []
        headings: list[tuple[int, str]] = []
        section: list[str] = []
        first_h1: str | None = None

        def here() -> tuple[str, ...]:
            return tuple(h for _, h in headings)

        def flush() -> None:
            joined = "\n\n".join(s for s in section if s.strip()).strip()
            section.clear()
            if joined:
                blocks.append(Block(text=joined, heading_path=here()))

        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.level != 0 or token.nesting == -1:
                i += 1
                continue
            if token.type == "heading_open":
                flush()
                level = int(token.tag[1:])
                title = _inline_text(tokens[i + 1])
                if level == 1 and first_h1 is None and title:
                    first_h1 = title
                while headings and headings[-1][0] >= level:
                    headings.pop()
                if title:
                    headings.append((level, title))
            elif token.type == "table_open":
                flush()
                rows: list[tuple[int, list[str]]] = []
                j = i + 1
                while tokens[j].type != "table_close":
                    if tokens[j].type == "tr_open":
                        rows.append((len(rows) + 1, []))
                    elif tokens[j].type == "inline" and rows:
                        rows[-1][1].append(_inline_text(tokens[j]))
                    j += 1
                blocks.extend(table_blocks(rows, heading_path=here()))
                i = j
            elif token.type == "html_block":
                section.append(_html_text(token.content))
            elif token.type != "hr" and token.map is not None:
                start, end = token.map
                section.append("\n".join(lines[start:end]).strip("\n"))
            i += 1
        flush()
        if not blocks and metadata:
            # a stub made only of front matter (a redirect, an index page): its fields are its text
            lines = [f"{key}: {value}" for key, value in metadata.items() if isinstance(value, (str, int, float))]
            blocks.append(Block(text="\n".join(lines)))

        given = metadata.get("title")
        front_title = given.strip() if isinstance(given, str) and given.strip() else None
        return ParsedDocument(
            blocks=tuple(blocks),
            title=front_title or first_h1 or PurePath(path).stem,
            metadata=metadata,
            warnings=tuple(warnings),
        )
