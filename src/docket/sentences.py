"""Sentence and word spans, shared by chunking and answer extraction.

A deliberately plain rule-based splitter: sentence ends at ``.``, ``!`` or ``?`` (or a line break
between list items) followed by whitespace and an upper-case letter, digit, quote or bracket;
common abbreviations do not end a sentence. Spans are ``(start, end)`` offsets into the input.
"""

from __future__ import annotations

import itertools
import re

__all__ = ["CELL_SEPARATOR", "is_table_text", "sentence_spans", "unit_spans", "word_spans", "words"]

CELL_SEPARATOR = " | "  # how parsers join the cells of a table row

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


def is_table_text(text: str) -> bool:
    """Whether most lines of ``text`` are table rows (cells joined by ``" | "``)."""
    lines = [line for line in text.split("\n") if line.strip()]
    return bool(lines) and sum(CELL_SEPARATOR in line for line in lines) * 2 > len(lines)


# "Location: Death Valley, CA Accident Number: SEA08CA049": a form's fields, several to a line
_FIELD = re.compile(
    r"(?:(?<=^)|(?<=\s))([A-Z][a-z][A-Za-z'’()/-]*(?: (?:[A-Z][a-z][A-Za-z'’()/-]*|&|of|and|or|the|No\.?|#)){0,4})"
    r":[ \t]+(?=\S)",
    re.MULTILINE,
)


def _lines(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.split("\n"):
        end = start + len(line)
        if line.strip():
            spans.append((start, end))
        start = end + 1
    return spans


def _fields(text: str, start: int, end: int) -> list[tuple[int, int]] | None:
    """The ``Label: value`` fields of one line, or None when the line is not a form's."""
    line = text[start:end]
    found = [m.start() for m in _FIELD.finditer(line)]
    if not found or (len(found) == 1 and (found[0] > 0 or len(line) > 100)):
        return None
    cuts = [0, *found[1:]] if found[0] > 0 else found
    if cuts[0] > 0:
        cuts = [0, *cuts]
    bounds = [*cuts, len(line)]
    out = []
    for a, b in itertools.pairwise(bounds):
        piece = line[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        if trail > lead:
            out.append((start + a + lead, start + a + trail))
    return out


def unit_spans(text: str) -> list[tuple[int, int]]:
    """The units an answer can quote from a passage, as offsets: each line of a table, each field
    of a form ("Aircraft: Cessna 172" beside "Injuries: 1 Fatal"), each sentence of prose."""
    if is_table_text(text):
        return _lines(text)
    out: list[tuple[int, int]] = []
    prose_start: int | None = None
    for start, end in _lines(text):
        fields = _fields(text, start, end)
        if fields is None:
            if prose_start is None:
                prose_start = start
            continue
        if prose_start is not None:
            out.extend((prose_start + a, prose_start + b) for a, b in sentence_spans(text[prose_start:start]))
            prose_start = None
        out.extend(fields)
    if prose_start is not None:
        out.extend((prose_start + a, prose_start + b) for a, b in sentence_spans(text[prose_start:]))
    return out
