"""Evaluation metrics as pure functions over plain values.

Retrieval metrics take ``ranked``, the retrieved results best first (distinct ids), and
``relevant``, the relevant ids mapped to their grade (1 for plain "this is a source"):

- ``hit_at_k``: 1.0 if a relevant id is among the first ``k``, else 0.0.
- ``recall_at_k``: the share of the relevant ids among the first ``k``.
- ``reciprocal_rank``: 1 / the rank of the first relevant id (0.0 when none was retrieved);
  its mean over questions is MRR.
- ``ndcg_at_k``: ``sum(grade / log2(rank + 1))`` over the first ``k``, divided by the same sum
  for the ideal order (the formula of BEIR and ``bench/retrieval.py``).

Answer metrics compare a prediction with a reference after SQuAD's normalisation (lower case,
punctuation and the articles a/an/the removed, whitespace collapsed): ``exact_match``,
``token_f1`` (the harmonic mean of token precision and recall, counting repeats) and ``contains``
(the normalised reference appears in the normalised prediction, on word boundaries).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

__all__ = [
    "contains",
    "exact_match",
    "hit_at_k",
    "mean",
    "ndcg_at_k",
    "normalize_answer",
    "percentile",
    "recall_at_k",
    "reciprocal_rank",
    "token_f1",
]


def hit_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    return 1.0 if any(r in relevant for r in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, float]) -> float:
    for rank, r in enumerate(ranked, start=1):
        if r in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    dcg = sum(relevant.get(r, 0) / math.log2(i + 2) for i, r in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation + "“”‘’«»…–—")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's normalisation)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return 1.0 if normalize_answer(prediction) == normalize_answer(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, reference: str) -> float:
    ref = normalize_answer(reference)
    return 1.0 if ref and f" {ref} " in f" {normalize_answer(prediction)} " else 0.0


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, None for no values."""
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks (numpy's
    default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
