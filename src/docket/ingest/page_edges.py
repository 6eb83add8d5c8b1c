"""Running headers and footers: lines repeated at the top or bottom of most pages of a file.

A company name and "Confidential" at the top of every page, "Page 3 of 12" at the bottom: they
say nothing about the page they are on, and repeated on every passage they blur search. A line is
taken for one when, with its digits ignored (so page numbers and dates match), it stands among the
first or last two lines of at least 80% of the pages with text, on files of three pages or more,
and is short (a header, not a paragraph). Only those edge lines are dropped; the same words in the
body of a page stay. The page number itself is kept on every block (``Block.page``), so citations
still say "p. N".
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


def _key(line: str) -> str:
    return _SPACE.sub(" ", _DIGITS.sub("#", line)).strip().lower()


def _edges(lines: list[str]) -> list[int]:
    """Indexes of the first and last EDGE_LINES non-empty lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def drop_running_lines(pages: Sequence[str]) -> list[str]:
    """``pages`` (one text per page) without their running headers and footers."""
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
    out: list[str] = []
    for lines in split:
        drop = {i for i in _edges(lines) if _key(lines[i]) in running}
        out.append("\n".join(line for i, line in enumerate(lines) if i not in drop))
    return out
