from __future__ import annotations

import pytest

from docket.index.keywords import analyze, analyze_query, query_terms
from docket.index.search import fuse_absolute, fuse_minmax, fuse_rrf
from docket.types import Access, Filters


def test_absolute_fusion_keeps_scores_and_fills_gaps_with_the_list_floor() -> None:
    keyword = [(1, 1.2), (2, 0.5)]  # a full list of size 2: missing passages score its last value
    dense = [(2, 0.8), (3, 0.6)]
    fused = dict(fuse_absolute(keyword, dense, alpha=0.5, pool=2))
    assert fused[1] == pytest.approx(0.5 * 0.6 + 0.5 * 1.2)
    assert fused[2] == pytest.approx(0.5 * 0.8 + 0.5 * 0.5)
    assert fused[3] == pytest.approx(0.5 * 0.6 + 0.5 * 0.5)
    short = dict(fuse_absolute(keyword, dense, alpha=0.5, pool=10))  # not full: missing means no match
    assert short[3] == pytest.approx(0.5 * 0.6)


def test_absolute_fusion_without_keyword_matches_is_the_semantic_ranking() -> None:
    dense = [(5, 0.9), (6, 0.4), (7, 0.1)]
    assert [c for c, _ in fuse_absolute([], dense, alpha=0.6, pool=100)] == [5, 6, 7]


def test_minmax_fusion_blends_normalised_scores() -> None:
    keyword = [(1, 10.0), (2, 5.0), (3, 0.0)]
    dense = [(2, 0.9), (4, 0.5), (1, 0.1)]
    fused = dict(fuse_minmax(keyword, dense, alpha=0.5))
    assert fused[1] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    assert fused[2] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    assert fused[4] == pytest.approx(0.5 * 0.5)  # missing from keyword list: 0 there
    assert fuse_minmax(keyword, dense, alpha=0.5)[0][0] == 2


def test_fusion_with_alpha_at_the_ends_is_a_single_retriever() -> None:
    keyword = [(1, 3.0), (2, 2.0)]
    dense = [(2, 0.9), (1, 0.2)]
    assert [c for c, _ in fuse_minmax(keyword, dense, 0.0)] == [1, 2]
    assert [c for c, _ in fuse_minmax(keyword, dense, 1.0)] == [2, 1]


def test_rrf_rewards_agreement() -> None:
    fused = fuse_rrf([(1, 9.0), (2, 8.0)], [(2, 0.9), (3, 0.8)])
    assert fused[0][0] == 2


def test_query_terms_drop_stopwords_unless_nothing_else_is_left() -> None:
    assert query_terms("How many days of parental leave do we offer?") == ["many", "days", "parental", "leave", "offer"]
    assert query_terms("who are you") == ["who", "are", "you"]
    assert analyze_query("?!") == []


def test_analysis_stems_and_drops_stopwords() -> None:
    assert analyze("The offers were offered") == ["offer", "offer"]
    assert analyze_query("offering offers") == ["offer"]
    assert analyze("Übergrößen café 12") == ["übergrößen", "café", "12"]


def test_hybrid_search_finds_a_paraphrased_question(demo_kb) -> None:
    query = "time off after having a baby"
    hybrid = demo_kb.search(query, k=3)
    assert hybrid[0].path == "Benefits and Perks/New Parent Leave.md"
    assert {"keyword", "semantic"} & set(hybrid[0].scores)


def test_search_respects_filters_and_access(demo_kb) -> None:
    hits = demo_kb.search("leave", filters=Filters(path_glob="Employment Policies/*"))
    assert hits and all(h.path.startswith("Employment Policies/") for h in hits)
    assert demo_kb.search("leave", access=Access(workspaces=("sales",))) == []
    assert demo_kb.search("leave", access=Access(workspaces=("default",)))


def test_empty_query_returns_nothing(demo_kb) -> None:
    assert demo_kb.search("   ") == []
