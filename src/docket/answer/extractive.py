"""Cited answers without a language model: the sentences and table rows that answer the question.

The question's evidence (:mod:`docket.answer.evidence`) ranks every sentence and table row of
the retrieved passages by relevance and by whether it holds what the question asks for (an
amount, a date, a name…). The best unit, each with an ``[n]`` citation to its passage's file and
location, forms the answer; further units join only when they are within ``_MAX_GAP`` of the best
once the question's words they add (and the units before them lack) are counted, and come from the
same document — other documents join only when the question compares
("compare", "both", "versus"…), and then the answer says per document what each one states
("Acme Inc. 10-Q, quarter ended …: …"). A table row is shown as its label and the cells the
question names ("2018: (1,577)"), with the table's unit. When even the best unit scores below
``min_relevance`` the evidence is too weak: Docket abstains and shows the closest sources rather
than guessing.

Citations are numbered 1..n in the order they are first used; ``answer.sources[n - 1]`` is the
passage of ``[n]`` (cited passages first, then the others retrieved).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from docket.answer.evidence import (
    Evidence,
    Unit,
    asked_terms,
    asked_years,
    gather,
    holds,
    other_years,
    question_names,
    vocabulary,
)
from docket.answer.figures import HEADER_YEAR
from docket.answer.guard import withheld_notes
from docket.answer.numbering import renumbered, statements
from docket.ledger import Store
from docket.models.prompts import ABSTAIN_TEXT
from docket.protocols import Embedder
from docket.sentences import CELL_SEPARATOR, words
from docket.types import Answer, Citation, Hit

__all__ = ["ABSTAIN_TEXT", "ScoredSentence", "cite", "describe_row", "extractive_answer", "score_sentences"]


# Further units join the best one only when they are nearly as relevant, counting the question's
# words they add (chosen on the dev halves of multidoc, the bank FAQ and TAT-QA: bench/answer_units.py)
_MAX_GAP = 0.1
_NEW_TERMS_WEIGHT = 1.2
_POOL_GAP = 0.35  # units further below the best are not considered at all
_POOL = 60
_UNIT_WORDS = re.compile(
    r"\(?\b(?:in\s+)?(?:(?:us\s*)?\$|usd|eur|€|dollars?)?\s*(?:in\s+)?(millions|thousands|billions)\b[^)|]*\)?|"
    r"\(\s*%\s*\)|\bin\s+percent\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a passage with its relevance to a text (for checks that compare a claim with
    its cited passage)."""

    hit_index: int
    start: int
    end: int
    text: str
    semantic: float
    coverage: float

    @property
    def relevance(self) -> float:
        from docket.answer.evidence import SEMANTIC_WEIGHT

        return SEMANTIC_WEIGHT * self.semantic + (1 - SEMANTIC_WEIGHT) * self.coverage


def score_sentences(
    question: str, hits: list[Hit], embedder: Embedder, store: Store | None = None
) -> list[ScoredSentence]:
    """Every sentence (or table row) of ``hits`` with its relevance to ``question``, best first."""
    evidence = gather(question, hits, embedder, store=store)
    scored = [ScoredSentence(u.hit, u.start, u.end, u.text, u.semantic, u.coverage) for u in evidence.units]
    return sorted(scored, key=lambda s: -s.relevance)


def _table_unit(header: str) -> str:
    """The unit a table's header states ("(in millions)", "(Millions)"), or ""."""
    match = _UNIT_WORDS.search(header)
    return match.group(0).strip() if match else ""


def describe_row(row: str, header: str, question: str = "") -> str:
    """A table row as a statement: its label, then ``column: value`` for the columns the question
    names (its years or header words), else for every column; the table's unit after."""
    cells = [c.strip() for c in row.split(CELL_SEPARATOR)]
    names = [c.strip() for c in header.split(CELL_SEPARATOR)] if header else []
    label, values = cells[0], cells[1:]
    columns = names[1:] if len(names) == len(cells) else []
    if not columns:
        return ", ".join(c for c in cells if c)
    named_years = set(HEADER_YEAR.findall(question))
    asked_words = set(words(question))
    wanted = [
        k
        for k, name in enumerate(columns)
        if (named_years and named_years & set(HEADER_YEAR.findall(name)))
        or (not named_years and asked_words & set(words(name)) - {"total"})
    ]
    shown = wanted or list(range(len(columns)))
    parts = [f"{columns[k]}: {values[k]}" for k in shown if k < len(values) and values[k]]
    unit = _table_unit(header)
    text = f"{label} — {'; '.join(parts)}" if parts else label
    return f"{text} {unit}" if unit and unit not in text else text


def cite(n: int, hit: Hit, start: int, end: int, quote: str, document: str = "") -> Citation:
    """Citation ``[n]`` of the passage ``hit`` at ``start:end`` of its text."""
    location = hit.location
    if location.char_start is not None:
        location = replace(location, char_start=location.char_start + start, char_end=location.char_start + end)
    chunk_id = hit.chunk_id if hit.chunk_id >= 0 else None
    return Citation(n, hit.path, location, quote, True, chunk_id, document)


_COMPARE = re.compile(
    r"\b(compare|comparison|versus|vs\.?|differ(ence|ent)?|both|each of|all of|between\s+\w+\s+and|across)\b",
    re.IGNORECASE,
)


def _asked_in(terms: set[str], text: str) -> set[str]:
    """The question words of ``terms`` that ``text`` uses (crude stems, as in scoring)."""
    present = vocabulary(text)
    stems = {w[:5] for w in present}
    return {t for t in terms if t in present or t[:5] in stems}


def _choose(evidence: Evidence, max_sentences: int) -> list[Unit]:
    """The best unit, then up to ``max_sentences - 1`` units of the same document (of others too
    only when the question compares) that are nearly as good once their new words count: each next
    unit is the one whose score plus ``_NEW_TERMS_WEIGHT`` times the share of the question's words
    (its names aside) that no chosen unit uses yet is highest, and joins while that is within
    ``_MAX_GAP`` of the best. An overview sentence repeating the question's words ("… a Reims F172
    … near Chevroux, France") is often best; the line that answers ("en route to Bourg (LFHS)")
    scores lower but uses the word the overview lacks. Words that only shape the question ("how
    many") add nothing, and a unit that adds no word must hold what a question for an amount, a
    date or a name asks for: "How many employees did 3M have in 2022?" is not followed by a
    sentence about inflation in 2022. When the question names years, a unit that names only others
    does not join ("Fiscal 2018 includes …" after the answer for 2019)."""
    best = evidence.units[0]
    question = evidence.question
    several = _COMPARE.search(question) is not None
    terms = asked_terms(question)  # "how many" shapes the question: a unit saying "many" adds nothing
    asked = terms - question_names(question) or terms
    doc = evidence.hits[best.hit].doc_id
    years = asked_years(question)
    pool = [
        u
        for u in evidence.units[1:_POOL]
        if u.score >= best.score - _POOL_GAP and (several or evidence.hits[u.hit].doc_id == doc)
    ]
    chosen = [best]
    seen = {" ".join(words(best.text))}
    covered = _asked_in(asked, best.text)
    found = {id(u): _asked_in(asked, u.text) for u in pool}  # the question's words in each unit, once

    def gain(unit: Unit) -> float:
        return unit.score + _NEW_TERMS_WEIGHT * len(found[id(unit)] - covered) / max(1, len(asked))

    while len(chosen) < max_sentences and pool:
        candidate = max(pool, key=gain)
        pool.remove(candidate)
        key = " ".join(words(candidate.text))
        if key in seen:
            continue
        if gain(candidate) < best.score - _MAX_GAP:
            break
        if not (found[id(candidate)] - covered) and holds(evidence.kind, candidate.text, question) is False:
            continue  # adds no word of the question, nor the amount, date or name it asks for
        if years and not candidate.row and other_years(candidate.text, years):
            continue  # "Fiscal 2018 includes …" after the answer for 2019
        seen.add(key)
        chosen.append(candidate)
        covered |= found[id(candidate)]
    return chosen


def _numbered(hits: Sequence[Hit], used: Sequence[int]) -> tuple[dict[int, int], tuple[Hit, ...]]:
    """Citation numbers 1..n in order of first use, and the sources reordered to match."""
    order = list(dict.fromkeys(used))
    numbers = {hit: n for n, hit in enumerate(order, start=1)}
    rest = [i for i in range(len(hits)) if i not in numbers]
    return numbers, tuple(hits[i] for i in [*order, *rest])


def compose(
    evidence: Evidence, chosen: Sequence[Unit], question: str = ""
) -> tuple[str, tuple[Citation, ...], tuple[Hit, ...]]:
    """The answer text for ``chosen`` units with their citations, grouped per document when they
    come from more than one; returns (text, citations, sources renumbered)."""
    numbers, sources = _numbered(evidence.hits, [u.hit for u in chosen])
    citations: list[Citation] = []
    by_document: dict[str, list[str]] = {}
    for unit in chosen:
        n = numbers[unit.hit]
        hit = evidence.hits[unit.hit]
        statement = describe_row(unit.text, evidence.header.get(unit.hit, ""), question) if unit.row else unit.text
        citations.append(cite(n, hit, unit.start, unit.end, unit.text, evidence.label(unit.hit)))
        by_document.setdefault(hit.doc_id, []).append(f"{statement} [{n}]")
    if len(by_document) == 1:
        text = " ".join(next(iter(by_document.values())))
    else:
        first_unit = {evidence.hits[u.hit].doc_id: u.hit for u in reversed(chosen)}
        text = "\n".join(f"{evidence.label(first_unit[doc])}: {' '.join(parts)}" for doc, parts in by_document.items())
    return text, tuple(citations), sources


def extractive_answer(
    question: str,
    hits: list[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 3,
    min_relevance: float = 0.5,
    store: Store | None = None,
    labels: Sequence[str] = (),
    evidence: Evidence | None = None,
    stream: Callable[[str], None] | None = None,
) -> Answer:
    """Build a cited answer from ``hits`` (or their ``evidence``) or abstain when it is weak.

    ``stream`` is given the answer's statements one by one, each with its citation numbers, as
    they are chosen (not the abstention: a stream carries answers only)."""
    if evidence is None:
        evidence = gather(question, hits, embedder, store=store, labels=labels)
    best = evidence.confidence
    if not evidence.units or best < min_relevance:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, sources=evidence.hits, confidence=best)
    chosen = _choose(evidence, max_sentences)
    text, citations, sources = compose(evidence, chosen, question)
    notes = tuple(withheld_notes(evidence.hits))
    answer = renumbered(
        Answer(
            question=question,
            text=text,
            abstained=False,
            citations=citations,
            sources=sources,
            confidence=best,
            notes=notes,
        )
    )
    if stream is not None:
        for piece in statements(answer.text):
            stream(piece)
    return answer
