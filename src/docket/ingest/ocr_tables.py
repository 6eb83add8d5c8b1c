"""Tables on pictures of pages: the rows of a table OCR read, cut into cells by the columns its
word boxes leave empty.

A table comes two ways from :func:`~docket.ingest.ocr.reading_order`: as a block whose two sides
of a gutter are short lines on the same rows (:func:`table_rows` on its rows), or as lines that
Tesseract read across the whole table, a run of at least :data:`MIN_ROWS` lines with wide spaces
in them near each other (:func:`find_tables`). The words of the rows are laid on the page's width:
a column boundary is a band, at least :data:`GUTTER` line heights wide, that at most :data:`STRAY`
of the rows put ink in (a caption or a wrapped description across it does not hide the gutter of
the rows below). Each row's words go to the column their middle is in, and the cells are joined by
``" | "`` as the other parsers write a table's rows (:data:`docket.sentences.CELL_SEPARATOR`); a
line of evenly spaced words across a gutter (a caption) stays one cell. Rows with fewer than
:data:`MIN_ROWS` of two cells or more are no table and stay as they were.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import replace

from docket.ingest.ocr_lines import OcrLine
from docket.sentences import CELL_SEPARATOR

__all__ = ["find_tables", "table_rows"]

GUTTER = 0.6  # line heights: the narrowest band between two columns
STRAY = 0.2  # share of the rows that may put ink in a gutter (captions, wrapped text)
MIN_ROWS = 3  # rows of two cells or more that make a table
WIDE = 1.5  # line heights: a space between two words of a line this wide may be a column gutter
ROW_GAP = 3.0  # line heights: rows further apart are not rows of one table
CAPTIONS = 2  # lines without a wide space that may stand between two rows of a table
SPREAD = 3.0  # a gutter in a line is this many times as wide as the line's other spaces


def _gutters(rows: Sequence[OcrLine], unit: float) -> list[tuple[float, float]]:
    """Bands (left, right) between the columns of ``rows``."""
    spans = [[(x0, x1) for _, x0, x1 in row.words] for row in rows]
    left = min(x0 for row in spans for x0, _ in row)
    right = max(x1 for row in spans for _, x1 in row)
    width = int(right - left) + 2
    inked = [0] * (width + 1)
    for row in spans:  # how many rows put ink at each pixel
        covered = [0] * (width + 1)
        for x0, x1 in row:
            covered[int(x0 - left)] += 1
            covered[int(x1 - left) + 1] -= 1
        depth = 0
        for x in range(width):
            depth += covered[x]
            if depth > 0:
                inked[x] += 1
    allowed = STRAY * len(rows)
    gutters: list[tuple[float, float]] = []
    start: int | None = None
    for x in range(width):
        if inked[x] <= allowed:
            start = x if start is None else start
            continue
        if start is not None and start > 0 and x - start >= GUTTER * unit:
            gutters.append((left + start, left + x))
        start = None
    return gutters


def _cells(row: OcrLine, gutters: Sequence[tuple[float, float]], unit: float) -> tuple[str, ...]:
    """The row's words in the columns between ``gutters``, each where its middle is; one cell for a
    line of words evenly spaced that runs across a gutter (a caption, a wrapped description)."""
    left, right = min(x0 for _, x0, _ in row.words), max(x1 for _, _, x1 in row.words)
    if not _wide(row, unit) and any(left < g_left and right > g_right for g_left, g_right in gutters):
        return (row.text,)
    columns: list[list[str]] = [[] for _ in range(len(gutters) + 1)]
    for text, x0, x1 in row.words:
        middle = (x0 + x1) / 2
        columns[sum(1 for g_left, _ in gutters if middle > g_left)].append(text)
    return tuple(" ".join(words) for words in columns)


def table_rows(rows: Sequence[OcrLine], unit: float) -> list[OcrLine]:
    """``rows`` (one line per row, left to right) with their cells, where they make a table."""
    if len(rows) < MIN_ROWS or not all(row.words for row in rows):
        return list(rows)
    gutters = _gutters(rows, unit)
    if not gutters:
        return list(rows)
    cells = [_cells(row, gutters, unit) for row in rows]
    if sum(1 for c in cells if sum(1 for cell in c if cell) >= 2) < MIN_ROWS:
        return list(rows)
    return [
        replace(row, text=CELL_SEPARATOR.join(c), cells=c) if len(c) > 1 else row
        for row, c in zip(rows, cells, strict=True)
    ]


def _wide(line: OcrLine, unit: float) -> bool:
    """Whether the line has a space between two of its words wide enough to be a gutter: at least
    :data:`WIDE` line heights, and :data:`SPREAD` times its other spaces (the spaces of a justified
    line of prose are wide together)."""
    edges = sorted((x0, x1) for _, x0, x1 in line.words)
    gaps = sorted(b[0] - a[1] for a, b in itertools.pairwise(edges))
    if not gaps:
        return False
    others = statistics.median(gaps[:-1]) if len(gaps) > 1 else 0.0
    return gaps[-1] >= max(WIDE * unit, SPREAD * others)


def find_tables(lines: Sequence[OcrLine], unit: float) -> list[OcrLine]:
    """``lines`` in reading order with the tables among them cut into cells: runs of at least
    :data:`MIN_ROWS` lines near each other with wide spaces in them (a table whose rows Tesseract
    read as whole lines), with up to :data:`CAPTIONS` lines without one between them; the blank
    lines that mark paragraphs inside such a run are left out."""
    out: list[OcrLine] = []
    i = 0
    while i < len(lines):
        if lines[i].cells or not lines[i].words or not _wide(lines[i], unit):
            out.append(lines[i])
            i += 1
            continue
        run, j = [i], i + 1
        pending: list[int] = []
        while j < len(lines):
            line = lines[j]
            if not line.text:
                j += 1
                continue
            if line.cells or not line.words or line.box[1] - lines[(pending or run)[-1]].box[3] > ROW_GAP * unit:
                break
            if _wide(line, unit):
                run, pending = [*run, *pending, j], []
            elif len(pending) < CAPTIONS:
                pending.append(j)
            else:
                break
            j += 1
        wide = sum(1 for k in run if _wide(lines[k], unit))
        rows = table_rows([lines[k] for k in run], unit) if wide >= MIN_ROWS else []
        if not any(row.cells for row in rows):
            out.append(lines[i])
            i += 1
            continue
        out.extend(rows)
        i = run[-1] + 1
    return out
