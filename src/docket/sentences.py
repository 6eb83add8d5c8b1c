"""Sentence and word spans, shared by chunking and answer extraction.

A deliberately plain rule-based splitter: sentence ends at ``.``, ``!`` or ``?`` (or a line break
between list items) followed by whitespace and an upper-case letter, digit, quote or bracket;
common abbreviations do not end a sentence. Spans are ``(start, end)`` offsets into the input.
"""

from __future__ import annotations

import re

__all__ = ["sentence_spans", "word_spans", "words"]

_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "etc",
    "vs",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "inc",
    "ltd",
    "co",
    "corp",
    "st",
    "no",
    "fig",
    "al",
    "approx",
    "dept",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "p",
    "pp",
}
_BOUNDARY = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9À-Ý•*\-])|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_TOKEN = re.compile(r"\S+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentences of ``text``, whitespace trimmed, empty ones dropped."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start()
        before = text[start:end].rstrip()
        last_word = before.rsplit(None, 1)[-1].rstrip(".").lower() if before.split() else ""
        if match.group(0).strip() == "" and "\n" not in match.group(0) and last_word in _ABBREVIATIONS:
            continue
        if len(last_word) == 1 and last_word.isalpha() and "\n" not in match.group(0):
            continue  # an initial such as "J. Smith"
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def word_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of whitespace-separated tokens."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def words(text: str) -> list[str]:
    """Lower-cased word tokens, for overlap measures."""
    return [w.lower() for w in _WORD.findall(text)]
