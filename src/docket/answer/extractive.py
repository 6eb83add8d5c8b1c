"""Cited answers without a language model.

The passages retrieved for the question are split into sentences; each sentence is scored by its
semantic similarity to the question (the embedder's cosine) blended with the share of the
question's content words it contains. The best sentences, each with an ``[n]`` citation to its
passage's file and location, form the answer (further sentences only when they are within
``_MAX_GAP`` of the best one). When even the best sentence scores below
``min_relevance`` the evidence is too weak: Docket abstains and shows the closest sources rather
than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from docket.answer.guard import evidence_spans, withheld_notes
from docket.index.keywords import query_terms
from docket.protocols import Embedder
from docket.sentences import words
from docket.types import Answer, Citation, Hit

__all__ = ["ABSTAIN_TEXT", "extractive_answer", "score_sentences"]

ABSTAIN_TEXT = "I couldn't find this in your documents."

# Weight of semantic similarity vs. keyword coverage in a sentence's relevance.
_SEMANTIC_WEIGHT = 0.7
_MIN_SENTENCE_CHARS = 20
# Further sentences join the best one only when they are nearly as relevant.
_MAX_GAP = 0.1


@dataclass(frozen=True)
class ScoredSentence:
    hit_index: int
    start: int  # offsets into the hit's text
    end: int
    text: str
    semantic: float
    coverage: float

    @property
    def relevance(self) -> float:
        return _SEMANTIC_WEIGHT * self.semantic + (1 - _SEMANTIC_WEIGHT) * self.coverage


def _coverage(question_terms: set[str], sentence: str) -> float:
    if not question_terms:
        return 0.0
    present = set(words(sentence))
    # compare on a crude stem so "weeks" matches "week" and "offered" matches "offer"
    stems = {w[:5] for w in present}
    hits = sum(1 for t in question_terms if t in present or t[:5] in stems)
    return hits / len(question_terms)


def score_sentences(question: str, hits: list[Hit], embedder: Embedder) -> list[ScoredSentence]:
    """Every sentence of the hits with its relevance to the question, best first."""
    candidates: list[tuple[int, int, int, str]] = []
    # planted instructions and claims that contradict their document are never evidence (docket.answer.guard)
    for i, (hit, spans) in enumerate(zip(hits, evidence_spans(hits), strict=True)):
        for start, end in spans:
            sentence = hit.text[start:end]
            if len(sentence) >= _MIN_SENTENCE_CHARS or len(hit.text.strip()) < _MIN_SENTENCE_CHARS * 2:
                candidates.append((i, start, end, sentence))
    if not candidates:
        return []
    q = embedder.embed_queries([question])[0]
    # embed each sentence with its passage's title for context, as chunks are indexed
    texts = [f"{hits[i].title}: {s}" if hits[i].title else s for i, _, _, s in candidates]
    vectors = embedder.embed_passages(texts)
    floor = float(getattr(embedder, "similarity_floor", 0.0))
    semantic = (vectors @ q - floor) / (1.0 - floor)
    terms = set(query_terms(question))
    scored = [
        ScoredSentence(i, start, end, s, float(np.clip(sim, 0.0, 1.0)), _coverage(terms, s))
        for (i, start, end, s), sim in zip(candidates, semantic, strict=True)
    ]
    return sorted(scored, key=lambda x: -x.relevance)


def _citation(n: int, hit: Hit, sentence: ScoredSentence) -> Citation:
    location = hit.location
    if location.char_start is not None:
        location = replace(
            location,
            char_start=location.char_start + sentence.start,
            char_end=location.char_start + sentence.end,
        )
    return Citation(n=n, path=hit.path, location=location, quote=sentence.text, supported=True, chunk_id=hit.chunk_id)


def extractive_answer(
    question: str,
    hits: list[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 3,
    min_relevance: float = 0.5,
) -> Answer:
    """Build a cited answer from ``hits`` or abstain when the evidence is weak."""
    scored = score_sentences(question, hits, embedder)
    best = scored[0].relevance if scored else 0.0
    if not scored or best < min_relevance:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, sources=tuple(hits), confidence=best)
    chosen: list[ScoredSentence] = []
    seen_text: set[str] = set()
    for sentence in scored:
        if len(chosen) >= max_sentences or sentence.relevance < max(min_relevance, best - _MAX_GAP):
            break
        key = " ".join(words(sentence.text))
        if key in seen_text:
            continue
        seen_text.add(key)
        chosen.append(sentence)
    # [n] numbers the answer's sources, as in generated answers: sources[n - 1] is the passage
    citations: list[Citation] = []
    parts: list[str] = []
    for sentence in chosen:
        n = sentence.hit_index + 1
        citations.append(_citation(n, hits[sentence.hit_index], sentence))
        parts.append(f"{sentence.text} [{n}]")
    return Answer(
        question=question,
        text=" ".join(parts),
        abstained=False,
        citations=tuple(citations),
        sources=tuple(hits),
        confidence=best,
        notes=tuple(withheld_notes(hits)),
    )
