"""Each metric checked by hand on inputs small enough to compute on paper."""

from __future__ import annotations

import math

import pytest

from docket.evals.metrics import (
    contains,
    exact_match,
    hit_at_k,
    mean,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)

RANKED = ["a", "b", "c", "d"]


def test_hit_at_k_is_one_when_a_relevant_result_is_in_the_first_k() -> None:
    assert hit_at_k(RANKED, {"c": 1}, 3) == 1.0
    assert hit_at_k(RANKED, {"c": 1}, 2) == 0.0
    assert hit_at_k(RANKED, {"z": 1}, 10) == 0.0


def test_recall_at_k_is_the_share_of_relevant_results_retrieved() -> None:
    assert recall_at_k(RANKED, {"b": 1, "d": 1, "z": 1}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, {"b": 1, "d": 1, "z": 1}, 4) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, {}, 4) == 0.0


def test_reciprocal_rank_of_the_first_relevant_result() -> None:
    assert reciprocal_rank(RANKED, {"c": 1, "d": 1}) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKED, {"a": 1}) == 1.0
    assert reciprocal_rank(RANKED, {"z": 1}) == 0.0


def test_ndcg_by_hand_with_binary_and_graded_relevance() -> None:
    # relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal: 1/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, {"b": 1, "d": 1}, 10) == pytest.approx(expected)
    # graded: b=1 at rank 2, c=3 at rank 3; ideal order c then b
    graded = (1 / math.log2(3) + 3 / math.log2(4)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, {"b": 1, "c": 3}, 10) == pytest.approx(graded)
    assert ndcg_at_k(RANKED, {"a": 1}, 10) == 1.0
    assert ndcg_at_k(RANKED, {"d": 1}, 3) == 0.0  # beyond the cut-off
    assert ndcg_at_k(RANKED, {}, 10) == 0.0


def test_answers_are_compared_after_squad_normalisation() -> None:
    assert normalize_answer("The  12 Weeks!") == "12 weeks"
    assert exact_match("12 weeks.", "the 12 weeks") == 1.0
    assert exact_match("12 weeks of leave", "12 weeks") == 0.0


def test_token_f1_by_hand() -> None:
    # prediction "twelve weeks of paid leave" vs reference "twelve weeks": 2 common tokens
    # precision 2/5, recall 2/2 -> F1 = 2 * 0.4 * 1 / 1.4
    assert token_f1("Twelve weeks of paid leave", "twelve weeks") == pytest.approx(2 * 0.4 / 1.4)
    assert token_f1("nothing alike", "twelve weeks") == 0.0
    assert token_f1("a an the", "the") == 1.0  # both empty after normalisation
    assert token_f1("weeks weeks", "weeks") == pytest.approx(2 * 0.5 * 1 / 1.5)  # repeats count once each


def test_contains_needs_whole_words() -> None:
    assert contains("Clef offers 12 weeks of paid leave.", "12 weeks") == 1.0
    assert contains("Clef offers 112 weeks.", "12 weeks") == 0.0
    assert contains("anything", "") == 0.0


def test_percentile_interpolates_linearly_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None
    assert mean([1.0, 2.0]) == 1.5
    assert mean([]) is None
