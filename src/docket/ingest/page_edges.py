"""Running headers and footers: lines repeated at the top or bottom of most pages of a file.

A company name and "Confidential" at the top of every page, "Page 3 of 12" at the bottom: they
say nothing about the page they are on, and repeated on every passage they blur search. A line is
taken for one when, with its digits ignored (so page numbers and dates match), it stands among the
first or last two lines of at least 80% of the pages with text, on files of three pages or more,
and is short (a header, not a paragraph). Only those edge lines are dropped; the same words in the
body of a page stay. The page number itself is kept on every block (``Block.page``), so citations
still say "p. N".

Each running line is kept once, at the end of the first page it stands on: a header may be the
only place a document gives its version and date ("GESTATIONAL DIABETES | Version 3: 9.19.2022"
on every page of a protocol), and after the page's own text it does not stand in for the
document's title. A line that only numbers pages ("Page 3 of 12", "- 3 -") is dropped everywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["drop_running_lines"]

EDGE_LINES = 2
MIN_PAGES = 3
MIN_SHARE = 0.8
MAX_LENGTH = 100
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
# a line that only numbers pages, digits read as "#": "Page # of #", "# / #", "- # -", "p. #", "# | Page"
_PAGE_NUMBER = re.compile(r"^\W*(?:(?:page|p\.?)\s*)?#\W*(?:(?:of|/)\W*#\W*)?(?:page\W*)?$")


def _key(line: str) -> str:
    return _SPACE.sub(" ", _DIGITS.sub("#", line)).strip().lower()


def _edges(lines: list[str]) -> list[int]:
    """Indexes of the first and last EDGE_LINES non-empty lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def drop_running_lines(pages: Sequence[str]) -> list[str]:
    """``pages`` (one text per page) with each running header and footer taken off every page and
    kept once, after the text of the first page it stands on (page numbers not kept)."""
    split = [page.split("\n") for page in pages]
    with_text = [lines for lines in split if any(line.strip() for line in lines)]
    if len(with_text) < MIN_PAGES:
        return list(pages)
    seen: Counter[str] = Counter()
    for lines in with_text:
        seen.update({_key(lines[i]) for i in _edges(lines) if len(lines[i].strip()) <= MAX_LENGTH})
    running = {key for key, count in seen.items() if key and count >= MIN_SHARE * len(with_text)}
    if not running:
        return list(pages)
    placed = {key for key in running if _PAGE_NUMBER.match(key)}  # already kept once, or never kept
    out: list[str] = []
    for lines in split:
        drop = {i for i in _edges(lines) if _key(lines[i]) in running}
        # once each, also a line that stands both at the top and at the bottom of the page
        first = list({_key(lines[i]): lines[i].strip() for i in sorted(drop) if _key(lines[i]) not in placed}.values())
        placed.update(_key(line) for line in first)
        body = "\n".join(line for i, line in enumerate(lines) if i not in drop)
        out.append("\n\n".join([body, *first]) if first else body)  # a paragraph of its own
    return out
