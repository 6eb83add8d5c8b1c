"""How the knowledge base answers in code, labels its answers and logs them.

Functions of a knowledge base (``kb``, a :class:`~docket.kb.parts.Core`): a figure computed from the scoped
documents' tables, a year-on-year comparison, the labels of the documents cited, the record the
answer log keeps, and the chat model a spec names.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from docket.answer.calculate import (
    LINE_ITEMS,
    SEVERAL_COLUMNS,
    Result,
    answer_text,
    compare_years,
    comparison_text,
    compute,
    confidence,
    lookup,
    plan,
    which_year,
)
from docket.answer.extractive import cite
from docket.answer.figures import Figure, primary_statements, statement_table
from docket.answer.numbering import renumbered
from docket.answer.plans import Plan
from docket.answer.scope import Scope
from docket.answer.which_year import across_text, across_years, over_years
from docket.config import Settings
from docket.types import Access, Answer, Citation, Filters, Hit

if TYPE_CHECKING:
    from docket.kb.parts import Core
    from docket.protocols import ChatModel

__all__ = ["calculated", "chat_model_for", "compared", "labelled", "log_record"]

# how many of the scoped documents a computed figure reads the statement tables of
_STATEMENT_DOCUMENTS = 3
# how well a statement's row label must name a line item to be read before the passages found
# (one of its names, or starting with one: not "Equity income (loss) — net" for net income)
_NAMED = 0.9
# how many other documents an unscoped computed answer also computes from, to show where they differ
_OTHER_DOCUMENTS = 2
# how much less well another document's rows may name the items for its result to be shown too
_CLOSE = 0.1
# how much less sure an answer is for each further document whose different result it shows
_SEVERAL_DOCUMENTS = 0.85


def calculated(kb: Core, question: str, filters: Filters, access: Access, scope: Scope) -> Answer | None:
    """A figure the question asks to compute from the scoped documents' tables
    (:mod:`docket.answer.calculate`), or None when it asks for none or a figure is missing.

    A question that names no organisation may fit several documents'
    tables ("the average of other assets for 2018 and 2019" in a knowledge base of many companies'
    reports): when other documents give every figure too and come to another value, the answer
    gives each document's result under its label instead of presenting one of them as the answer."""
    planned = plan(question)
    if planned is None:
        return None
    lookups = _Lookups(kb, filters, access, scope)
    first = lookups.run(planned)
    if first is None:
        return None
    results = [first]
    if not scope.organizations:
        seen = {first[1][0].doc_id}
        for doc_id in lookups.documents():
            if len(results) > _OTHER_DOCUMENTS:
                break
            if doc_id in seen:
                continue
            seen.add(doc_id)
            other = lookups.run(planned, only=doc_id)
            if other is not None and not any(_same_value(other[0], r[0]) for r in results):
                results.append(other)
        # only rows that name the item about as well as the best do (not "Gross deferred tax
        # liabilities" beside a "Net deferred tax liability" row), the best-named first
        best = max(_named(r) for r, _ in results)
        results = sorted((r for r in results if _named(r[0]) >= best - _CLOSE), key=lambda r: -_named(r[0]))
    used: list[Hit] = []
    blocks: list[str] = []
    citations: list[Citation] = []
    labels = kb.catalog(access).by_id() if len(results) > 1 else {}
    for result, hits in results:
        numbers = []
        for figure in result.figures:
            hit = hits[figure.hit]
            if hit not in used:
                used.append(hit)
            n = used.index(hit) + 1
            numbers.append(n)
            citations.append(cite(n, hit, figure.start, figure.end, hit.text[figure.start : figure.end]))
        text = answer_text(result, numbers)
        blocks.append(text if len(results) == 1 else f"{_document_label(labels, hits[0])}:\n{text}")
    notes = ["computed in code from the cited figures; check the rows and columns it used"]
    if len(results) > 1:
        notes.append(
            f"the question names no organisation and {len(results)} documents give these figures with different "
            "results; name the organisation or document to get one answer"
        )
        blocks.insert(0, f"{len(results)} documents give different results:")
    # several documents' results, each shown under its label, is a less certain answer than one
    sure = min(confidence(r) for r, _ in results) * _SEVERAL_DOCUMENTS ** (len(results) - 1)
    if sure < kb.settings.answer.min_relevance:
        return None  # too unsure to state: the question is answered (or refused) from the passages instead
    return Answer(
        question,
        "\n\n".join(blocks),
        False,
        tuple(citations),
        tuple(used),
        "calculated",
        sure,
        notes=tuple(notes),
    )


def _named(result: Result) -> float:
    """How well the rows a result was computed from name their line items: the weakest one's."""
    return min((f.score for f in result.figures), default=0.0)


def _same_value(a: Result, b: Result) -> bool:
    return abs(a.value - b.value) <= 1e-9 * max(1.0, abs(a.value))


def _document_label(labels: Mapping[str, Any], hit: Hit) -> str:
    entry = labels.get(hit.doc_id)
    return entry.label if entry is not None else hit.title or hit.path


class _Lookups:
    """The figures of a computed answer looked up in the documents' tables: searches for each line
    item by its names (kept, so that a second document's lookup searches nothing again), the
    scoped filings' statement tables read whole, and the rows found in them."""

    def __init__(self, kb: Core, filters: Filters, access: Access, scope: Scope) -> None:
        self.kb, self.filters, self.access, self.scope = kb, filters, access, scope
        self.passages: dict[str, list[Hit]] = {}
        self.statements: dict[str, tuple[list[Hit], list[Hit]]] = {}

    def documents(self) -> list[str]:
        """The documents of the passages searched so far, best-ranked first."""
        ranked = sorted(((i, h.doc_id) for hits in self.passages.values() for i, h in enumerate(hits)))
        return list(dict.fromkeys(doc_id for _, doc_id in ranked))

    def run(self, planned: Plan, only: str | None = None) -> tuple[Result, list[Hit]] | None:
        """The plan computed with figures of one document (``only``, or the first figure's), with the
        hits the figures index into; None when a figure is missing."""
        used: list[Hit] = []

        def find(item: str, year: int) -> Figure | None:
            same = {only} if only else {h.doc_id for h in used} if not self.scope.organizations else set()
            found = self.find(item, year, same, planned.hint)
            if found is None:
                return None
            figure, hit = found
            if hit not in used:
                used.append(hit)
            return replace(figure, hit=used.index(hit))

        result = compute(planned, find)
        if result is None or result.missing:
            return None
        if not self.scope.organizations and len({h.doc_id for h in used}) > 1:
            return None  # figures of different documents, and no organisation named to say they belong together
        return result, used

    def find(self, item: str, year: int, same: set[str], hint: str = "") -> tuple[Figure, Hit] | None:
        """``item``'s figure for ``year`` and the hit it is read from, of the ``same`` documents when
        given: a row named by one of the item's names in a scoped filing's own statement first, then
        the best row among the passages a search for the item's names finds."""
        aliases = LINE_ITEMS.get(item, (item,))
        # a line item goes by several names ("revenue" is "net sales" at 3M): search by three
        # of them at a time until a statement row is found
        for first in range(0, len(aliases), 3):
            key = f"{item}#{first}"
            if key not in self.passages:
                names = " ".join(aliases[first : first + 3])
                self.passages[key] = self.kb.search(f"{names} {year}", k=20, filters=self.filters, access=self.access)
            hits = self.passages[key]
            figure = None
            # the primary statement first: a later table under the same title (a guarantor group's
            # "Consolidated Balance Sheets" in the notes) only where the primary one lacks the row
            for source in self.statement_tables(item, hits, same):
                figure = lookup(item, year, source, min_label=_NAMED, hint=hint)
                if figure is not None:
                    break
            if figure is None and same:
                source = hits
                figure = lookup(item, year, [h if h.doc_id in same else replace(h, text="") for h in hits], hint=hint)
            if figure is None and not same:
                source = hits
                figure = lookup(item, year, hits, hint=hint)
            if figure is not None:
                return figure, source[figure.hit]
        return None

    def statement_tables(self, item: str, hits: list[Hit], same: set[str]) -> list[list[Hit]]:
        """The tables of the financial statement that reports ``item`` in the first documents among
        ``hits`` (which passed every filter, so the documents the question is scoped to when it names
        an organisation or period), read whole: a statement page need not rank among the passages a
        search returns for one line item's names. The primary
        statements first, then later tables under the same titles
        (:func:`~docket.answer.figures.primary_statements`); empty groups left out."""
        primary: list[Hit] = []
        later: list[Hit] = []
        for doc_id in list(dict.fromkeys(h.doc_id for h in hits))[:_STATEMENT_DOCUMENTS]:
            if same and doc_id not in same:
                continue
            if doc_id not in self.statements:
                self.statements[doc_id] = primary_statements(self.kb.store.document_hits(doc_id, self.access))
            first, rest = self.statements[doc_id]
            primary.extend(h for h in first if statement_table(h, item))
            later.extend(h for h in rest if statement_table(h, item))
        return [group for group in (primary, later) if group]


# how much less sure an answer is whose years the question did not name
_YEARS_ASSUMED = 0.9


def compared(kb: Core, question: str, filters: Filters, access: Access) -> Answer | None:
    """ "In which year was X higher?" answered from X's row in every year column of its table
    (:func:`docket.answer.calculate.compare_years`), or None."""
    asked = which_year(question)
    if asked is None:
        return _across(kb, question, filters, access)
    item, highest = asked
    hits = kb.search(" ".join(LINE_ITEMS.get(item, (item,))[:3]), k=20, filters=filters, access=access)
    result = compare_years(item, highest, hits)
    if result is None:
        return None
    hit, row = hits[result.figures[0].hit], result.figures[0]
    sure = row.score * (1.0 if row.one_column else SEVERAL_COLUMNS)  # as for a computed figure (calculate.confidence)
    if sure < kb.settings.answer.min_relevance:
        return None
    citation = cite(1, hit, row.start, row.end, hit.text[row.start : row.end])
    note = "compared in code from the cited row; check the row and columns it used"
    return Answer(question, comparison_text(result, 1), False, (citation,), (hit,), "calculated", sure, notes=(note,))


def _across(kb: Core, question: str, filters: Filters, access: Access) -> Answer | None:
    """ "What was the change in X?" with no year named, computed from X's row over its table's years
    (:func:`docket.answer.which_year.across_years`), or None."""
    asked = over_years(question)
    if asked is None:
        return None
    operation, item = asked
    hits = kb.search(" ".join(LINE_ITEMS.get(item, (item,))[:3]), k=20, filters=filters, access=access)
    result = across_years(operation, item, hits, hint=question)
    if result is None:
        return None
    row = result.figures[0]
    hit = hits[row.hit]
    # as sure as the row's label names the item, less for the years the question left to be assumed
    sure = row.score * _YEARS_ASSUMED * (1.0 if all(f.one_column for f in result.figures) else SEVERAL_COLUMNS)
    if sure < kb.settings.answer.min_relevance:
        return None
    citation = cite(1, hit, row.start, row.end, hit.text[row.start : row.end])
    note = "computed in code from the cited row over the years its table gives; check the row and years it used"
    return Answer(question, across_text(result, 1), False, (citation,), (hit,), "calculated", sure, notes=(note,))


def more_of_the_first(kb: Core, question: str, hits: list[Hit], filters: Filters, access: Access, k: int) -> list[Hit]:
    """``hits``, then up to ``k`` more passages of the first hit's document, found by searching
    that document alone for ``question`` (with the same filters and access). The passage that best
    matches a question about a report is often its summary, which repeats the question's names;
    the line that answers ("Injuries: 3 Fatal, 1 Serious", "Destination: Pontiac, MI") is elsewhere
    in the report and outranked by other reports' similar passages. (For extractive answers: a
    model reads the sections around its passages instead, ``answer.context_tokens``.)"""
    if k <= 0 or not hits or not hits[0].doc_id:
        return hits
    seen = {h.chunk_id for h in hits}
    inside = replace(filters, documents=(hits[0].doc_id,))
    more = [h for h in kb.search(question, k=k + len(hits), filters=inside, access=access) if h.chunk_id not in seen]
    return [*hits, *more[:k]]


def labelled(kb: Core, answer: Answer, access: Access, scope: Scope) -> Answer:
    """``answer`` with its citations numbered 1..n by first use in its text, each with its
    document's label, and the documents the question was scoped to."""
    answer = renumbered(answer)
    entries = kb.catalog(access).by_id()

    def label(doc_id: str, fallback: str) -> str:
        entry = entries.get(doc_id)
        return entry.label if entry is not None else fallback

    citations = tuple(
        replace(c, document=label(answer.sources[c.n - 1].doc_id, c.path) if 0 < c.n <= len(answer.sources) else c.path)
        for c in answer.citations
    )
    scoped = tuple(label(d, d) for d in scope.documents or ())
    notes = (*answer.notes, scope.note) if scope.note else answer.notes
    return replace(answer, citations=citations, scope=scoped, notes=notes)


def log_record(answer: Answer, prompt: str | None, latency_ms: float) -> dict[str, Any]:
    """What the answer log keeps of ``answer`` (:meth:`docket.ledger.Ledger.log_answer`)."""
    usage = answer.usage
    return {
        "at": time.time(),
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "method": answer.method,
        "model": answer.model,
        "prompt": prompt,
        "sources": [
            {"path": h.path, "location": h.location.to_dict(), "score": h.score, "chunk_id": h.chunk_id}
            for h in answer.sources
        ],
        "citations": [c.to_dict() for c in answer.citations],
        "notes": list(answer.notes),
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cost": usage.cost if usage else None,
        "latency_ms": latency_ms,
        "confidence": answer.confidence,
    }


def chat_model_for(settings: Settings, spec: str | None) -> ChatModel:
    from docket.models.chat import chat_model_from_spec

    cfg = settings.model
    common: dict[str, Any] = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}
    remote = {**common, "timeout": cfg.timeout, "max_retries": cfg.max_retries}
    provider = (spec or "").partition(":")[0]
    options: dict[str, Any] = {}
    if provider == "openai":
        options = {**remote, "base_url": cfg.base_url, "api_key": _secret(cfg.api_key)}
    elif provider == "anthropic":
        options = {**remote, "base_url": cfg.anthropic_base_url, "api_key": _secret(cfg.anthropic_api_key)}
    elif provider == "local":
        options = {
            **common,
            "models_dir": str(settings.model.local_models_dir()),
            # where versions before the shared folder assembled it: used in place, not copied again
            "earlier_models_dirs": [str(settings.home / "models")],
        }
    return chat_model_from_spec(spec, options)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
