"""HTML pages (BeautifulSoup over lxml): the readable main content, by section.

The encoding comes from a byte-order mark, then the ``<meta charset>`` declaration, then UTF-8, then
detection (windows-1252 on a tie, as browsers default to it). Scripts, styles, navigation, page headers and
footers, asides, forms and hidden elements (``hidden``, ``aria-hidden``, ``display: none``, zero size or
opacity, white text without its own background) and comments are dropped; ``<main>`` (or the page's ``<article>``
elements) is preferred when present. ``h1``-``h6`` build the heading path of the text below them,
data tables become table blocks (layout tables are read as text) and ``<pre>`` keeps its layout.
:func:`html_document` is reused by the email parser for HTML bodies.
"""

from __future__ import annotations

import re
import warnings
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.spreadsheet import table_blocks
from docket.ingest.parsers.text import decode_text
from docket.types import Block, ParsedDocument

__all__ = ["HtmlParser", "decode_html", "html_document"]

_DROP_TAGS = (
    "script", "style", "nav", "footer", "aside", "noscript", "form", "template", "svg", "iframe",
    "object", "embed", "canvas", "select", "button", "map", "head",
)  # fmt: skip
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_PARAGRAPH_TAGS = {
    "p", "div", "section", "article", "main", "blockquote", "ul", "ol", "dl", "figure", "address",
    "hr", "center", "details", "table", "body", "header", "fieldset", "caption",
}  # fmt: skip
_LINE_TAGS = {"li", "dt", "dd", "tr", "figcaption", "summary", "legend", "option"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(\.0*)?\s*(;|$)|font-size\s*:\s*0(\.0*)?[a-z%]*\s*(;|$)",
    re.I,
)
# white text without a background of its own is invisible too: like hidden text, it is where attacks hide
_WHITE_TEXT = re.compile(
    r"(^|;)\s*color\s*:\s*(transparent|white|#fff(fff)?\b|rgba?\(\s*255\s*,\s*255\s*,\s*255\b)", re.I
)
_BACKGROUND = re.compile(r"background", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_WHITESPACE = re.compile(r"\s+")
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "windows-1252"}


def _invisible(style: str | None) -> bool:
    if not style:
        return False
    return _HIDDEN_STYLE.search(style) is not None or (
        _WHITE_TEXT.search(style) is not None and _BACKGROUND.search(style) is None
    )


def decode_html(data: bytes) -> str:
    """Decode an HTML file: the declared charset unless a BOM or UTF-16 says otherwise, then detection."""
    if b"\x00" not in data[:4096] and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        from bs4.dammit import EncodingDetector

        declared = EncodingDetector.find_declared_encoding(data[:8192], is_html=True, search_entire_document=False)
        label = (declared or "").lower().replace("_", "-")
        if label and not label.startswith(("utf-16", "utf-32")):
            # browsers read latin-1 and ascii labels as windows-1252 (curly quotes, euro sign)
            codec = "cp1252" if label in _WINDOWS_1252_LABELS else label
            try:
                return data.decode(codec)
            except (LookupError, UnicodeDecodeError):
                pass
    return decode_text(data)


def _soup(markup: str) -> Any:
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
        warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
        return BeautifulSoup(markup, "lxml")


def _clean_inline(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


class _Builder:
    """Collects text into blocks, one per run of text between headings, tables and ``<pre>``."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.blocks: list[Block] = []
        self.headings: list[tuple[int, str]] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings)

    def text(self, value: str) -> None:
        self.parts.append(_WHITESPACE.sub(" ", value))

    def newline(self, count: int) -> None:
        self.parts.append("\n" * count)

    def flush(self) -> None:
        raw = "".join(self.parts)
        self.parts = []
        lines = [_SPACES.sub(" ", line).strip() for line in raw.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        if text:
            self.blocks.append(Block(text=text, heading_path=self.path))

    def heading(self, level: int, text: str) -> None:
        self.flush()
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, text))

    def add(self, blocks: list[Block]) -> None:
        self.flush()
        self.blocks.extend(blocks)


def _is_data_table(table: Any) -> bool:
    if table.find("table") is not None:
        return False
    rows = [tr for tr in table.find_all("tr") if tr.find(["td", "th"]) is not None]
    if len(rows) < 2:
        return False
    return max(len(tr.find_all(["td", "th"])) for tr in rows) >= 2


def _table_rows(table: Any) -> list[tuple[int, list[str]]]:
    rows: list[tuple[int, list[str]]] = []
    for tr in table.find_all("tr"):
        cells: list[str] = []
        for cell in tr.find_all(["td", "th"]):
            cells.append(_clean_inline(cell.get_text(" ")))
            try:
                span = min(int(str(cell.get("colspan", "1")).strip() or "1"), 50)
            except ValueError:
                span = 1
            cells.extend([""] * (span - 1))
        rows.append((len(rows) + 1, cells))
    return rows


def _walk(root: Any, out: _Builder) -> None:
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    stack: list[tuple[bool, Any]] = [(False, root)]
    while stack:
        closing, node = stack.pop()
        if closing:
            out.newline(2 if node.name in _PARAGRAPH_TAGS else 1)
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctypes, CDATA...
                out.text(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _HEADINGS:
            title = _clean_inline(node.get_text(" "))
            if title:
                out.heading(_HEADINGS[name], title)
            continue
        if name == "pre":
            text = node.get_text().strip("\n")
            out.add([Block(text=text, heading_path=out.path)] if text.strip() else [])
            continue
        if name == "table" and _is_data_table(node):
            caption = node.find("caption")
            if caption is not None:
                out.newline(2)
                out.text(caption.get_text(" "))
            out.add(table_blocks(_table_rows(node), heading_path=out.path))
            continue
        if name == "br":
            out.newline(1)
            continue
        if name in _PARAGRAPH_TAGS or name in _LINE_TAGS:
            out.newline(2 if name in _PARAGRAPH_TAGS else 1)
            if name == "li":
                out.text("- ")
            stack.append((True, node))
        elif name in ("td", "th"):
            out.text(" ")
        stack.extend((False, child) for child in reversed(node.contents))


def _drop_boilerplate(soup: Any) -> None:
    doomed = list(soup.find_all(_DROP_TAGS))
    doomed += soup.find_all(attrs={"role": lambda r: bool(r) and r.strip().lower() in _DROP_ROLES})
    doomed += soup.find_all(attrs={"hidden": True})
    doomed += soup.find_all(style=_invisible)
    doomed += soup.find_all(attrs={"aria-hidden": lambda v: bool(v) and v.strip().lower() == "true"})
    doomed += [h for h in soup.find_all("header") if h.find_parent(["article", "main"]) is None]
    for tag in doomed:
        if not tag.decomposed:
            tag.decompose()


def _content_roots(soup: Any) -> list[Any]:
    body = soup.body or soup
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    if main is not None and _clean_inline(main.get_text(" ")):
        return [main]
    articles = [a for a in soup.find_all("article") if a.find_parent("article") is None]
    if articles:
        article_chars = sum(len(_clean_inline(a.get_text(" "))) for a in articles)
        if article_chars >= 0.3 * len(_clean_inline(body.get_text(" "))):
            return articles
    return [body]


# Elements nested deeper than this are refused: real pages stay well under 100 levels, and some
# steps (tables inside tables) cost time quadratic in the depth (found by bench/fuzz.py: 4,000
# nested tables in 170 KB took more than 10 s).
MAX_NESTING = 512


def _check_nesting(soup: Any) -> None:
    from bs4 import Tag

    stack: list[tuple[Any, int]] = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ParseError(f"HTML nested more than {MAX_NESTING} elements deep; refused as malformed or hostile")
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tag))


def html_document(markup: str, fallback_title: str) -> ParsedDocument:
    """Blocks, title and metadata of an HTML document given as text."""
    soup = _soup(markup)
    _check_nesting(soup)
    title_tag = soup.find("title")
    title = _clean_inline(title_tag.get_text(" ")) if title_tag is not None else ""
    metadata: dict[str, Any] = {}
    html_tag = soup.find("html")
    if html_tag is not None and html_tag.get("lang"):
        metadata["language"] = str(html_tag.get("lang"))
    description = soup.find("meta", attrs={"name": re.compile("^description$", re.I)})
    if description is not None and description.get("content"):
        metadata["description"] = _clean_inline(str(description.get("content")))

    _drop_boilerplate(soup)
    out = _Builder()
    for root in _content_roots(soup):
        _walk(root, out)
        out.flush()
    blocks = out.blocks
    if not any(b.text.strip() for b in blocks):
        # a page of headings only: the headings are its text
        headings = [_clean_inline(h.get_text(" ")) for h in soup.find_all(list(_HEADINGS))]
        blocks = [Block(text=h) for h in headings if h]
    if not title:
        first_h1 = soup.find("h1")
        title = _clean_inline(first_h1.get_text(" ")) if first_h1 is not None else ""
    return ParsedDocument(blocks=tuple(blocks), title=title or fallback_title, metadata=metadata)


@PARSERS.register("html")
class HtmlParser:
    name: str = "html"
    extensions: tuple[str, ...] = (".html", ".htm", ".xhtml")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        markup = decode_html(data)
        if "\x00" in markup:
            raise ParseError("binary content: the file contains NUL bytes and is not HTML")
        return html_document(markup, PurePath(path).stem)
