"""What a model reads: retrieved passages widened to the sections around them, within a budget."""

from __future__ import annotations

from pathlib import Path

from docket.answer.context import widen
from docket.config import load_settings
from docket.ingest.chunking import estimate_tokens
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.types import Access


def _kb(tmp_path: Path) -> KnowledgeBase:
    folder = tmp_path / "docs"
    folder.mkdir()
    sentences = [f"Clause {i} says the notice period for service {i} is {i + 10} days." for i in range(40)]
    (folder / "contract.md").write_text("# Contract\n\n" + "\n\n".join(sentences), encoding="utf-8")
    kb = KnowledgeBase(
        load_settings(home=tmp_path / "kb", overrides={"chunking": {"max_tokens": 48, "overlap_tokens": 0}}),
        embedder=FakeEmbedder(),
    )
    kb.ingest([str(folder)])
    return kb


def test_a_passage_is_widened_to_its_neighbours_as_an_exact_slice(tmp_path: Path) -> None:
    with _kb(tmp_path) as kb:
        hit = kb.search("notice period for service 20", k=1)[0]
        [wide] = widen([hit], kb.store, budget=1000, count_tokens=estimate_tokens)
        text = kb.store.document_text(hit.doc_id)
        assert hit.text in wide.text and len(wide.text) > len(hit.text)
        start, end = wide.location.char_start, wide.location.char_end
        assert start is not None and end is not None and text[start:end] == wide.text


def test_the_budget_is_kept_best_passages_first(tmp_path: Path) -> None:
    with _kb(tmp_path) as kb:
        hits = kb.search("notice period", k=6)
        budget = estimate_tokens(hits[0].text) * 2
        widened = widen(hits, kb.store, budget=budget, count_tokens=estimate_tokens)
        assert widened and sum(estimate_tokens(h.text) for h in widened) <= budget
        assert hits[0].text in widened[0].text


def test_passages_of_one_document_that_meet_become_one_source(tmp_path: Path) -> None:
    with _kb(tmp_path) as kb:
        chunks = kb.store.document_hits(kb.search("service 20", k=1)[0].doc_id, Access.owner())
        neighbours = [chunks[10], chunks[11]]
        merged = widen(neighbours, kb.store, budget=10_000, count_tokens=estimate_tokens)
        assert len(merged) == 1 and chunks[10].text in merged[0].text and chunks[11].text in merged[0].text
