"""Markdown (markdown-it-py for structure, python-frontmatter for YAML/TOML front matter).

Front matter becomes the document's metadata and is left out of the text. Headings build the
heading path of the paragraphs, lists and code below them; each section's text is its Markdown
source (bullets and code fences kept, raw HTML reduced to its text). Pipe tables become table
blocks. The title is the front matter's ``title``, else the first level-1 heading, else the stem.

Site generators' template tags are removed before parsing (:func:`strip_template_tags`): Jekyll /
Liquid ``{% … %}`` and ``{{ … }}``, Hugo shortcodes ``{{< … >}}`` and ``{{% … %}}``. A tag used as
a link target gives its first quoted argument (``[travel]({% page "/travel/" %})`` becomes
``[travel](/travel/)``), an inline tag with a quoted argument leaves the argument (``{% slack_channel
"parents" %}`` reads "parents"), comments go with their contents, and fenced code is left as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.spreadsheet import table_blocks
from docket.ingest.parsers.text import decode_text
from docket.types import Block, ParsedDocument

__all__ = ["MarkdownParser", "jsonable", "strip_template_tags"]

_COMMENT = re.compile(r"\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\}", re.S)
_TAG = re.compile(r"\{%-?(?P<l>.*?)-?%\}|\{\{<(?P<h>.*?)>\}\}|\{\{%(?P<p>.*?)%\}\}|\{\{-?(?P<o>.*?)-?\}\}", re.S)
_ARGUMENT = re.compile(r"^\s*/?[\w.-]+\s+[\"'](?P<arg>[^\"']*)[\"']")  # tag name, then a quoted argument
_LINK_TARGET = re.compile(r"\]\(\s*$")
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}", re.S)
_RAW_MARK = re.compile(r"\{%-?\s*(?:end)?raw\s*-?%\}")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


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


def _replace_tag(match: re.Match[str], before: str) -> str:
    inner = match.group("l") or match.group("h") or match.group("p") or ""
    if match.group("o") is not None:  # a Liquid output {{ variable }}: nothing to read
        return ""
    argument = _ARGUMENT.match(inner)
    if argument is None:  # a block tag ({% alert %}, {% endif %}, {{< /note >}}) or one without a quoted argument
        return ""
    return argument.group("arg") if _LINK_TARGET.search(before) or inner.strip().split()[0] not in _BLOCKS else ""


_BLOCKS = frozenset({"if", "elsif", "unless", "for", "case", "when", "include", "assign", "capture", "highlight"})


def strip_template_tags(body: str) -> str:
    """``body`` without site-generator template tags (module docstring). Fenced code is left as it
    is, and so is what ``{% raw %}`` wraps (a page that documents the tags shows them), without
    the ``raw`` markers themselves."""
    if "{%" not in body and "{{" not in body:
        return body
    out: list[str] = []
    prose: list[str] = []
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            if not fenced:
                out.append(_strip_prose("\n".join(prose)))
                prose = []
            fenced = not fenced
            out.append(line)
        elif fenced:  # code as written, but for {% raw %} markers (the site never shows them)
            out.append(_RAW_MARK.sub("", line))
        else:
            prose.append(line)
    if prose:
        out.append(_strip_prose("\n".join(prose)))
    return "\n".join(out)


def _strip_prose(text: str) -> str:
    """Tags out of Markdown outside code fences; a tag may run over several lines."""
    kept: list[str] = []

    def hold(match: re.Match[str]) -> str:
        kept.append(match.group(1))
        return f"\x00{len(kept) - 1}\x00"

    text = _COMMENT.sub("", _RAW.sub(hold, text))
    pieces: list[str] = []
    last = 0
    for match in _TAG.finditer(text):
        if _in_code_span(text, match.start()):
            continue
        pieces.append(text[last : match.start()])
        pieces.append(_replace_tag(match, text[: match.start()]))
        last = match.end()
    pieces.append(text[last:])
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], "".join(pieces))


def _in_code_span(text: str, at: int) -> bool:
    """Whether position ``at`` of ``text`` is inside an inline code span (`` `{{ like this }}` ``)."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return any(m.start() < at - line_start < m.end() for m in _CODE_SPAN.finditer(line))


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
        body = strip_template_tags(body)
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
        if not blocks and headings:  # a file of headings only: they are its text
            blocks.append(Block(text="\n".join(h for _, h in headings), heading_path=here()))
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
