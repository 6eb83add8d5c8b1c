from __future__ import annotations

from docket.ingest.chunking import chunk_document, estimate_tokens
from docket.types import Block, ParsedDocument


def _long_paragraphs(n: int) -> str:
    return "\n\n".join(
        f"Paragraph {i} explains policy number {i} in some detail. It has a second sentence too." for i in range(n)
    )


def test_every_chunk_is_an_exact_slice_of_the_document_text() -> None:
    parsed = ParsedDocument(
        blocks=(
            Block(_long_paragraphs(30), heading_path=("Policies",)),
            Block("a | 1\nb | 2", kind="table", header="key | value", row_start=2),
            Block(_long_paragraphs(5), heading_path=("Policies", "Leave"), page=2),
        )
    )
    text = parsed.text
    chunks = chunk_document(parsed, "Handbook", max_tokens=64, overlap_tokens=0)
    assert len(chunks) > 5
    for chunk in chunks:
        start, end = chunk.location.char_start, chunk.location.char_end
        assert start is not None and end is not None
        if chunk.location.row_start is None:
            assert text[start:end] == chunk.text
        else:
            assert chunk.text.endswith(text[start:end])


def test_chunks_stay_within_the_token_budget_including_context() -> None:
    parsed = ParsedDocument(blocks=(Block(_long_paragraphs(40) + " " + "word " * 500, heading_path=("A", "B")),))
    for chunk in chunk_document(parsed, "Title", max_tokens=80):
        assert estimate_tokens(chunk.indexed_text) <= 80


def test_chunks_never_cross_pages_or_sections() -> None:
    parsed = ParsedDocument(
        blocks=(Block("Page one text.", page=1), Block("Page two text.", page=2), Block("Under H", heading_path=("H",)))
    )
    chunks = chunk_document(parsed, "Doc")
    assert [(c.location.page, c.location.heading_path) for c in chunks] == [(1, ()), (2, ()), (None, ("H",))]


def test_table_chunks_all_carry_the_header_and_their_row_range() -> None:
    rows = "\n".join(f"item {i} | {i * 10}" for i in range(200))
    parsed = ParsedDocument(blocks=(Block(rows, kind="table", header="name | price", sheet="Prices", row_start=2),))
    chunks = chunk_document(parsed, "Price list", max_tokens=64)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.startswith("name | price\n")
        assert chunk.location.sheet == "Prices"
    assert chunks[0].location.row_start == 2
    assert chunks[-1].location.row_end == 201
    covered = sum(c.location.row_end - c.location.row_start + 1 for c in chunks)  # type: ignore[operator]
    assert covered == 200


def test_neighbouring_chunks_overlap_by_whole_sentences() -> None:
    sentences = " ".join(f"Sentence number {i} is here." for i in range(60))
    chunks = chunk_document(ParsedDocument(blocks=(Block(sentences),)), "", max_tokens=40, overlap_tokens=12)
    assert len(chunks) > 2
    first_end = chunks[0].text.split(". ")[-1]
    assert first_end.rstrip(".") in chunks[1].text


def test_context_is_title_and_heading_path() -> None:
    chunks = chunk_document(ParsedDocument(blocks=(Block("x y z", heading_path=("Benefits", "Leave")),)), "Handbook")
    assert chunks[0].context == "Handbook › Benefits › Leave"
    assert chunks[0].indexed_text == "Handbook › Benefits › Leave\nx y z"
