"""Run a test set against a knowledge base, and gate a change on the result.

:func:`run_eval` asks every question of a :class:`~docket.evals.datasets.TestSet` the way a user
would — ``kb.search`` for retrieval, ``kb.ask`` for the answer — and measures:

- **retrieval** (questions with sources in the knowledge base): the hits are reduced to distinct
  results, best first — a hit matching one of the question's sources counts as that source, any
  other hit as its document — and the first ``k`` are scored with hit@1/5/10, recall@5/10, MRR
  and nDCG@10 (:mod:`docket.evals.metrics`). For a BEIR set this is ``bench/retrieval.py``'s
  measure: documents ranked by their best chunk.
- **answers** (questions with a reference answer): exact match, token F1, ``contains`` (the
  reference appears in the answer), cosine similarity of answer and reference with the knowledge
  base's embedder, and with a judge model a correctness score (:func:`judge_prompt` shows what it
  is asked). An abstention on such a question scores 0 everywhere.
- **grounding** (answers that do not abstain): the share of answer sentences supported by their
  citations (a sentence without a citation, or whose citations all have ``supported`` not true,
  is unsupported) and the citations per answer.
- **abstention**: the share of unanswerable questions answered "not in the documents"
  (``correct_abstention``) and of answerable questions where it abstained (``wrong_abstention``).
- **latency_ms** p50/p95 of answering (of searching when answers are off) and **cost** per answer.

Whatever could not be measured is listed in ``not_measured`` with the reason; sources that match
no indexed document are listed in ``missing_sources`` and retrieval is scored on the rest.
The gate (:func:`docket.evals.gate.compare`) checks a report against a baseline and floors;
:mod:`docket.evals.matching` tells whether a source names a hit; :mod:`docket.evals.results`
holds the report's shape.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from docket.answer.extractive import ABSTAIN_TEXT
from docket.answer.grounded import claims
from docket.errors import UserError
from docket.evals import metrics as m
from docket.evals.datasets import EvalItem, SourceRef, TestSet, write_beir_corpus
from docket.evals.matching import SourceIndex, path_matches, source_matches
from docket.evals.results import EvalReport, ItemResult
from docket.models.prompts import Prompt
from docket.types import Answer, Hit

if TYPE_CHECKING:
    from docket.config import Settings
    from docket.kb import KnowledgeBase
    from docket.protocols import ChatModel
    from docket.types import SyncReport

__all__ = [
    "JUDGE_SYSTEM",
    "EvalReport",
    "ItemResult",
    "corpus_settings",
    "index_corpus",
    "judge_prompt",
    "run_eval",
    "source_matches",
]


JUDGE_SYSTEM = """You grade answers to questions about a business's documents.
Compare the answer with the reference answer. Judge only whether the answer states the facts of the
reference answer; ignore wording, length, extra detail that does not contradict it, and citation
markers such as [1].
Reply on the first line with "Score: N" where N is 0 (wrong, missing or contradicting the reference),
1 (partly correct) or 2 (correct), then give one sentence of explanation."""

_CITE = re.compile(r"\[(\d{1,3})\]")
_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*([0-2])\b", re.IGNORECASE)


def judge_prompt(question: str, reference: str, answer: str) -> Prompt:
    """Exactly what the judge model is sent for one answer."""
    user = f"Question: {question.strip()}\n\nReference answer: {reference.strip()}\n\nAnswer to grade: {answer.strip()}"
    return Prompt(system=JUDGE_SYSTEM, user=user)


def parse_judgement(text: str) -> float | None:
    """The judge's ``Score: N`` as 0, 0.5 or 1; None when the reply has no score."""
    match = _SCORE.search(text) or re.match(r"\s*([0-2])\b", text)
    return int(match.group(1)) / 2 if match else None


# ---------------------------------------------------------------------------------------- the run
def _ranked(hits: Sequence[Hit], refs: Sequence[SourceRef], k: int) -> tuple[list[str], list[Hit]]:
    """Distinct results best first: a hit matching a source counts as that source, others as
    their document; at most ``k``."""
    keys: list[str] = []
    kept: list[Hit] = []
    for hit in hits:
        matched = [f"#{j}" for j, ref in enumerate(refs) if source_matches(ref, hit)]
        key = next((x for x in matched if x not in keys), None)
        if key is None:
            if matched:
                continue  # these sources were already ranked higher
            key = f"{hit.source}\x00{hit.path}"
            if key in keys:
                continue
        keys.append(key)
        kept.append(hit)
        if len(keys) >= k:
            break
    return keys, kept


def grounding(answer: Answer) -> tuple[int, int]:
    """``(supported sentences, sentences)`` of an answer: a sentence is supported when one of its
    citations has ``supported`` true; a sentence citing nothing is unsupported."""
    pending: dict[int, deque[Any]] = {}
    for citation in answer.citations:
        pending.setdefault(citation.n, deque()).append(citation)
    sentences = claims(answer.text)
    supported = 0
    for claim in sentences:
        numbers = list(dict.fromkeys(int(n) for n in _CITE.findall(claim)))
        found = [pending[n].popleft() for n in numbers if pending.get(n)]
        supported += any(c.supported is True for c in found)
    return supported, len(sentences)


def _plain(text: str) -> str:
    return re.sub(r"\s{2,}", " ", _CITE.sub("", text)).strip()


@contextmanager
def _every_answer(kb: KnowledgeBase, extractive: bool) -> Iterator[float | None]:
    """While asking an extractive question, answer whatever the evidence (threshold 0), so the
    calibration sees every answer; yields the configured threshold to apply afterwards."""
    if not extractive:
        yield None
        return
    settings = kb.settings
    threshold = settings.answer.min_relevance
    kb.settings = settings.model_copy(update={"answer": settings.answer.model_copy(update={"min_relevance": 0.0})})
    try:
        yield threshold
    finally:
        kb.settings = settings


def _reference_match(item: EvalItem, answer: Answer) -> bool | None:
    """Does ``answer`` give the reference answer (contained, or token F1 of at least 0.5)?"""
    if item.answer is None or item.unanswerable:
        return None
    if answer.abstained:
        return False
    text = _plain(answer.text)
    return m.contains(text, item.answer) == 1.0 or m.token_f1(text, item.answer) >= 0.5


def _at_threshold(answer: Answer, threshold: float) -> Answer:
    """``answer`` as the configured threshold would have given it."""
    if answer.abstained or answer.method != "extractive" or answer.confidence >= threshold:
        return answer
    return replace(answer, text=ABSTAIN_TEXT, abstained=True, citations=())


CALIBRATION_THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(12))


def calibration(results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    """Answer rate against accuracy at each abstention threshold, from the extractive answers
    given without one: correct / wrong / refused among answerable questions that can be judged,
    and refusals of unanswerable ones."""
    judged = [
        (r.unthresholded, bool(r.correct_any))
        for r in results
        if r.unthresholded is not None and not r.item.unanswerable and r.correct_any is not None
    ]
    unanswerable = [r.unthresholded for r in results if r.unthresholded is not None and r.item.unanswerable]
    if not judged and not unanswerable:
        return []
    points = []
    for t in CALIBRATION_THRESHOLDS:
        given = [right for a, right in judged if not a.abstained and a.confidence >= t]
        right = sum(given)
        refused = [a for a in unanswerable if a.abstained or a.confidence < t]
        points.append(
            {
                "threshold": t,
                "answer_rate": round(len(given) / len(judged), 4) if judged else None,
                "accuracy_of_answered": round(right / len(given), 4) if given else None,
                "correct": right,
                "wrong": len(given) - right,
                "refused": len(judged) - len(given),
                "refuses_unanswerable": round(len(refused) / len(unanswerable), 4) if unanswerable else None,
            }
        )
    return points


def run_eval(
    kb: KnowledgeBase,
    test_set: TestSet,
    *,
    model: str | ChatModel | None = None,
    k: int = 10,
    judge: str | ChatModel | None = None,
    answer: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    label: str = "docket",
    on_prompt: Callable[[Any], None] | None = None,
) -> EvalReport:
    """Ask every question of ``test_set`` and measure (see the module's docstring).

    ``model``: answer with this model (a spec or a ChatModel); None uses ``model.name`` when set,
    else extractive answers. ``answer=False`` measures retrieval only. ``judge`` grades answers
    against the reference answers. ``on_prompt`` sees every prompt sent, the judge's included.
    """
    if k < 1:
        raise UserError("k must be at least 1")
    chat: ChatModel | None = None
    if answer and model is not None:
        chat = kb.chat_model(model) if isinstance(model, str) else model
    elif answer and kb.settings.model.name:
        chat = kb.chat_model()
    grader: ChatModel | None = None
    if answer and judge is not None:
        grader = kb.chat_model(judge) if isinstance(judge, str) else judge
    index = SourceIndex(kb)
    depth = max(k, kb.settings.search.candidates)
    results: list[ItemResult] = []
    total = len(test_set.items)
    for done, item in enumerate(test_set.items, start=1):
        result = ItemResult(item)
        refs: list[SourceRef] = []
        for ref in item.sources:
            (refs if index.exists(ref) else result.missing_sources).append(ref)
        if refs and not item.unanswerable:
            started = time.perf_counter()
            hits = kb.search(item.question, k=depth)
            result.search_ms = (time.perf_counter() - started) * 1000
            keys, result.hits = _ranked(hits, refs, k)
            relevant = {f"#{j}": float(ref.relevance) for j, ref in enumerate(refs)}
            result.scores.update(_retrieval_scores(keys, relevant))
            result.retrieved_relevant = any(key in relevant for key in keys)
            result.rank = next((i for i, key in enumerate(keys, start=1) if key in relevant), None)
            result.latency_ms = result.search_ms
        if answer:
            started = time.perf_counter()
            with _every_answer(kb, chat is None) as threshold:
                result.answer = kb.ask(item.question, model=chat, on_prompt=on_prompt)
            result.latency_ms = (time.perf_counter() - started) * 1000
            if threshold is not None:  # extractive: keep the answer for the calibration, then apply the threshold
                result.unthresholded = result.answer
                result.answer = _at_threshold(result.answer, threshold)
                result.correct_any = _reference_match(item, result.unthresholded)
            _score_answer(result, grader, on_prompt)
        results.append(result)
        if progress is not None:
            progress(done, total, item.question)
    _similarities(kb, results)
    for result in results:
        result.correct = _correct(result)
    return _report(kb, test_set, results, k=k, answer=answer, chat=chat, grader=grader, label=label)


def _retrieval_scores(keys: list[str], relevant: Mapping[str, float]) -> dict[str, float]:
    return {
        "hit@1": m.hit_at_k(keys, relevant, 1),
        "hit@5": m.hit_at_k(keys, relevant, 5),
        "hit@10": m.hit_at_k(keys, relevant, 10),
        "recall@5": m.recall_at_k(keys, relevant, 5),
        "recall@10": m.recall_at_k(keys, relevant, 10),
        "mrr": m.reciprocal_rank(keys, relevant),
        "ndcg@10": m.ndcg_at_k(keys, relevant, 10),
    }


def _score_answer(result: ItemResult, grader: ChatModel | None, on_prompt: Callable[[Any], None] | None) -> None:
    answer, item = result.answer, result.item
    assert answer is not None
    if not answer.abstained:
        result.supported_sentences, result.sentences = grounding(answer)
    if item.unanswerable or item.answer is None:
        return
    text = "" if answer.abstained else _plain(answer.text)
    result.scores["exact_match"] = m.exact_match(text, item.answer)
    result.scores["token_f1"] = m.token_f1(text, item.answer)
    result.scores["contains"] = m.contains(text, item.answer)
    if grader is None:
        return
    if answer.abstained:
        result.judge_score = 0.0
    else:
        prompt = judge_prompt(item.question, item.answer, text)
        if on_prompt is not None:
            on_prompt(prompt)
        reply = grader.complete(prompt)
        result.judge_reply = reply.text.strip()
        result.judge_score = parse_judgement(reply.text)
    if result.judge_score is not None:
        result.scores["judge"] = result.judge_score


def _similarities(kb: KnowledgeBase, results: Sequence[ItemResult]) -> None:
    """Cosine of answer and reference with the knowledge base's embedder, in one batch."""
    pairs = [
        (r, _plain(r.answer.text), r.item.answer or "")
        for r in results
        if r.answer is not None and not r.answer.abstained and "exact_match" in r.scores
    ]
    for r in results:
        if r.answer is not None and r.answer.abstained and "exact_match" in r.scores:
            r.scores["similarity"] = 0.0
    if not pairs:
        return
    vectors = kb.embedder.embed_passages([t for _, a, ref in pairs for t in (a, ref)])
    for i, (r, _, _) in enumerate(pairs):
        r.scores["similarity"] = max(0.0, float(vectors[2 * i] @ vectors[2 * i + 1]))


def _correct(result: ItemResult) -> bool | None:
    answer, item = result.answer, result.item
    if answer is None:
        return None
    if item.unanswerable:
        return answer.abstained
    if answer.abstained and (item.answer is not None or item.sources):
        return False
    if result.judge_score is not None:
        return result.judge_score >= 0.5
    if item.answer is not None:
        return result.scores.get("contains", 0.0) == 1.0 or result.scores.get("token_f1", 0.0) >= 0.5
    return None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    value = m.mean(present)
    return None if value is None else round(value, 4)


def _report(
    kb: KnowledgeBase,
    test_set: TestSet,
    results: list[ItemResult],
    *,
    k: int,
    answer: bool,
    chat: ChatModel | None,
    grader: ChatModel | None,
    label: str,
) -> EvalReport:
    metrics: dict[str, dict[str, float | None]] = {}
    not_measured: list[str] = []
    items = [r.item for r in results]
    searched = [r for r in results if r.scores.get("ndcg@10") is not None]
    if searched:
        names = ("hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr", "ndcg@10")
        metrics["retrieval"] = {name: _mean(r.scores[name] for r in searched) for name in names}
    elif any(i.sources for i in items):
        not_measured.append("retrieval: none of the sources the questions name is in the knowledge base")
    else:
        not_measured.append("retrieval: no question names its sources")
    answered = [r for r in results if r.answer is not None]
    if not answer:
        not_measured.append("answers, grounding, abstention, cost: answering was turned off (retrieval only)")
    else:
        if chat is None:
            not_measured.append(
                "answers by a model: no model configured, so answers are extractive "
                "(pass --model SPEC or set model.name)"
            )
        graded = [r for r in answered if "exact_match" in r.scores]
        if graded:
            part: dict[str, float | None] = {
                name: _mean(r.scores.get(name) for r in graded)
                for name in ("exact_match", "token_f1", "contains", "similarity")
            }
            if grader is not None:
                part["judge"] = _mean(r.judge_score for r in graded)
            else:
                not_measured.append("answers.judge: no judge model (pass --judge SPEC)")
            metrics["answers"] = part
        else:
            not_measured.append("answers: no question has a reference answer")
        spoken = [r for r in answered if r.answer is not None and not r.answer.abstained]
        if spoken:
            sentences = sum(r.sentences for r in spoken)
            metrics["grounding"] = {
                "supported": round(sum(r.supported_sentences for r in spoken) / sentences, 4) if sentences else 0.0,
                "citations_per_answer": _mean(
                    float(len({c.n for c in r.answer.citations})) for r in spoken if r.answer is not None
                ),
            }
        else:
            not_measured.append("grounding: every answer abstained")
        abstention: dict[str, float | None] = {}
        unanswerable = [r for r in answered if r.item.unanswerable]
        answerable = [r for r in answered if not r.item.unanswerable]
        if unanswerable:
            abstention["correct_abstention"] = _mean(float(r.answer.abstained) for r in unanswerable if r.answer)
        else:
            not_measured.append("abstention.correct_abstention: no question is marked unanswerable")
        if answerable:
            abstention["wrong_abstention"] = _mean(float(r.answer.abstained) for r in answerable if r.answer)
        if abstention:
            metrics["abstention"] = abstention
        judged = [(r.correct, r.answer.abstained) for r in answerable if r.correct is not None and r.answer]
        if judged:  # a wrong answer costs more than a refusal: they are counted apart
            right = sum(1 for correct, abstained in judged if correct and not abstained)
            refused = sum(1 for _, abstained in judged if abstained)
            metrics["outcomes"] = {
                "correct": round(right / len(judged), 4),
                "wrong": round((len(judged) - right - refused) / len(judged), 4),
                "refused": round(refused / len(judged), 4),
            }
        cited = [(r.item.sources, r.answer.citations) for r in spoken if r.item.sources and r.answer]
        cited = [(refs, citations) for refs, citations in cited if citations]
        if cited:  # answers that cite a document none of the question's sources is
            off = sum(
                1
                for refs, citations in cited
                if any(not any(path_matches(ref.path, c.path) for ref in refs) for c in citations)
            )
            metrics["citations"] = {"off_source": round(off / len(cited), 4)}
        costed = [r.answer.usage for r in answered if r.answer is not None and r.answer.model and r.answer.usage]
        if costed:
            priced = [u.cost for u in costed if u.cost is not None]
            metrics["cost"] = {
                "per_answer": round(sum(priced) / len(answered), 6) if len(priced) == len(costed) else None,
                "prompt_tokens": _mean(float(u.prompt_tokens) for u in costed),
                "completion_tokens": _mean(float(u.completion_tokens) for u in costed),
            }
            if len(priced) < len(costed):
                not_measured.append("cost.per_answer: no price configured for the model (model.prices)")
        elif answered:
            not_measured.append("cost: no model was called (extractive answers cost nothing)")
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    if latencies:
        p50, p95 = m.percentile(latencies, 50), m.percentile(latencies, 95)
        metrics["latency_ms"] = {
            "p50": None if p50 is None else round(p50, 1),
            "p95": None if p95 is None else round(p95, 1),
        }
    missing = sorted({s.label() for r in results for s in r.missing_sources})
    counts = {
        "questions": len(items),
        "answerable": sum(not i.unanswerable for i in items),
        "unanswerable": sum(i.unanswerable for i in items),
        "generated": sum(i.generated for i in items),
        "with_sources": sum(bool(i.sources) for i in items),
        "retrieval_scored": len(searched),
        "with_reference": sum(i.answer is not None and not i.unanswerable for i in items),
        "answered": sum(1 for r in answered if r.answer is not None and not r.answer.abstained),
        "abstained": sum(1 for r in answered if r.answer is not None and r.answer.abstained),
    }
    if grader is not None:
        counts["judge_unparsed"] = sum(1 for r in answered if r.judge_reply is not None and r.judge_score is None)
        if counts["judge_unparsed"]:
            not_measured.append(
                f"answers.judge for {counts['judge_unparsed']} answer(s): the judge's reply had no 'Score: N'"
            )
    cfg = kb.settings
    settings = {
        "k": k,
        "mode": cfg.search.mode,
        "alpha": cfg.search.alpha,
        "fusion": cfg.search.fusion,
        "candidates": cfg.search.candidates,
        "embedder": cfg.embedder.name,
        "chunk_max_tokens": cfg.chunking.max_tokens,
        "answer_top_k": cfg.answer.top_k,
        "min_relevance": cfg.answer.min_relevance,
        "model": chat.name if chat is not None else None,
        "judge": grader.name if grader is not None else None,
    }
    return EvalReport(
        name=test_set.name,
        items=results,
        metrics=metrics,
        missing_sources=missing,
        not_measured=not_measured,
        counts=counts,
        label=label,
        settings=settings,
        calibration=calibration(answered),
    )


# ---------------------------------------------------------------------------------------- BEIR corpus
def corpus_settings(settings: Settings, test_set: TestSet) -> Settings:
    """Settings for the knowledge base that holds a BEIR set's corpus: ``<home>/evals/<name>/``,
    with every other setting as given (so the corpus is indexed and searched the same way)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", test_set.name).strip("-.") or "beir"
    # a scratch index under the home, never the configured database (it would mix the test corpus in)
    return settings.model_copy(
        update={"home": settings.home / "evals" / slug, "store": settings.store.model_copy(update={"url": None})}
    )


def index_corpus(
    kb: KnowledgeBase, test_set: TestSet, progress: Callable[[int, int, str], None] | None = None
) -> SyncReport:
    """Write a BEIR set's corpus as one file per document under ``<kb home>/corpus/`` and index
    what changed (a second run re-reads the files but embeds nothing)."""
    if test_set.corpus is None:
        raise UserError(f"test set '{test_set.name}' has no corpus to index")
    if not test_set.corpus.is_file():
        raise UserError(f"{test_set.corpus}: the test set's corpus does not exist")
    folder = kb.settings.home / "corpus"
    write_beir_corpus(test_set.corpus, folder)
    return kb.ingest([str(folder)], progress=progress)
