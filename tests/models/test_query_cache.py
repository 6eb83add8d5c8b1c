"""The per-process cache of query vectors: a question asked again is not embedded again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docket import KnowledgeBase, load_settings
from docket.models.embedders import FakeEmbedder
from docket.models.query_cache import QueryCache


class Counting(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed_queries(texts)


def test_a_question_asked_again_is_not_embedded_again_and_gets_the_same_vector() -> None:
    inner = Counting()
    cache = QueryCache(inner, size=8)
    first = cache.embed_queries(["parental leave", "vacation days"])
    again = cache.embed_queries(["vacation days", "parental leave", "remote work"])
    assert inner.embedded == ["parental leave", "vacation days", "remote work"]  # the new one only
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[1], first[0])
    assert np.array_equal(again[2], inner.embed_queries(["remote work"])[0])
    assert (cache.hits, cache.misses) == (2, 3)
    assert again.dtype == np.float32 and again.shape == (3, inner.dim)


def test_the_least_recently_used_question_is_dropped_first() -> None:
    inner = Counting()
    cache = QueryCache(inner, size=2)
    cache.embed_queries(["a"])
    cache.embed_queries(["b"])
    cache.embed_queries(["a"])  # a is now the most recent
    cache.embed_queries(["c"])  # drops b
    inner.embedded.clear()
    cache.embed_queries(["a", "c", "b"])
    assert inner.embedded == ["b"]


def test_a_caller_changing_the_returned_vectors_does_not_change_the_cache() -> None:
    cache = QueryCache(Counting(), size=4)
    vectors = cache.embed_queries(["question"])
    kept = vectors.copy()
    vectors *= 0
    assert np.array_equal(cache.embed_queries(["question"]), kept)


def test_passages_pass_through_and_other_attributes_are_the_embedders() -> None:
    inner = Counting()
    cache = QueryCache(inner, size=4)
    assert (cache.name, cache.dim) == (inner.name, inner.dim)
    assert cache.count_tokens("two words") == 2
    assert np.array_equal(cache.embed_passages(["x y"]), inner.embed_passages(["x y"]))
    assert cache.embed_queries([]).shape == (0, inner.dim)
    assert inner.embedded == []


def test_the_knowledge_base_embeds_an_asked_question_once_and_the_setting_turns_it_off(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nParental leave is sixteen weeks, paid in full.")
    answers = []
    # without the cache: retrieval, the search within the best-ranked document
    # (answer.document_passages) and the answer's sentence scoring each embed the question
    for size, embeddings in ((1024, 1), (0, 3)):
        settings = load_settings(
            home=tmp_path / f"kb{size}", overrides={"embedder": {"name": "fake"}, "search": {"query_cache": size}}
        )
        with KnowledgeBase(settings) as kb:
            kb.ingest([str(docs)])
            inner = kb.embedder.inner if isinstance(kb.embedder, QueryCache) else kb.embedder
            calls: list[str] = []
            original = inner.embed_queries

            def counted(texts: Sequence[str], original=original, calls=calls) -> np.ndarray:  # type: ignore[no-untyped-def]
                calls.extend(texts)
                return original(texts)

            inner.embed_queries = counted  # type: ignore[method-assign]
            answer = kb.ask("How long is parental leave?")
            assert calls == ["How long is parental leave?"] * embeddings
            assert isinstance(kb.embedder, QueryCache) == bool(size)
            answers.append((answer.text, answer.confidence, [c.quote for c in answer.citations]))
    assert answers[0] == answers[1]  # the cache changes the cost, never the answer
