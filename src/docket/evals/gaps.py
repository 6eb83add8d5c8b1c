"""Knowledge gaps from real use: the questions people asked that Docket did not answer well,
grouped by topic — the list of documents the business should write next.

A logged answer (``kb.ledger.answer_logs``: the command line, the server, the widget) counts when
it abstained, when its confidence is under a threshold, or when someone rated it not helpful
(feedback with rating -1 in the server's ``accounts.db``). The questions are embedded with the
knowledge base's own embedder and grouped by agglomerative clustering: the two groups whose
centroids are most similar are merged, again and again, while that cosine similarity is at least
``threshold``. Each group is labelled by its most frequent content words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from docket.index.keywords import STOPWORDS, query_terms

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "DEFAULT_THRESHOLD",
    "Gap",
    "GapQuestion",
    "find_gaps",
    "gap_questions",
    "group_questions",
]

DEFAULT_MIN_CONFIDENCE = 0.52  # answered with evidence just above the abstention line (answer.min_relevance 0.44)
DEFAULT_THRESHOLD = 0.35  # cosine similarity of two groups' centroids for them to merge
MAX_QUESTIONS = 1000  # distinct questions clustered (the most recent); beyond that the report says so
EXAMPLES = 5

# Words that say how someone asks, not what about.
_ASKING = frozenset(
    """can get need want know tell please us much many way ways find also use used using make
    give like one two yes ok hi hello thanks thank anyone someone something anything get""".split()
)


@dataclass(frozen=True)
class GapQuestion:
    """One logged question that ended badly, and why it counts."""

    log_id: int
    question: str
    at: float
    reasons: tuple[str, ...]  # "abstained", "low confidence", "negative feedback"
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "question": self.question,
            "at": self.at,
            "reasons": list(self.reasons),
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Gap:
    """A topic people ask about and Docket cannot answer well."""

    label: str
    keywords: tuple[str, ...]
    count: int  # questions asked (repeats included)
    examples: tuple[str, ...]  # distinct questions, most asked first
    reasons: Mapping[str, int] = field(default_factory=dict)
    log_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "keywords": list(self.keywords),
            "count": self.count,
            "examples": list(self.examples),
            "reasons": dict(self.reasons),
            "log_ids": list(self.log_ids),
        }


def gap_questions(
    records: Iterable[Mapping[str, Any]],
    *,
    negative: Iterable[int] = (),
    since: float | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
) -> list[GapQuestion]:
    """The logged answers that count as gaps: abstained, confidence under ``min_confidence`` (when
    the log records one), or with negative feedback (``negative``: their log ids). ``keep`` may
    narrow the records further (the server keeps a caller's workspaces)."""
    disliked = set(negative)
    out = []
    for record in records:
        if since is not None and float(record.get("at") or 0.0) < since:
            continue
        if keep is not None and not keep(record):
            continue
        reasons = []
        confidence = record.get("confidence")
        if record.get("abstained"):
            reasons.append("abstained")
        elif confidence is not None and float(confidence) < min_confidence:
            reasons.append("low confidence")
        if record.get("id") in disliked:
            reasons.append("negative feedback")
        question = str(record.get("question") or "").strip()
        if reasons and question:
            out.append(
                GapQuestion(
                    int(record.get("id") or 0),
                    question,
                    float(record.get("at") or 0.0),
                    tuple(reasons),
                    None if confidence is None else float(confidence),
                )
            )
    return out


def negative_feedback(accounts: Any) -> set[int]:
    """Log ids rated not helpful (-1) in a server's accounts."""
    return {int(f["log_id"]) for f in accounts.answers.feedback() if int(f["rating"]) < 0}


def _key(question: str) -> str:
    return " ".join(question.lower().split()).rstrip("?!. ")


def _cluster(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Centroid-linkage agglomerative clustering of unit ``vectors`` by cosine similarity."""
    n = len(vectors)
    if n == 0:
        return []
    sums = vectors.astype(np.float64).copy()
    members: list[list[int]] = [[i] for i in range(n)]
    active = np.ones(n, dtype=bool)

    def centroids() -> np.ndarray:
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return sums / np.maximum(norms, 1e-12)

    unit = centroids()
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    while True:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, n)
        if not np.isfinite(sim[i, j]) or sim[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        sums[i] += sums[j]
        members[i].extend(members[j])
        members[j] = []
        active[j] = False
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        centre = sums[i] / max(float(np.linalg.norm(sums[i])), 1e-12)
        row = unit @ centre
        unit[i] = centre
        row[~active] = -np.inf
        row[i] = -np.inf
        sim[i, :] = row
        sim[:, i] = row
    return [sorted(m) for m in members if m]


def _content_words(question: str) -> list[str]:
    return [w for w in query_terms(question) if w not in STOPWORDS and w not in _ASKING and not w.isdigit()]


def _label(questions: Sequence[str], weights: Sequence[int]) -> tuple[str, ...]:
    """The group's most frequent content words (counted once per question, weighted by repeats)."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for question, weight in zip(questions, weights, strict=True):
        for word in dict.fromkeys(_content_words(question)):
            counts[word] += weight
            first.setdefault(word, len(first))
    ranked = sorted(counts, key=lambda w: (-counts[w], first[w]))
    return tuple(ranked[:3])


def group_questions(
    questions: Sequence[GapQuestion], embedder: Any, *, threshold: float = DEFAULT_THRESHOLD
) -> list[Gap]:
    """Group ``questions`` by topic, biggest group first. Repeats of a question (same words,
    ignoring case and end punctuation) are embedded once and counted as many times as asked."""
    by_key: dict[str, list[GapQuestion]] = {}
    for q in sorted(questions, key=lambda q: -q.at):  # most recent first, so a cap keeps the newest
        by_key.setdefault(_key(q.question), []).append(q)
    keys = list(by_key)[:MAX_QUESTIONS]
    if not keys:
        return []
    texts = [by_key[k][0].question for k in keys]
    vectors = np.asarray(embedder.embed_queries(texts), dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    gaps = []
    for group in _cluster(vectors, threshold):
        asked = [by_key[keys[i]] for i in group]
        weights = [len(a) for a in asked]
        order = sorted(range(len(group)), key=lambda x: (-weights[x], -asked[x][0].at))
        keywords = _label([texts[group[x]] for x in order], [weights[x] for x in order])
        reasons: Counter[str] = Counter(r for a in asked for q in a for r in q.reasons)
        gaps.append(
            Gap(
                label=" · ".join(keywords) or texts[group[order[0]]],
                keywords=keywords,
                count=sum(weights),
                examples=tuple(texts[group[x]] for x in order[:EXAMPLES]),
                reasons=dict(reasons),
                log_ids=tuple(sorted(q.log_id for a in asked for q in a)),
            )
        )
    gaps.sort(key=lambda g: (-g.count, g.label))
    return gaps


def find_gaps(
    kb: Any,
    *,
    accounts: Any = None,
    since: float | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    threshold: float = DEFAULT_THRESHOLD,
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
    limit: int = 100_000,
) -> dict[str, Any]:
    """The knowledge-gaps report of ``kb``'s answer log: ``{"gaps": [...], "questions": N,
    "considered": N, "notes": [...]}``. ``accounts`` (a server's
    :class:`~docket.accounts.Accounts`) adds negative feedback."""
    notes = []
    negative: set[int] = set()
    if accounts is not None:
        negative = negative_feedback(accounts)
    records = kb.ledger.answer_logs(limit=limit)
    questions = gap_questions(records, negative=negative, since=since, min_confidence=min_confidence, keep=keep)
    distinct = len({_key(q.question) for q in questions})
    if distinct > MAX_QUESTIONS:
        notes.append(f"only the {MAX_QUESTIONS} most recent distinct questions (of {distinct}) were grouped")
    if records and all(r.get("confidence") is None for r in records):
        notes.append("these answers were logged without a confidence, so only abstentions and negative feedback count")
    gaps = group_questions(questions, kb.embedder, threshold=threshold) if questions else []
    return {
        "gaps": [g.to_dict() for g in gaps],
        "questions": len(questions),
        "considered": sum(
            1 for r in records if (since is None or float(r.get("at") or 0.0) >= since) and (keep is None or keep(r))
        ),
        "notes": notes,
    }
