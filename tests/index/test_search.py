from __future__ import annotations

import pytest

from docket.index.keywords import analyze, analyze_query, query_terms
from docket.index.search import (
    adaptive_alpha,
    fuse_absolute,
    fuse_adaptive,
    fuse_minmax,
    fuse_rrf,
    lead,
    rescore_sentences,
    term_counts,
    term_coverage,
)
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


def test_lead_is_the_best_scores_margin_over_the_tenth_as_a_fraction() -> None:
    ranked = [(i, 1.0 - 0.05 * i) for i in range(20)]  # 1.0, 0.95, ... the tenth is 0.55
    assert lead(ranked, depth=10, pool=20) == pytest.approx(0.45)
    flat = [(i, 0.5) for i in range(20)]
    assert lead(flat, depth=10, pool=20) == 0.0
    assert lead([], depth=10, pool=20) == 0.0
    assert lead([(1, -0.2), (2, -0.3)], depth=10, pool=2) == 0.0  # no positive best score: no lead


def test_a_short_keyword_list_stands_out_completely_unless_it_was_cut_at_the_pool() -> None:
    few = [(1, 0.8), (2, 0.3)]
    assert lead(few, depth=10, pool=100) == 1.0  # nothing else matched any query term
    assert lead(few, depth=10, pool=2) == pytest.approx(0.5 / 0.8)  # full list: its last score is the floor


def test_adaptive_alpha_keeps_alpha_when_both_lists_stand_out_equally() -> None:
    keyword = [(i, 2.0 - 0.1 * i) for i in range(20)]  # relative lead 0.45
    dense = [(i, 0.8 - 0.04 * i) for i in range(20)]  # relative lead 0.45
    assert adaptive_alpha(keyword, dense, 0.7, pool=20) == pytest.approx(0.7)


def test_adaptive_alpha_moves_toward_the_list_whose_best_stands_out() -> None:
    sharp_dense = [(0, 0.9)] + [(i, 0.3) for i in range(1, 20)]
    flat_dense = [(i, 0.5 - 0.001 * i) for i in range(20)]
    keyword = [(i, 2.0 - 0.05 * i) for i in range(20)]  # lead 0.225
    up = adaptive_alpha(keyword, sharp_dense, 0.7, pool=20)
    down = adaptive_alpha(keyword, flat_dense, 0.7, pool=20)
    assert down < 0.7 < up < 1.0
    # exactly the odds rule: alpha * ld / (alpha * ld + (1 - alpha) * lk)
    ld, lk = lead(sharp_dense, 10, 20), lead(keyword, 10, 20)
    assert up == pytest.approx(0.7 * ld / (0.7 * ld + 0.3 * lk))


def test_adaptive_alpha_gives_no_weight_to_a_flat_list_and_keeps_the_ends() -> None:
    keyword = [(1, 1.5), (2, 0.5)]
    flat = [(i, 0.4) for i in range(20)]
    assert adaptive_alpha(keyword, flat, 0.7, pool=20) == 0.0
    assert adaptive_alpha([], flat, 0.7, pool=20) == 0.7  # neither stands out: the prior weight
    assert adaptive_alpha([], [(3, 0.9), (4, 0.2)], 0.7, pool=20) == 1.0  # no keyword match at all
    assert adaptive_alpha(keyword, flat, 0.0, pool=20) == 0.0
    assert adaptive_alpha(keyword, flat, 1.0, pool=20) == 1.0


def test_adaptive_fusion_is_absolute_fusion_at_the_per_query_weight() -> None:
    keyword = [(1, 1.2), (2, 0.9), (3, 0.2)]
    dense = [(4, 0.9)] + [(i, 0.35) for i in range(5, 25)]
    weight = adaptive_alpha(keyword, dense, 0.7, pool=100)
    assert fuse_adaptive(keyword, dense, 0.7, pool=100) == fuse_absolute(keyword, dense, weight, pool=100)


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


def test_a_fiscal_year_written_as_one_word_is_searched_as_its_year_too() -> None:
    """ "FY2022" is searched in the word the filings answer in ("2022") and as written; the words of
    the question the answer's checks count stay as written."""
    assert analyze_query("revenue in FY2022") == ["revenu", "fy2022", "2022"]
    assert analyze_query("FY’22 and FY99") == ["fy", "22", "fy99", "2022", "1999"]
    assert analyze_query("the FYI section") == ["fyi", "section"]
    assert query_terms("What changed between FY2021 and FY22?") == ["changed", "fy2021", "fy22"]


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


def test_term_coverage_weighs_unseen_words_most() -> None:
    pool = 100
    assert term_coverage([5], pool) == 1.0  # one term: the keyword list itself says whether it is known
    assert term_coverage([], pool) == 1.0
    assert term_coverage([36, 21, 7], pool) == 1.0  # every word occurs somewhere
    seen_common = term_coverage([36, 21, 0], pool)  # "days", "office" found; "closed" in no passage
    assert 0.3 < seen_common < 0.45
    assert term_coverage([2, 0], pool) > term_coverage([300, 0], pool)  # a rare word found covers more
    assert term_coverage([0, 0], pool) == 0.0


def test_rescoring_by_the_best_sentence_reorders_the_head_only() -> None:
    keyword = [(1, 0.9), (2, 0.8)]
    dense = [(1, 0.50), (2, 0.45), (3, 0.40), (4, 0.30)]
    fused = fuse_absolute(keyword, dense, 0.5, pool=10)
    assert [cid for cid, _ in fused] == [1, 2, 3, 4]
    # passage 2 holds one sentence that matches the question much better than passage 1's best
    rescored = rescore_sentences(fused, keyword, dense, 0.5, 10, {1: 0.50, 2: 0.70, 4: 0.99}, depth=3)
    assert [cid for cid, _ in rescored] == [2, 1, 3, 4]  # 4 lies below the re-scored head: it stays there
    assert dict(rescored)[2] == pytest.approx(0.5 * 0.70 + 0.5 * 0.8)
    assert dict(rescored)[3] == pytest.approx(0.5 * 0.40)  # no sentence vectors: its passage cosine
    assert rescore_sentences(fused, keyword, dense, 0.5, 10, {}, depth=3) == fused
    assert rescore_sentences(fused, keyword, dense, 0.5, 10, {2: 0.9}, depth=0) == fused


def test_term_counts_go_through_the_store_with_its_permissions(demo_kb) -> None:
    store = demo_kb.store
    counts = term_counts(store, "Which days is the office closed?", 100, Filters(), Access.owner())
    assert len(counts) == 3 and counts[2] == 0 and counts[0] > 0 and counts[1] > 0  # nothing says "closed"
    assert term_counts(store, "office holiday", 100, Filters(), Access(workspaces=("sales",))) == [0, 0]


def test_the_office_closed_question_finds_the_holiday_list(demo_kb) -> None:
    """The demo's question in words the handbook never uses: the keyword retriever ranks the many
    passages about the office and days first (the holiday list was 7th in hybrid search); "closed"
    occurs nowhere, so with ``search.coverage`` the keyword side's say shrinks and the holiday list
    comes first. Sentence re-scoring (``search.sentences``) puts one line of "Working Remotely" ("mark
    which days you are working remotely") just above it. Both are off by default."""
    from docket.index.search import search

    question = "Which days is the office closed?"
    holidays = "Benefits and Perks/Holiday List.md"
    assert demo_kb.search(question, k=1, mode="semantic")[0].path == holidays
    assert search(demo_kb.store, demo_kb.embedder, question, k=1, coverage=2)[0].path == holidays
    assert demo_kb.search(question, k=1)[0].path != holidays  # the default: coverage off
    both = search(demo_kb.store, demo_kb.embedder, question, k=2, coverage=2, sentences=30)
    assert holidays in [h.path for h in both]


def test_hybrid_search_without_sentence_vectors_still_ranks(demo_kb, monkeypatch: pytest.MonkeyPatch) -> None:
    from docket.index.search import search

    question = "time off after having a baby"
    plain = search(demo_kb.store, demo_kb.embedder, question, k=3, sentences=0)
    assert "Benefits and Perks/New Parent Leave.md" in [h.path for h in plain]
    rescored = search(demo_kb.store, demo_kb.embedder, question, k=3, coverage=2, sentences=30)
    assert [h.chunk_id for h in plain] != [h.chunk_id for h in rescored]
    # a store that kept no sentence vectors (indexed before they were kept): the passage cosines stand
    monkeypatch.setattr(demo_kb.store.ledger, "sentence_vectors", lambda *args, **kwargs: {})
    unkept = search(demo_kb.store, demo_kb.embedder, question, k=3, sentences=30)
    assert [(h.chunk_id, h.score) for h in unkept] == [(h.chunk_id, h.score) for h in plain]


def test_the_benchmark_replay_ranks_as_search_does(demo_kb) -> None:
    """bench/fusion.py replays fuse_hybrid on stored lists, probes and sentence scores: the same ranking."""
    from docket.index.search import _best_sentences, fuse_hybrid, search

    store, embedder, owner = demo_kb.store, demo_kb.embedder, Access.owner()
    for question in ("Which days is the office closed?", "time off after having a baby", "laptop security"):
        vector = embedder.embed_queries([question])[0]
        keyword = store.keyword_search(question, 100, Filters(), owner)
        dense = store.vector_search(vector, 100, Filters(), owner)
        counts = term_counts(store, question, 100, Filters(), owner)
        every = store.hits([(cid, 0.0) for cid in dict.fromkeys(c for c, _ in keyword + dense)], owner)
        best = _best_sentences(store, embedder, vector, every)
        replay = fuse_hybrid(
            keyword,
            dense,
            0.75,
            100,
            coverage=lambda c=counts: term_coverage(c, 100),  # type: ignore[misc]
            best_sentence=lambda ids, b=best: b,  # type: ignore[misc]
        )
        hits = search(store, embedder, question, k=10, query_vector=vector, coverage=2, sentences=30)
        assert [h.chunk_id for h in hits] == [cid for cid, _ in replay[:10]]
        assert [h.score for h in hits] == pytest.approx([s for _, s in replay[:10]])
