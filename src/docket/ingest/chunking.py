"""Structure-aware chunking.

Chunks never cross a section boundary (heading path, page, slide, sheet or attachment), so every
chunk has one precise location. Inside a section, paragraphs are packed up to ``max_tokens``
(counted with the embedder's own tokenizer, after reserving room for the title and heading path
that are indexed with every chunk); a paragraph that is too long is split at sentences, and a
sentence that is too long at words. Neighbouring chunks of one section share up to
``overlap_tokens`` of trailing sentences. Tables are cut into groups of whole rows and every group
carries the header row.

Every chunk's text is an exact slice of the document's extracted text; ``char_start``/``char_end``
give the slice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from docket.ingest.regions import Box, passage_region
from docket.sentences import sentence_spans, word_spans
from docket.types import BLOCK_SEPARATOR, Block, Chunk, Location, ParsedDocument

__all__ = ["chunk_document", "estimate_tokens"]

TokenCounter = Callable[[str], int]
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (words and punctuation), for embedders without a tokenizer."""
    return len(_TOKEN_RE.findall(text))


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int


def _section_key(block: Block) -> tuple[object, ...]:
    return (block.heading_path, block.page, block.slide, block.sheet, block.attachment)


def _context(title: str, block: Block) -> str:
    parts = [title] if title else []
    if block.attachment:
        parts.append(block.attachment)
    if block.sheet:
        parts.append(block.sheet)
    parts.extend(h for h in block.heading_path if h and h != title)
    return " › ".join(parts)


def _units(text: str, base: int, budget: int, count: TokenCounter) -> Iterator[_Unit]:
    """Paragraph, else sentence, else word-window units of one block, with absolute offsets."""
    for p_start, p_end in _paragraph_spans(text):
        para = text[p_start:p_end]
        n = count(para)
        if n <= budget:
            yield _Unit(base + p_start, base + p_end, n)
            continue
        for s_start, s_end in sentence_spans(para):
            sentence = para[s_start:s_end]
            m = count(sentence)
            if m <= budget:
                yield _Unit(base + p_start + s_start, base + p_start + s_end, m)
                continue
            yield from _word_windows(sentence, base + p_start + s_start, budget, count)


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", text, flags=re.DOTALL):
        spans.append((match.start(), match.end()))
    return spans


def _word_windows(text: str, base: int, budget: int, count: TokenCounter) -> Iterator[_Unit]:
    spans = word_spans(text)
    i = 0
    while i < len(spans):
        j = i + 1
        # grow greedily; word counts are a cheap lower bound, check with the real counter
        while j < len(spans) and count(text[spans[i][0] : spans[j][1]]) <= budget:
            j += 1
        yield _Unit(base + spans[i][0], base + spans[j - 1][1], count(text[spans[i][0] : spans[j - 1][1]]))
        i = j


def _pack(units: list[_Unit], budget: int, overlap: int) -> Iterator[list[_Unit]]:
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.tokens > budget:
            yield current
            carried: list[_Unit] = []
            carried_size = 0
            for prev in reversed(current):
                if carried_size + prev.tokens > overlap or carried_size + prev.tokens + unit.tokens > budget:
                    break
                carried.insert(0, prev)
                carried_size += prev.tokens
            current, size = carried, carried_size
        current.append(unit)
        size += unit.tokens
    if current:
        yield current


def _location(block: Block, start: int, end: int, region: Box | None = None, **extra: int | None) -> Location:
    return Location(
        page=block.page,
        slide=block.slide,
        sheet=block.sheet,
        heading_path=block.heading_path,
        attachment=block.attachment,
        char_start=start,
        char_end=end,
        region=region,
        **extra,
    )


def chunk_document(
    parsed: ParsedDocument,
    title: str = "",
    max_tokens: int = 256,
    overlap_tokens: int = 32,
    count_tokens: TokenCounter = estimate_tokens,
) -> list[Chunk]:
    """Cut a parsed document into located chunks."""
    doc_text = parsed.text
    chunks: list[Chunk] = []
    offset = 0
    sections: list[tuple[Block, list[tuple[Block, int]]]] = []
    for block in parsed.blocks:
        rendered_len = len(block.text) + (len(block.header) + 1 if block.kind == "table" and block.header else 0)
        if block.kind == "table":
            sections.append((block, [(block, offset)]))
        elif sections and sections[-1][0].kind == "text" and _section_key(sections[-1][0]) == _section_key(block):
            sections[-1][1].append((block, offset))
        else:
            sections.append((block, [(block, offset)]))
        offset += rendered_len + len(BLOCK_SEPARATOR)

    for first, members in sections:
        context = _context(title, first)
        budget = max(32, max_tokens - count_tokens(context) - 2)
        if first.kind == "table":
            chunks.extend(_table_chunks(first, members[0][1], context, budget, count_tokens, doc_text))
            continue
        units: list[_Unit] = []
        for block, start in members:
            units.extend(_units(block.text, start, budget, count_tokens))
        for group in _pack(units, budget, overlap_tokens):
            start, end = group[0].start, group[-1].end
            region = passage_region(doc_text[start:end], [block for block, _ in members])
            location = _location(first, start, end, region)
            chunks.append(Chunk(text=doc_text[start:end], location=location, context=context))
    return [Chunk(c.text, c.location, c.context, ordinal=i) for i, c in enumerate(chunks)]


def _table_chunks(
    block: Block, start: int, context: str, budget: int, count: TokenCounter, doc_text: str
) -> Iterator[Chunk]:
    header = block.header or ""
    rows_start = start + (len(header) + 1 if header else 0)
    header_tokens = count(header) if header else 0
    row_budget = max(16, budget - header_tokens)
    rows: list[tuple[int, int, int]] = []  # (start, end, tokens) absolute
    pos = rows_start
    for line in block.text.split("\n"):
        if line.strip():
            rows.append((pos, pos + len(line), count(line)))
        pos += len(line) + 1
    first_row_no = block.row_start or 1
    line_numbers = _row_numbers(block.text, first_row_no)
    i = 0
    while i < len(rows):
        j, size = i, 0
        while j < len(rows) and (j == i or size + rows[j][2] <= row_budget):
            size += rows[j][2]
            j += 1
        body = "\n".join(doc_text[s:e] for s, e, _ in rows[i:j])
        text = f"{header}\n{body}" if header else body
        yield Chunk(
            text=text,
            location=_location(
                block,
                rows[i][0],
                rows[j - 1][1],
                passage_region(body, [block]),
                row_start=line_numbers[i] if block.row_start is not None else None,
                row_end=line_numbers[j - 1] if block.row_start is not None else None,
            ),
            context=context,
        )
        i = j


def _row_numbers(text: str, first: int) -> list[int]:
    """Row number of each non-empty line, counting empty lines too (they are rows of the file)."""
    out = []
    for k, line in enumerate(text.split("\n")):
        if line.strip():
            out.append(first + k)
    return out
