"""Turning a user's query into a keyword-index query.

The keyword index matches any of the query's content words (an OR query ranked by BM25), so a
long natural-language question still finds passages that share only some of its words. English
stop words are dropped unless nothing else is left.
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "query_terms"]

# The classic Lucene/Snowball English list, extended with question words that carry no topic.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t don shall may might must""".split()
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased terms of ``query``, stop words removed when others remain."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        seen.setdefault(word, None)
    terms = list(seen)
    content = [t for t in terms if t not in STOPWORDS]
    return content or terms


def fts5_query(query: str) -> str | None:
    """An FTS5 MATCH expression: the terms, each quoted, joined with OR. None when nothing is left."""
    terms = query_terms(query)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
