"""What a test set's run gives: an :class:`ItemResult` per question and the :class:`EvalReport`
holding them with the metrics (the JSON shape of ``docket eval run --json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from docket.evals.datasets import EvalItem, SourceRef
from docket.types import Answer, Hit

__all__ = ["EvalReport", "ItemResult", "metric_value"]


@dataclass
class ItemResult:
    """What happened to one question.

    ``hits`` are the ranked distinct results (best first, at most ``k``; empty when the question
    was not searched: it names no source in the knowledge base). ``retrieved_relevant``: was one
    of its sources among them (None: nothing to look for). ``correct``: for an unanswerable
    question, did it abstain; otherwise, the judge's score ≥ 0.5 when judged, else the reference
    answer is contained in the answer or token F1 ≥ 0.5; None when there is nothing to tell by.
    ``scores`` holds this question's metrics under the report's names.
    """

    item: EvalItem
    hits: list[Hit] = field(default_factory=list)
    answer: Answer | None = None
    latency_ms: float | None = None
    search_ms: float | None = None
    missing_sources: list[SourceRef] = field(default_factory=list)
    retrieved_relevant: bool | None = None
    rank: int | None = None  # rank of the first relevant result, if retrieved
    correct: bool | None = None
    judge_score: float | None = None
    judge_reply: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    sentences: int = 0  # answer sentences (grounding)
    supported_sentences: int = 0
    unthresholded: Answer | None = None  # an extractive answer as given without an abstention threshold
    correct_any: bool | None = None  # did that answer give the reference answer

    @property
    def sources_in_kb(self) -> bool | None:
        """Is at least one of the question's sources indexed? None when it names none."""
        if not self.item.sources:
            return None
        return len(self.missing_sources) < len(self.item.sources)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.item.to_data()}
        if self.missing_sources:
            out["missing_sources"] = [s.label() for s in self.missing_sources]
        if self.hits:
            out["retrieved"] = [
                {"path": h.path, "location": h.location.label(), "score": round(h.score, 6)} for h in self.hits
            ]
        out["retrieved_relevant"] = self.retrieved_relevant
        out["rank"] = self.rank
        if self.answer is not None:
            a = self.answer
            out["response"] = {
                "text": a.text,
                "abstained": a.abstained,
                "citations": [c.to_dict() for c in a.citations],
                "model": a.model,
                "usage": a.usage.to_dict() if a.usage else None,
            }
        out["correct"] = self.correct
        if self.judge_score is not None or self.judge_reply is not None:
            out["judge_score"] = self.judge_score
            out["judge_reply"] = self.judge_reply
        out["scores"] = {k: round(v, 4) for k, v in self.scores.items()}
        out["latency_ms"] = None if self.latency_ms is None else round(self.latency_ms, 1)
        return out


@dataclass
class EvalReport:
    """A test set's results: ``metrics`` is the contract's JSON shape (``retrieval``, ``answers``,
    ``grounding``, ``abstention``, ``latency_ms``, ``cost``; parts that were not measured are
    absent and named in ``not_measured``)."""

    name: str
    items: list[ItemResult]
    metrics: dict[str, dict[str, float | None]]
    missing_sources: list[str] = field(default_factory=list)
    not_measured: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    label: str = "docket"
    settings: dict[str, Any] = field(default_factory=dict)
    calibration: list[dict[str, Any]] = field(default_factory=list)  # see :func:`calibration`

    def metric(self, name: str) -> float | None:
        """A metric by its dotted name, e.g. ``retrieval.ndcg@10``."""
        return metric_value(self.metrics, name)

    def to_dict(self, items: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, **self.metrics}
        out["counts"] = dict(self.counts)
        out["missing_sources"] = list(self.missing_sources)
        out["not_measured"] = list(self.not_measured)
        out["settings"] = dict(self.settings)
        if self.calibration:
            out["calibration"] = list(self.calibration)
        if items:
            out["items"] = [r.to_dict() for r in self.items]
        return out


def metric_value(data: Mapping[str, Any], name: str) -> float | None:
    """A metric by its dotted name (``retrieval.ndcg@10``) in a report's metrics; None when absent."""
    part, _, metric = name.partition(".")
    value = data.get(part, {}).get(metric) if isinstance(data.get(part), Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)
