"""Why the reality check's baseline failed a question: a cause for each failed question, by the
first rule of :data:`CAUSE_RULES` that holds (the causes are those of
:data:`docket.evals.verdict.CAUSES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docket.evals.datasets import EvalItem, SourceRef
from docket.evals.matching import path_matches, source_matches
from docket.evals.metrics import normalize_answer
from docket.evals.results import EvalReport, ItemResult
from docket.types import Document, Hit

__all__ = ["CAUSE_RULES", "CLOSE_SCORES", "MIN_ANSWER_WORDS", "Failure", "failure_cause", "failures_of"]

CLOSE_SCORES = 0.05  # two documents' scores within 5% of each other are "close"
MIN_ANSWER_WORDS = 3  # a reference answer shorter than this is not searched for in passages

CAUSE_RULES = (
    ("not_in_kb", "None of the sources the question names matches an indexed document."),
    ("retrieval_missed", "A source is indexed, but none is among the top k results of the search."),
    (
        "ambiguous",
        "A source was retrieved, but among the two best results a different document scores within "
        f"{CLOSE_SCORES * 100:.0f}% of it, or the reference answer appears word for word in retrieved passages "
        "of two or more documents.",
    ),
    (
        "model",
        "A source was retrieved and the answer is still wrong or an abstention (or an unanswerable question "
        "was answered).",
    ),
    ("unknown", "The question names no source, so retrieval cannot be told apart from the model."),
)


@dataclass(frozen=True)
class Failure:
    """A question the baseline got wrong, and why (a key of :data:`~docket.evals.verdict.CAUSES`)."""

    item: EvalItem
    cause: str
    detail: str
    answer: str = ""
    retrieved: tuple[str, ...] = ()
    restricted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "question": self.item.question,
            "reference": self.item.answer,
            "sources": [s.label() for s in self.item.sources],
            "cause": self.cause,
            "detail": self.detail,
            "answer": self.answer,
            "retrieved": list(self.retrieved),
            "restricted": self.restricted,
        }


def _matching(hit: Hit, refs: Sequence[SourceRef]) -> bool:
    return any(source_matches(ref, hit) for ref in refs)


def failure_cause(result: ItemResult) -> tuple[str, str]:
    """``(cause, detail)`` of a failed question, by the first rule of :data:`CAUSE_RULES` that holds."""
    item, answer = result.item, result.answer
    if item.unanswerable:
        return "model", "answered a question the documents cannot answer"
    if result.sources_in_kb is None:
        return "unknown", "the question names no source"
    if not result.sources_in_kb:
        return "not_in_kb", "not indexed: " + ", ".join(s.label() for s in result.missing_sources)
    if not result.retrieved_relevant:
        return "retrieval_missed", f"no source among the top {len(result.hits) or 'k'} results"
    refs = [s for s in item.sources if s not in result.missing_sources]
    top = result.hits[:2]
    if len(top) == 2 and any(_matching(h, refs) for h in top) and not all(_matching(h, refs) for h in top):
        high, low = max(h.score for h in top), min(h.score for h in top)
        if high > 0 and (high - low) / high <= CLOSE_SCORES:
            other = next(h for h in top if not _matching(h, refs))
            return "ambiguous", f"{other.path} scores within {CLOSE_SCORES * 100:.0f}% of the source"
    reference = normalize_answer(item.answer or "")
    if len(reference.split()) >= MIN_ANSWER_WORDS:
        holding = {h.path for h in result.hits if f" {reference} " in f" {normalize_answer(h.text)} "}
        if len(holding) >= 2:
            return "ambiguous", "the reference answer appears in " + ", ".join(sorted(holding))
    what = "abstained" if answer is not None and answer.abstained else "wrong answer"
    return "model", f"{what} with the source retrieved (rank {result.rank})"


def failures_of(report: EvalReport, documents: Sequence[Document] = ()) -> list[Failure]:
    """The baseline's failed questions with their causes. ``restricted``: the question's source is
    a document with an access list and the answer abstained (an access problem, not accuracy)."""
    out = []
    for r in report.items:
        if r.correct is not False:
            continue
        cause, detail = failure_cause(r)
        abstained = r.answer is not None and r.answer.abstained
        restricted = abstained and any(
            doc.access and path_matches(ref.path, doc.path, doc.source) for ref in r.item.sources for doc in documents
        )
        out.append(
            Failure(
                r.item,
                cause,
                detail,
                answer="" if r.answer is None else r.answer.text,
                retrieved=tuple(h.path for h in r.hits[:5]),
                restricted=restricted,
            )
        )
    return out
