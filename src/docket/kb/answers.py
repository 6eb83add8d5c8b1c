"""How the knowledge base answers in code, labels its answers and logs them.

Functions of a knowledge base (``kb``, a :class:`~docket.kb.parts.Core`): a figure computed from the scoped
documents' tables, a year-on-year comparison, the labels of the documents cited, the record the
answer log keeps, and the chat model a spec names.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from docket.answer.extractive import cite
from docket.answer.scope import Scope
from docket.config import Settings
from docket.types import Access, Answer, Filters, Hit

if TYPE_CHECKING:
    from docket.kb.parts import Core
    from docket.protocols import ChatModel

__all__ = ["calculated", "chat_model_for", "compared", "labelled", "log_record"]

# how many of the scoped documents a computed figure reads the statement tables of
_STATEMENT_DOCUMENTS = 3
# how well a statement's row label must name a line item to be read before the passages found
# (one of its names, or starting with one: not "Equity income (loss) — net" for net income)
_NAMED = 0.9


def calculated(kb: Core, question: str, filters: Filters, access: Access, scope: Scope) -> Answer | None:
    """A figure the question asks to compute from the scoped documents' tables
    (:mod:`docket.answer.calculate`), or None when it asks for none or a figure is missing."""
    from docket.answer.calculate import LINE_ITEMS, answer_text, compute, lookup, plan
    from docket.answer.figures import statement_table

    planned = plan(question)
    if planned is None:
        return None
    passages: dict[str, list[Hit]] = {}
    statements: dict[str, list[Hit]] = {}
    used: list[Hit] = []

    def statement_tables(item: str, hits: list[Hit], same: set[str]) -> list[Hit]:
        """The tables of the financial statement that reports ``item`` in the documents the question
        is scoped to (those among ``hits``, which passed every filter), read whole: a statement page
        need not rank among the passages a search returns for one line item's names."""
        if filters.documents is None:
            return []
        tables: list[Hit] = []
        for doc_id in list(dict.fromkeys(h.doc_id for h in hits))[:_STATEMENT_DOCUMENTS]:
            if same and doc_id not in same:
                continue
            if doc_id not in statements:
                statements[doc_id] = [h for h in kb.store.document_hits(doc_id, access) if statement_table(h)]
            tables.extend(h for h in statements[doc_id] if statement_table(h, item))
        return tables

    def find(item: str, year: int) -> Any:
        aliases = LINE_ITEMS.get(item, (item,))
        figure, source = None, []
        same = {h.doc_id for h in used} if not scope.organizations else set()
        # a line item goes by several names ("revenue" is "net sales" at 3M): search by three
        # of them at a time until a statement row is found
        for first in range(0, len(aliases), 3):
            key = f"{item}#{first}"
            if key not in passages:
                names = " ".join(aliases[first : first + 3])
                passages[key] = kb.search(f"{names} {year}", k=20, filters=filters, access=access)
            hits = passages[key]
            # a row named by one of the item's names in the scoped filing's own statement first,
            # then the passages found
            source = statement_tables(item, hits, same)
            figure = lookup(item, year, source, min_label=_NAMED)
            if figure is None and same:  # the other figures' document first
                source = hits
                figure = lookup(item, year, [h if h.doc_id in same else replace(h, text="") for h in hits])
            if figure is None:
                source = hits
                figure = lookup(item, year, hits)
            if figure is not None:
                break
        if figure is None:
            return None
        hit = source[figure.hit]
        if hit not in used:
            used.append(hit)
        return replace(figure, hit=used.index(hit))

    result = compute(planned, find)
    if result is None or result.missing:
        return None
    if not scope.organizations and len({h.doc_id for h in used}) > 1:
        return None  # figures of different documents, and no organisation named to say they belong together
    numbers = [f.hit + 1 for f in result.figures]
    citations = tuple(
        cite(n, used[f.hit], f.start, f.end, used[f.hit].text[f.start : f.end])
        for n, f in zip(numbers, result.figures, strict=True)
    )
    note = "computed in code from the cited figures; check the rows and columns it used"
    return Answer(
        question, answer_text(result, numbers), False, citations, tuple(used), "calculated", 1.0, notes=(note,)
    )


def compared(kb: Core, question: str, filters: Filters, access: Access) -> Answer | None:
    """ "In which year was X higher?" answered from X's row in every year column of its table
    (:func:`docket.answer.calculate.compare_years`), or None."""
    from docket.answer.calculate import LINE_ITEMS, compare_years, comparison_text, which_year

    asked = which_year(question)
    if asked is None:
        return None
    item, highest = asked
    hits = kb.search(" ".join(LINE_ITEMS.get(item, (item,))[:3]), k=20, filters=filters, access=access)
    result = compare_years(item, highest, hits)
    if result is None:
        return None
    hit, row = hits[result.figures[0].hit], result.figures[0]
    citation = cite(1, hit, row.start, row.end, hit.text[row.start : row.end])
    note = "compared in code from the cited row; check the row and columns it used"
    return Answer(question, comparison_text(result, 1), False, (citation,), (hit,), "calculated", 1.0, notes=(note,))


def labelled(kb: Core, answer: Answer, access: Access, scope: Scope) -> Answer:
    """``answer`` with each citation's document label and the documents the question was scoped to."""
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
