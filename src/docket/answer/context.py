"""What a model reads: each retrieved passage widened to the section around it, within a budget.

Search finds the best passages; a model answers better with the text around them — the rest of
the table a row sits in, the paragraph before a figure that says what it measures (published
results on filings: about 19 % of answers right from chunks of a shared store, 50 % with the
right document, about 79 % with whole sections in context). :func:`widen` replaces each hit by
the slice of its document that spans its neighbouring chunks on the same page (or under the same
heading), the best-ranked hits first, until ``budget`` tokens are used; hits of one document whose
slices meet are merged into one source. Each widened source is an exact slice of the document's
extracted text, so quotes and offsets found in it stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from docket.errors import NotFoundError
from docket.protocols import DocumentIndex
from docket.types import Chunk, Hit

__all__ = ["widen"]


def _same_section(a: Chunk, b: Chunk) -> bool:
    la, lb = a.location, b.location
    if la.page is not None or lb.page is not None:
        return la.page is not None and lb.page is not None and abs(la.page - lb.page) <= 1
    return (la.heading_path, la.sheet, la.slide, la.attachment) == (lb.heading_path, lb.sheet, lb.slide, lb.attachment)


def widen(
    hits: Sequence[Hit],
    store: DocumentIndex,
    budget: int,
    count_tokens: Callable[[str], int],
    *,
    neighbours: int = 1,
) -> list[Hit]:
    """``hits`` widened to their sections within ``budget`` tokens (see the module docstring)."""
    chunks_of: dict[str, list[Chunk]] = {}
    texts: dict[str, str] = {}
    spans: list[tuple[Hit, int, int]] = []  # (hit, start, end) in the document's text
    used = 0
    for hit in hits:
        start, end = hit.location.char_start, hit.location.char_end
        if start is None or end is None or not hit.doc_id:
            cost = count_tokens(hit.text)
            if used + cost > budget and spans:
                break
            spans.append((hit, -1, -1))
            used += cost
            continue
        if hit.doc_id not in chunks_of:
            try:
                texts[hit.doc_id] = store.document_text(hit.doc_id)
            except NotFoundError:
                continue
            chunks_of[hit.doc_id] = store.chunks(hit.doc_id)
        chunks = chunks_of[hit.doc_id]
        here = next((k for k, c in enumerate(chunks) if c.location.char_start == start), None)
        lo, hi = start, end
        if here is not None:
            for k in range(max(0, here - neighbours), min(len(chunks), here + neighbours + 1)):
                other = chunks[k]
                if _same_section(chunks[here], other) and other.location.char_start is not None:
                    lo = min(lo, other.location.char_start)
                    hi = max(hi, other.location.char_end or hi)
        wide = texts[hit.doc_id][lo:hi]
        cost = count_tokens(wide)
        if used + cost > budget:
            lo, hi, cost = start, end, count_tokens(hit.text)
            if used + cost > budget and spans:
                break
        spans.append((hit, lo, hi))
        used += cost
    merged: list[tuple[Hit, int, int]] = []
    for hit, lo, hi in spans:
        for k, (kept, a, b) in enumerate(merged):
            if lo >= 0 and kept.doc_id == hit.doc_id and a >= 0 and lo <= b and hi >= a:
                merged[k] = (kept, min(a, lo), max(b, hi))
                break
        else:
            merged.append((hit, lo, hi))
    out: list[Hit] = []
    for hit, lo, hi in merged:
        if lo < 0:
            out.append(hit)
            continue
        pages = [
            p
            for c in chunks_of[hit.doc_id]
            if c.location.char_start is not None and lo <= c.location.char_start < hi
            for p in (c.location.page, c.location.page_end)
            if p is not None
        ]
        location = replace(
            hit.location,
            char_start=lo,
            char_end=hi,
            page=min(pages) if pages else hit.location.page,
            page_end=max(pages) if pages and max(pages) != min(pages) else None,
        )
        out.append(replace(hit, text=texts[hit.doc_id][lo:hi], location=location, chunk_hash=""))
    return out
