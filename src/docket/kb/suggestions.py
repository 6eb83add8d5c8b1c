"""A search that can say "No documents match", and what to try instead.

Semantic search always has nearest passages, even for ``zzqx`` or a misspelt word; shown as
results they look like matches. :func:`search_or_suggest` counts a search as matching nothing
when no passage the caller may read contains a word of the query and none is semantically close
(cosine, rescaled above the embedder's ``similarity_floor`` as answer scoring does, below
:data:`NO_MATCH_SEMANTIC`). The bar is low on purpose: with the default embedder a passage on the
subject scores 0.35 and more, a loosely related one about 0.2-0.3, and so do some unrelated ones;
gibberish, misspellings and questions about other subjects mostly stay below 0.2, and only those
are called a miss. It then suggests queries to run:

- the query with each word that no readable passage contains replaced by the nearest word (by
  spelling) of the passages closest in meaning: ``vacaton polcy`` -> ``vacation policy``;
- the query without those words, when some of its words do occur;
- whether the filters (``--type``, ``--path``, dates, tags, profile) excluded every match.

Every suggestion is checked by running it with the caller's access before it is offered, and its
words come from the query or from passages the caller may read, so a suggestion never shows a
word that only a document the caller may not read contains.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docket.types import Access, Filters, Hit

if TYPE_CHECKING:
    from docket.index.search import Mode
    from docket.kb.parts import Core

__all__ = ["NO_MATCH", "NO_MATCH_SEMANTIC", "SearchResult", "search_or_suggest"]

NO_MATCH = "No documents match"
NO_MATCH_SEMANTIC = 0.2
_WORD = re.compile(r"\w[\w'-]*")
_MAX_WORDS = 8  # a longer query is not checked word by word
_VOCABULARY_PASSAGES = 30


@dataclass(frozen=True)
class SearchResult:
    """Hits, or none with suggestions: queries to run instead, and whether the filters excluded
    every match (``filtered_out``)."""

    hits: list[Hit]
    suggestions: list[str] = field(default_factory=list)
    filtered_out: bool = False

    @property
    def message(self) -> str | None:
        return None if self.hits else NO_MATCH


def matches(hits: list[Hit], floor: float = 0.0) -> bool:
    """Whether any hit contains a query word or is close in meaning (cosines rescaled above ``floor``)."""
    bar = floor + NO_MATCH_SEMANTIC * (1 - floor)
    return any("keyword" in h.scores or h.scores.get("semantic", 0.0) >= bar for h in hits)


def search_or_suggest(
    kb: Core,
    query: str,
    *,
    k: int | None = None,
    mode: Mode | None = None,
    filters: Filters = Filters(),
    access: Access = Access.owner(),
    limit: int = 5,
) -> SearchResult:
    floor = float(getattr(kb.embedder, "similarity_floor", 0.0))
    hits = kb.search(query, k=k, mode=mode, filters=filters, access=access)
    if matches(hits, floor):
        return SearchResult(hits)

    def found(text: str, with_filters: bool = True) -> bool:
        chosen = filters if with_filters else Filters()
        return matches(kb.search(text, k=5, mode=mode, filters=chosen, access=access), floor)

    filtered_out = filters != Filters() and found(query, with_filters=False)
    words = _WORD.findall(query)
    suggestions: list[str] = []
    if 0 < len(words) <= _MAX_WORDS:
        unknown = {
            w for w in dict.fromkeys(words) if not kb.search(w, k=1, mode="keyword", filters=filters, access=access)
        }
        candidates = []
        if unknown:
            near = _near_words(kb, query, unknown, access)
            if near:
                candidates.append(_WORD.sub(lambda m: near.get(m.group(0), m.group(0)), query))
            if len(unknown) < len(set(words)):
                candidates.append(" ".join(w for w in words if w not in unknown))
        for candidate in dict.fromkeys(candidates):
            if candidate.strip() and candidate != query and found(candidate):
                suggestions.append(candidate)
    return SearchResult([], suggestions[:limit], filtered_out)


def _near_words(kb: Core, query: str, unknown: set[str], access: Access) -> dict[str, str]:
    """For each word of ``unknown``, the nearest by spelling among the words of the passages
    closest in meaning to ``query`` that ``access`` may read."""
    passages = kb.search(query, k=_VOCABULARY_PASSAGES, mode="semantic", access=access)
    vocabulary: dict[str, str] = {}
    for hit in passages:
        for word in _WORD.findall(hit.text):
            vocabulary.setdefault(word.lower(), word)
    near = {}
    for word in unknown:
        found = difflib.get_close_matches(word.lower(), list(vocabulary), n=1, cutoff=0.75)
        if found:
            near[word] = found[0] if word.islower() else vocabulary[found[0]]
    return near
