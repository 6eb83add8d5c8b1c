"""Citation numbers as a reader meets them: ``[1]`` first, then ``[2]``… in order of first use.

Every answering path (extractive, generated, computed, SQL over tables, whole documents) builds an
:class:`~docket.types.Answer` whose ``[n]`` markers point at ``answer.sources[n - 1]``. However the
path numbered them, :func:`renumbered` gives the answer one numbering for every surface (the API,
its stream, the OpenAI-compatible endpoint, the CLI, workflows): the markers in the text are
rewritten to 1..n by first use, the sources reordered to match (those not cited follow), the
citations ordered by number and citations the text never refers to dropped. A passage cited
twice keeps a citation per use, each with its own quote, in the order of the text (the k-th
``[n]`` is the k-th citation numbered n); :func:`by_number` gives one citation per number for
surfaces that list sources by number (OpenAI-style ``citations``, where ``citations[n - 1]`` is
``[n]``), spanning all its quotes.

:class:`NumberedStream` does the same to text while it streams: a number is given the moment its
marker is first seen, so a streamed reply carries the numbers the finished answer will have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from docket.types import Answer, Citation, Hit

__all__ = ["NumberedStream", "by_number", "renumbered", "statements"]

_MARK = re.compile(r"\[(\d{1,3})\]")
_PARTIAL = re.compile(r"\[\d{0,3}$")  # a marker cut off at the end of a streamed piece
_STATEMENT = re.compile(r".*?(?:\[\d{1,3}\])+[.!?]?\s*|.+$", re.DOTALL)


def renumbered(answer: Answer) -> Answer:
    """``answer`` with its citations numbered 1..n in order of first use in its text.

    An answer without markers in its text (an abstention, a table computed by SQL) is returned
    unchanged. A marker that names no source (``[2019]``) is left as it is."""
    known = {c.n for c in answer.citations} | set(range(1, len(answer.sources) + 1))
    order = list(dict.fromkeys(int(m) for m in _MARK.findall(answer.text) if int(m) in known))
    if not order:
        return answer
    mapping = {old: new for new, old in enumerate(order, start=1)}
    text = _MARK.sub(
        lambda m: f"[{mapping[int(m.group(1))]}]" if int(m.group(1)) in mapping else m.group(0), answer.text
    )
    sources = _reordered(answer.sources, order)
    kept = [replace(c, n=mapping[c.n]) for c in answer.citations if c.n in mapping]
    citations = tuple(sorted(kept, key=lambda c: c.n))  # stable: a number's citations stay in text order
    return replace(answer, text=text, citations=citations, sources=sources)


def by_number(answer: Answer) -> list[tuple[Citation, list[str]]]:
    """One citation per number, in order, with every quote it stands for: the citations of one
    passage become one whose location spans them (its quote the passage text between, when known)."""
    grouped: dict[int, list[Citation]] = {}
    for citation in answer.citations:
        grouped.setdefault(citation.n, []).append(citation)
    out = []
    for n in sorted(grouped):
        source = answer.sources[n - 1] if 0 < n <= len(answer.sources) else None
        quotes = list(dict.fromkeys(c.quote for c in grouped[n]))
        out.append((_merged(grouped[n], source), quotes))
    return out


def _reordered(sources: Sequence[Hit], order: Sequence[int]) -> tuple[Hit, ...]:
    cited = [n for n in order if 1 <= n <= len(sources)]
    rest = [h for i, h in enumerate(sources, start=1) if i not in set(cited)]
    return tuple(sources[n - 1] for n in cited) + tuple(rest)


def _merged(citations: list[Citation], source: Hit | None) -> Citation:
    """One citation for every quote of one passage: its span from the first quote to the last."""
    if len(citations) == 1:
        return citations[0]
    first = citations[0]
    flags = [c.supported for c in citations]
    supported = False if False in flags else (True if all(flags) else None)
    starts = [c.location.char_start for c in citations]
    ends = [c.location.char_end for c in citations]
    location, quote = first.location, first.quote
    if all(s is not None for s in starts) and all(e is not None for e in ends):
        start, end = min(s for s in starts if s is not None), max(e for e in ends if e is not None)
        location = replace(first.location, char_start=start, char_end=end)
        base = source.location.char_start if source is not None else None
        if source is not None and base is not None and base <= start and end - base <= len(source.text):
            quote = source.text[start - base : end - base]
        else:
            quote = " … ".join(
                dict.fromkeys(c.quote for c in sorted(citations, key=lambda c: c.location.char_start or 0))
            )
    else:
        quote = " … ".join(dict.fromkeys(c.quote for c in citations))
    return replace(first, location=location, quote=quote, supported=supported)


def statements(text: str) -> list[str]:
    """``text`` cut after each statement's citation markers (they join back exactly): the pieces
    an answer is streamed in when it is not generated word by word."""
    return [m.group(0) for m in _STATEMENT.finditer(text) if m.group(0)]


class NumberedStream:
    """Wraps a stream callback: pieces pass through with their ``[n]`` markers renumbered 1..n by
    first use (a marker split across pieces is held back until it is whole). Call :meth:`flush`
    when the stream ends."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self.sink = sink
        self.mapping: dict[int, int] = {}
        self._held = ""

    def __call__(self, piece: str) -> None:
        text = self._held + piece
        partial = _PARTIAL.search(text)
        self._held = partial.group(0) if partial else ""
        if partial:
            text = text[: partial.start()]
        if text:
            self.sink(_MARK.sub(self._number, text))

    def _number(self, match: re.Match[str]) -> str:
        old = int(match.group(1))
        if old == 0:
            return match.group(0)
        new = self.mapping.setdefault(old, len(self.mapping) + 1)
        return f"[{new}]"

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            self.sink(held)
