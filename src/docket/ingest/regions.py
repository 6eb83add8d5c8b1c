"""Where a passage sits on its page: the boxes of the OCR lines it holds, so a citation can show
the region of the page.

A page read by OCR comes with a box for each line (:class:`~docket.ingest.ocr.OcrLine`). The page
text is cut into blocks (prose, tables) that join and rewrite lines, so the lines are given to
the blocks by their text: :func:`attach_regions` looks for each line, in reading order, in the
page's blocks (whitespace aside; a line cut by a hyphen at its end still counts), and a line that
is not found as it is (a table row rewritten) goes to the block that holds most of its words. At
chunking, :func:`passage_region` takes the lines of a passage's blocks whose text is in the
passage and returns the box around them, as fractions of the page (0-1, from the top left).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from docket.types import Block

__all__ = ["Box", "attach_regions", "normalised_box", "passage_region"]

Box = tuple[float, float, float, float]
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
PARTIAL = 24  # characters: a long line cut between two passages counts where its start or end is
MOST_WORDS = 0.7  # a line not found as it is goes to the block that holds this share of its words


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _probe(text: str) -> str:
    """A line's text as it is looked for: whitespace collapsed, a hyphen at its end left off (the
    word is joined with the next line's start in the page text)."""
    text = _norm(text)
    return text[:-1] if text.endswith("-") and len(text) > 1 else text


def normalised_box(box: Box, width: float, height: float) -> Box:
    """A box in pixels as fractions of a ``width`` x ``height`` picture, clipped to 0-1."""
    x0, y0, x1, y1 = box

    def clip(value: float) -> float:
        return round(min(max(value, 0.0), 1.0), 4)

    return clip(x0 / width), clip(y0 / height), clip(x1 / width), clip(y1 / height)


def attach_regions(blocks: Sequence[Block], lines: Sequence[tuple[str, Box]]) -> list[Block]:
    """``blocks`` of one page, each with the ``lines`` (text, box as fractions of the page) it holds."""
    if not blocks or not lines:
        return list(blocks)
    texts = [_norm(b.text) for b in blocks]
    words = [set(_WORD.findall(t.lower())) for t in texts]
    held: list[list[tuple[str, Box]]] = [[] for _ in blocks]
    block, cursor = 0, 0
    for text, box in lines:
        probe = _probe(text)
        if not probe:
            continue
        for index in range(block, len(blocks)):
            at = texts[index].find(probe, cursor if index == block else 0)
            if at >= 0:
                block, cursor = index, at + len(probe)
                held[index].append((probe, box))
                break
        else:  # rewritten (a table row): the first block from here that holds most of its words
            mine = set(_WORD.findall(probe.lower()))
            if not mine:
                continue
            order = list(range(block, len(blocks))) + list(range(block))
            for index in order:
                if len(mine & words[index]) >= MOST_WORDS * len(mine):
                    held[index].append((probe, box))
                    break
    return [replace(b, regions=tuple(h)) if h else b for b, h in zip(blocks, held, strict=True)]


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def passage_region(text: str, blocks: Sequence[Block]) -> Box | None:
    """The box around the lines of ``blocks`` that ``text`` (a passage cut from them) holds; all
    their lines when none is found in it as it is (a table's rows, rewritten); None when the
    blocks have no lines (a page with a text layer)."""
    lines = [line for b in blocks for line in b.regions]
    if not lines:
        return None
    passage = _norm(text)
    inside = [
        box
        for probe, box in lines
        if probe in passage
        or (len(probe) >= 2 * PARTIAL and (probe[:PARTIAL] in passage or probe[-PARTIAL:] in passage))
    ]
    return _union(inside or [box for _, box in lines])
