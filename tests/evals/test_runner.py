"""run_eval on the real demo handbook, the gate, and agreement with bench/retrieval.py on BEIR sets."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from docket.answer.extractive import ABSTAIN_TEXT
from docket.config import load_settings
from docket.errors import UserError
from docket.evals.datasets import EvalItem, SourceRef, TestSet, load_test_set
from docket.evals.gate import compare, parse_floors
from docket.evals.matching import path_matches, source_matches
from docket.evals.runner import JUDGE_SYSTEM, corpus_settings, grounding, index_corpus, parse_judgement, run_eval
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.types import Answer, Citation, Hit, Location
from tests.bench_modules import load_bench
from tests.conftest import REPO

LEAVE = "Benefits and Perks/New Parent Leave.md"
REMOTE = "Employment Policies/Working Remotely.md"

HANDBOOK = TestSet(
    name="handbook",
    items=(
        EvalItem(
            "leave",
            "How many weeks of paid parental leave does Clef offer?",
            "Clef offers 12 weeks of paid leave for all full time employees",
            (SourceRef(LEAVE),),
        ),
        EvalItem("remote", "What does the remote work policy cover?", None, (SourceRef(REMOTE, "Scope"),)),
        EvalItem("off", "What is the boiling point of mercury in degrees Celsius?", unanswerable=True),
    ),
)


def _hit(path: str, label_path: tuple[str, ...] = (), source: str = "/docs", page: int | None = None) -> Hit:
    return Hit(1, "d", source, path, "t", "text", Location(page=page, heading_path=label_path), 1.0)


def test_a_source_matches_by_path_end_and_whole_words_of_the_location() -> None:
    assert path_matches("leave.md", "policies/leave.md", "/home/me/docs")
    assert path_matches("docs/policies/leave.md", "policies/leave.md", "/home/me/docs")
    assert path_matches("/home/me/docs/policies/leave.md", "policies/leave.md", "/home/me/docs")
    assert not path_matches("eave.md", "policies/leave.md", "/home/me/docs")
    assert not path_matches("other/leave.md", "policies/leave.md", "/home/me/docs")
    assert source_matches(SourceRef("a.pdf", "p. 3"), _hit("a.pdf", page=3))
    assert not source_matches(SourceRef("a.pdf", "p. 1"), _hit("a.pdf", page=13))
    assert source_matches(SourceRef("a.md", "scope"), _hit("a.md", ("Remote", "Scope")))


def test_retrieval_metrics_on_the_demo_handbook(demo_kb: KnowledgeBase) -> None:
    report = run_eval(demo_kb, HANDBOOK, answer=False)
    assert set(report.metrics) == {"retrieval", "latency_ms"}
    retrieval = report.metrics["retrieval"]
    assert {"hit@5", "recall@10", "mrr", "ndcg@10"} <= set(retrieval)
    assert retrieval["hit@5"] == 1.0
    leave = report.items[0]
    assert leave.retrieved_relevant is True and leave.rank == 1 and leave.hits[0].path == LEAVE
    assert len({h.path for h in leave.hits}) == len(leave.hits) == 10  # distinct documents, k of them
    assert report.items[2].hits == [] and report.items[2].retrieved_relevant is None
    assert report.counts["retrieval_scored"] == 2
    assert set(report.metrics["latency_ms"]) == {"p50", "p95"}
    assert any("answering was turned off" in line for line in report.not_measured)


def test_missing_sources_are_listed_and_retrieval_is_scored_on_the_rest(demo_kb: KnowledgeBase) -> None:
    test_set = TestSet(
        "partly missing",
        (
            EvalItem(
                "a",
                "How many weeks of paid parental leave does Clef offer?",
                None,
                (SourceRef(LEAVE), SourceRef("gone/old-policy.pdf")),
            ),
            EvalItem("b", "Where is the travel policy?", None, (SourceRef("travel.md"),)),
            EvalItem("c", "What does the remote work policy cover?", None, (SourceRef(REMOTE, "No Such Section"),)),
        ),
    )
    report = run_eval(demo_kb, test_set, answer=False)
    assert report.missing_sources == [f"{REMOTE}#No Such Section", "gone/old-policy.pdf", "travel.md"]
    assert report.counts["retrieval_scored"] == 1
    assert report.metrics["retrieval"]["recall@10"] == 1.0  # the missing source does not count against it
    assert [r.sources_in_kb for r in report.items] == [True, False, False]
    assert report.to_dict()["missing_sources"] == report.missing_sources


def test_without_a_model_answers_are_extractive_and_the_report_says_what_it_could_not_measure(
    demo_kb: KnowledgeBase,
) -> None:
    assert demo_kb.settings.model.name is None
    report = run_eval(demo_kb, HANDBOOK)
    out = report.to_dict()
    assert {"retrieval", "answers", "grounding", "abstention", "latency_ms"} <= set(out)
    assert "cost" not in out
    assert set(out["answers"]) == {"exact_match", "token_f1", "contains", "similarity"}
    assert out["answers"]["contains"] == 1.0  # the extractive answer quotes the reference sentence
    assert out["abstention"] == {"correct_abstention": 1.0, "wrong_abstention": 0.0}
    assert out["grounding"]["supported"] == 1.0  # extractive sentences are quotes of their sources
    reasons = " | ".join(out["not_measured"])
    assert "no model configured" in reasons and "answers.judge" in reasons and "cost" in reasons
    assert [r.correct for r in report.items] == [True, None, True]
    assert report.items[2].answer is not None and report.items[2].answer.text == ABSTAIN_TEXT


def test_a_judge_grades_answers_with_the_prompt_it_was_sent(demo_kb: KnowledgeBase) -> None:
    judge = FakeChatModel(replies=["Score: 2\nIt states the same number of weeks."])
    prompts: list[Any] = []
    report = run_eval(demo_kb, HANDBOOK.limit(1), judge=judge, on_prompt=prompts.append)
    assert report.metrics["answers"]["judge"] == 1.0
    assert report.items[0].judge_reply == "Score: 2\nIt states the same number of weeks."
    (prompt,) = prompts  # extractive answers send no prompt; the judge's is the one
    assert prompt.system == JUDGE_SYSTEM
    assert "Reference answer: Clef offers 12 weeks" in prompt.user and "Answer to grade:" in prompt.user
    wrong = run_eval(demo_kb, HANDBOOK.limit(1), judge=FakeChatModel(replies=["Score: 0 - wrong"]))
    assert wrong.metrics["answers"]["judge"] == 0.0 and wrong.items[0].correct is False
    assert parse_judgement("**Score:** 1") == 0.5 and parse_judgement("no idea") is None


def test_answers_by_a_model_count_tokens_and_say_cost_needs_a_price(demo_kb: KnowledgeBase) -> None:
    report = run_eval(demo_kb, HANDBOOK, model=FakeChatModel())
    assert report.settings["model"] == "fake:fake"
    cost = report.metrics["cost"]
    assert cost["per_answer"] is None and cost["prompt_tokens"] and cost["prompt_tokens"] > 0
    assert any(line.startswith("cost.per_answer") for line in report.not_measured)
    assert not any("no model configured" in line for line in report.not_measured)
    assert report.metrics["grounding"]["citations_per_answer"] == 1.0


def _answer(text: str, *supported: bool | None) -> Answer:
    numbers = [int(n) for n in __import__("re").findall(r"\[(\d)\]", text)]
    citations = tuple(
        Citation(n, "a.md", Location(), "q", supported=s) for n, s in zip(numbers, supported, strict=True)
    )
    return Answer("q", text, False, citations)


def test_grounding_counts_uncited_and_unsupported_sentences() -> None:
    assert grounding(_answer("One fact. [1] Another fact. [2]", True, True)) == (2, 2)  # extractive style
    assert grounding(_answer("One fact [1]. Another fact [2].", True, False)) == (1, 2)
    assert grounding(_answer("One fact [1]. Then a claim with no citation.", True)) == (1, 2)
    assert grounding(_answer("Both sources [1][2].", False, True)) == (1, 1)
    assert grounding(_answer("Unchecked [1].", None)) == (0, 1)
    assert grounding(_answer("Twelve weeks of leave. This is stated in the source [1].", True)) == (1, 1)


BASELINE = {
    "retrieval": {"hit@5": 0.9, "recall@10": 0.8, "mrr": 0.7, "ndcg@10": 0.75},
    "answers": {"token_f1": 0.5},
    "abstention": {"correct_abstention": 0.8, "wrong_abstention": 0.1},
    "grounding": {"supported": 0.9, "citations_per_answer": 2.0},
    "latency_ms": {"p50": 10.0, "p95": 20.0},
}


def _with(**changes: float) -> dict[str, Any]:
    out = json.loads(json.dumps(BASELINE))
    for name, value in changes.items():
        part, metric = name.split("__")
        out[part][metric.replace("_at_", "@")] = value
    return out


def test_the_gate_fails_on_drops_beyond_the_tolerance_and_on_floors() -> None:
    assert compare(BASELINE, BASELINE) == []
    assert compare(_with(retrieval__ndcg_at_10=0.745), BASELINE, tolerance=0.01) == []
    (failure,) = compare(_with(retrieval__ndcg_at_10=0.70), BASELINE, tolerance=0.01)
    assert failure.startswith("retrieval.ndcg@10 fell from 0.75 to 0.7")
    (rose,) = compare(_with(abstention__wrong_abstention=0.2), BASELINE)
    assert rose.startswith("abstention.wrong_abstention rose from 0.1 to 0.2")
    # slower, fewer citations, better scores: none of these fails
    assert (
        compare(_with(latency_ms__p95=999.0, grounding__citations_per_answer=1.0, answers__token_f1=0.9), BASELINE)
        == []
    )
    floors = parse_floors(["retrieval.ndcg@10=0.8", "answers.judge=0.5"])
    assert compare(BASELINE, None, floors=floors) == [
        "retrieval.ndcg@10 is 0.75, below the floor 0.8 (-0.05)",
        "answers.judge was not measured (floor 0.5)",
    ]
    # a metric only one side has is not compared
    assert compare({"retrieval": {"ndcg@10": 0.75}}, BASELINE) == []


@pytest.mark.parametrize("bad", ["ndcg=0.5", "retrieval.ndcg@10", "retrieval.ndcg@10=high", "speed.p50=3"])
def test_a_floor_that_is_not_part_metric_equals_number_is_refused(bad: str) -> None:
    with pytest.raises(UserError, match="--fail-below"):
        parse_floors([bad])


# ------------------------------------------------------------------------------------------------ BEIR
def _bench() -> ModuleType:
    return load_bench("bench_retrieval", "retrieval.py")


def _subset(folder: Path, out: Path, queries: int, others: int) -> Path:
    """The first ``queries`` judged queries of a BEIR folder, the documents they judge and ``others``
    more drawn at random: a small corpus that both measures index alike."""
    (out / "qrels").mkdir(parents=True)
    lines = (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    keep = list(dict.fromkeys(line.split("\t")[0] for line in lines[1:]))[:queries]
    judged = [line for line in lines[1:] if line.split("\t")[0] in keep]
    (out / "qrels" / "test.tsv").write_text("\n".join([lines[0], *judged]) + "\n", encoding="utf-8")
    needed = {line.split("\t")[1] for line in judged}
    corpus = [line for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    rest = [line for line in corpus if json.loads(line)["_id"] not in needed]
    random.Random(0).shuffle(rest)
    chosen = [line for line in corpus if json.loads(line)["_id"] in needed] + rest[:others]
    (out / "corpus.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    queries_text = (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    wanted = [line for line in queries_text if line.strip() and json.loads(line)["_id"] in keep]
    (out / "queries.jsonl").write_text("\n".join(wanted) + "\n", encoding="utf-8")
    return out


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)  # bench's open()
@pytest.mark.parametrize("dataset", ["beir-scifact", "classic-ir/cranfield"])
def test_beir_ndcg_at_10_equals_bench_retrieval_on_the_same_subset(
    dataset: str, shared_data: Path, tmp_path: Path, minilm: Any
) -> None:
    folder = _subset(shared_data / dataset, tmp_path / "subset", queries=10, others=40)
    bench = _bench().run(folder, "test", None, None, None)
    test_set = load_test_set(folder)
    settings = corpus_settings(load_settings(home=tmp_path / "kb"), test_set)
    assert settings.home == tmp_path / "kb" / "evals" / "subset"
    with KnowledgeBase(settings, embedder=minilm) as kb:
        indexed = index_corpus(kb, test_set)
        assert indexed.failed == []
        assert indexed.chunks_embedded == bench["chunks"]  # the same passages as bench's index
        report = run_eval(kb, test_set, answer=False)
        assert report.missing_sources == []
        ndcg = report.metrics["retrieval"]["ndcg@10"]
        assert ndcg == bench["hybrid"]["ndcg@10"], (ndcg, bench["hybrid"])
        assert 0.3 < ndcg <= 1.0  # a real ranking (10 queries over 50 documents can all come out right)
        assert index_corpus(kb, test_set).chunks_embedded == 0  # a second run embeds nothing


def test_the_judge_prompt_in_the_docs_is_the_one_sent() -> None:
    assert JUDGE_SYSTEM in (REPO / "docs" / "evals.md").read_text().replace("\n  ", "\n")


def test_right_wrong_and_refused_are_counted_apart_and_the_calibration_shows_every_threshold(
    demo_kb: KnowledgeBase,
) -> None:
    test_set = TestSet(
        name="outcomes",
        items=(
            *HANDBOOK.items,
            EvalItem(
                "wrong", "How many weeks of paid parental leave does Clef offer?", "26 weeks", (SourceRef(LEAVE),)
            ),
        ),
    )
    report = run_eval(demo_kb, test_set)
    out = report.to_dict()
    assert out["outcomes"] == {"correct": 0.5, "wrong": 0.5, "refused": 0.0}  # 'remote' has no reference
    assert out["citations"]["off_source"] == 0.0  # both answers cite New Parent Leave.md
    points = {p["threshold"]: p for p in out["calibration"]}
    assert out["settings"]["min_relevance"] == demo_kb.settings.answer.min_relevance
    low = points[0.3]
    assert low["correct"] + low["wrong"] + low["refused"] == 2 and low["answer_rate"] == 1.0
    rates = [points[t]["answer_rate"] for t in sorted(points)]
    refusals = [points[t]["refuses_unanswerable"] for t in sorted(points)]
    assert rates == sorted(rates, reverse=True) and refusals == sorted(refusals)  # a higher bar answers less
    # the answers reported are those the configured threshold gives, not the calibration's
    off = next(r for r in report.items if r.item.id == "off")
    assert off.answer is not None and off.answer.abstained and off.unthresholded is not None
