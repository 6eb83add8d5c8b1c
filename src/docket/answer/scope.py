"""Question scoping: which documents a question is about, from the documents' profiles.

A question that names an organisation, a period or a kind of document ("Apple's gross margin in
Q2 2023", "the latest 10-Q", "FY2018 capital expenditure for 3M", "the 2022 handbook") is about
the documents whose profiles (:mod:`docket.ingest.profiles`) match, not about every similar
passage in the knowledge base. :func:`scope_question` finds those documents; retrieval is then
restricted to them, so an answer about Apple never quotes Intel's filing.

The rules:

- **organisations** — the question names an organisation when it contains a profile's
  organisation in a comparable form (``"The Coca-Cola Company"`` matches "Coca Cola"; a one-word
  name must be capitalised in the question, so "square feet" never means Square, Inc.). The
  documents about other organisations are left out; those whose profile names none stay. A long
  enough leading part of a longer name counts ("Walmart" for "Wal-Mart Stores"), unless it is a
  place or a word many names start with ("Florida" is no mention of "Florida Flight Training
  Center", nor "American" of American Express).
- **kind** — "10-K", "10-Q", "annual report", "earnings release", "handbook"… narrow to documents
  of that type when some have it (documents whose type is not known stay).
- **period** — fiscal years ("FY2018", "fiscal 2018", "FY18", a plain "2018") and quarters ("Q2",
  "second quarter"). The latest year named picks the documents of that fiscal year (a question
  about FY2016–FY2017 needs the FY2017 report, which also shows FY2016); when none exists, the
  nearest later one (a report shows the years before it). With a quarter, documents of that
  quarter come first; without one, documents of the whole year.
- **latest** — "latest", "most recent", "last quarter", "current": the newest document (by period
  end, else date) among the others.

Nothing is narrowed that would leave no document; what was done is said in ``Scope.note``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from docket.errors import UserError
from docket.ingest.profiles import find_dates, org_key
from docket.types import Profile

__all__ = ["Catalog", "Entry", "Scope", "resolve_where", "scope_question"]


@dataclass(frozen=True)
class Entry:
    """One document a caller may read, with its profile."""

    doc_id: str
    path: str
    title: str
    profile: Profile

    @property
    def label(self) -> str:
        """The document's label for citations: its profile's, else its title."""
        return self.profile.label() or self.title or self.path


@dataclass(frozen=True)
class Catalog:
    """The profiles of the documents one caller may read."""

    entries: tuple[Entry, ...]

    def by_id(self) -> dict[str, Entry]:
        return {e.doc_id: e for e in self.entries}

    def label(self, doc_id: str, fallback: str = "") -> str:
        for entry in self.entries:
            if entry.doc_id == doc_id:
                return entry.label
        return fallback


@dataclass(frozen=True)
class Scope:
    """What a question is about. ``documents`` is None when it names nothing that narrows it."""

    organizations: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    quarter: int | None = None
    latest: bool = False
    documents: tuple[str, ...] | None = None
    note: str = ""

    @property
    def narrowed(self) -> bool:
        return self.documents is not None


_WORD = re.compile(r"[A-Za-z0-9]+")
_FY = re.compile(r"\b(?:FY|fiscal\s+(?:year\s+)?)\s*'?(\d{4}|\d{2})\b", re.IGNORECASE)
_FY_SUFFIX = re.compile(r"\b(\d{4})\s*(?:fiscal\s+year|FY)\b", re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d,.$])((?:19|20)\d\d)(?![\d,])")
_QUARTER = re.compile(
    r"\bQ([1-4])\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\b", re.IGNORECASE
)
_LATEST = re.compile(
    r"\b(latest|most\s+recent|newest|last\s+(?:quarter|year|report|filing|period|version|month)"
    # "current" alone is no request for the newest document: "current assets", "non-current liabilities"
    r"|(?<!-)current\s+(?:report|filing|period|quarter|year|version|edition|document|policy|policies|handbook"
    r"|release|plan|guidelines?|rules?|terms))\b",
    re.IGNORECASE,
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
# how questions name kinds of documents -> the profile types they mean
_KINDS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), types)
    for pattern, types in (
        (r"\b10-?K\b|\bannual (report|filing)\b", ("10-K", "annual report", "20-F")),
        (r"\b10-?Q\b|\bquarterly (report|filing)\b", ("10-Q", "quarterly report")),
        (r"\b8-?K\b|\bcurrent report\b", ("8-K",)),
        (r"\bearnings( release| call| report)?\b|\bresults (release|announcement)\b", ("earnings release",)),
        (r"\bhandbook\b", ("handbook",)),
        (r"\bprotocol\b", ("protocol",)),
        (r"\binvoices?\b", ("invoice",)),
        (r"\bcontract\b|\bagreement\b", ("contract",)),
        (r"\baccident report\b", ("accident report",)),
    )
)


# words that start many organisations' names and mean something else alone: places (the US states,
# a few countries and regions) and common adjectives
_COMMON_LEADS = frozenset(
    """alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii
    idaho illinois indiana kansas kentucky louisiana maine maryland massachusetts michigan minnesota
    mississippi missouri montana nebraska nevada north south oklahoma oregon pennsylvania rhode
    tennessee texas vermont virginia washington wisconsin wyoming america american americas canada
    canadian mexico mexican europe european british china chinese japan japanese india indian
    australia australian pacific atlantic united national international general global first
    southern northern western eastern central federal royal standard universal continental""".split()
)


def _squash(text: str) -> str:
    return "".join(_WORD.findall(text.lower()))


def _mentions(question: str, organization: str) -> bool:
    """Whether ``question`` names ``organization`` (see the module docstring)."""
    key = org_key(organization)
    target = key.replace(" ", "")
    if len(target) < 2:
        return False
    tokens = [(m.group(0), m.start()) for m in _WORD.finditer(question)]
    lowered = [t.lower() for t, _ in tokens]
    width = len(key.split())
    for i in range(len(tokens)):
        for n in range(1, min(width + 2, len(tokens) - i) + 1):
            joined = "".join(lowered[i : i + n])
            first = tokens[i][0]
            exact = joined == target
            # "Walmart" for "Wal-Mart Stores": a long enough leading part of a longer name
            leading = (
                n == 1 and len(joined) >= 5 and target.startswith(joined) and width > 1 and joined not in _COMMON_LEADS
            )
            if not (exact or leading):
                continue
            if first[0].isupper() or first[0].isdigit() or (width > 1 and exact):
                return True
    return False


def _years(question: str) -> list[int]:
    years: list[int] = []
    for match in _FY.finditer(question):
        value = match.group(1)
        years.append(int(value) if len(value) == 4 else 2000 + int(value))
    years.extend(int(m.group(1)) for m in _FY_SUFFIX.finditer(question))
    years.extend(int(m.group(1)) for m in _YEAR.finditer(question))
    dated = {d.year for _, d in find_dates(question)}
    return sorted({y for y in years if 1950 <= y <= 2100} | dated)


def _quarter(question: str) -> int | None:
    match = _QUARTER.search(question)
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else _ORDINALS[match.group(2).lower()]


def _newest(entries: Sequence[Entry]) -> list[Entry]:
    def when(entry: Entry) -> str:
        return entry.profile.period_end or entry.profile.date or ""

    dated = [e for e in entries if when(e)]
    if not dated:
        return list(entries)
    top = max(when(e) for e in dated)
    return [e for e in dated if when(e) == top]


def scope_question(question: str, catalog: Catalog) -> Scope:
    """The documents of ``catalog`` that ``question`` is about (see the module docstring)."""
    entries = list(catalog.entries)
    if not entries:
        return Scope()
    notes: list[str] = []
    organizations: list[str] = []
    for entry in entries:
        for name in entry.profile.organizations:
            if name not in organizations and _mentions(question, name):
                organizations.append(name)
    candidates = entries
    if organizations:  # leave out the documents about other organisations (not those that name none)
        keys = {org_key(name) for name in organizations}
        candidates = [
            e for e in entries if not e.profile.organizations or keys & {org_key(n) for n in e.profile.organizations}
        ]
    kinds = tuple(dict.fromkeys(t for pattern, types in _KINDS if pattern.search(question) for t in types))
    # leave out the documents of another type (not those whose type is not known)
    if kinds and any(e.profile.doc_type in kinds for e in candidates):
        candidates = [e for e in candidates if e.profile.doc_type in kinds or not e.profile.doc_type]
    years = _years(question)
    quarter = _quarter(question)
    # periods narrow only the documents that have one (a handbook page without a period stays)
    undated = [e for e in candidates if e.profile.fiscal_year is None]
    dated = [e for e in candidates if e.profile.fiscal_year is not None]
    if years and dated:
        wanted = max(years)
        exact = [e for e in dated if e.profile.fiscal_year == wanted]
        if exact:
            candidates = _by_quarter(exact, quarter) + undated
        else:
            later = [e for e in dated if (e.profile.fiscal_year or 0) > wanted]
            if later:
                nearest = min(e.profile.fiscal_year or 0 for e in later)
                candidates = [e for e in later if e.profile.fiscal_year == nearest] + undated
                notes.append(f"no document for FY{wanted}; the FY{nearest} report also covers it")
            else:
                notes.append(f"no document covers FY{wanted}")
    elif quarter is not None:
        quarterly = [e for e in dated if e.profile.fiscal_quarter == quarter]
        if quarterly:
            candidates = quarterly + undated
    latest = bool(_LATEST.search(question))
    if latest:
        candidates = _newest(candidates)
    narrowed = len(candidates) < len(entries)
    return Scope(
        organizations=tuple(organizations),
        doc_types=kinds,
        years=tuple(years),
        quarter=quarter,
        latest=latest,
        documents=tuple(e.doc_id for e in candidates) if narrowed else None,
        note="; ".join(notes),
    )


def _by_quarter(entries: list[Entry], quarter: int | None) -> list[Entry]:
    """With a quarter named, that quarter's documents (else all); without one, the whole-year
    documents first when there are any besides quarterly ones (all are kept: a year's report and
    its fourth-quarter release both answer for the year)."""
    if quarter is None:
        return entries
    matching = [e for e in entries if e.profile.fiscal_quarter == quarter]
    return matching or entries


# ---------------------------------------------------------------------- --where filters
_WHERE_KEYS = ("org", "type", "year", "quarter", "period", "title")


def _in_range(value: str | None, start: date | None, end: date | None) -> bool:
    if not value:
        return False
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return False
    return (start is None or day >= start) and (end is None or day <= end)


def _range(text: str) -> tuple[date | None, date | None]:
    low, _, high = text.partition("..")
    try:
        start = date.fromisoformat(low) if low else None
        end = date.fromisoformat(high) if high else None
    except ValueError:
        raise UserError(f"period must be FROM..TO with ISO dates (2023-01-01..2023-06-30), not '{text}'") from None
    if not _ and start is not None:  # a single date: the documents whose period contains it
        end = start
    return start, end


def resolve_where(conditions: Iterable[tuple[str, str]], catalog: Catalog) -> tuple[str, ...]:
    """The ids of the documents whose profiles meet every condition (``org=Acme``,
    ``type=10-Q``, ``year=2023``, ``quarter=2``, ``period=2023-01-01..2023-06-30``, ``title=…``)."""
    entries = list(catalog.entries)
    for key, value in conditions:
        key = key.strip().lower()
        wanted = value.strip()
        if key in ("org", "organization", "organisation"):
            target = org_key(wanted)
            entries = [e for e in entries if any(target in org_key(n) for n in e.profile.organizations)]
        elif key == "type":
            entries = [e for e in entries if (e.profile.doc_type or "").lower() == wanted.lower()]
        elif key in ("year", "quarter"):
            try:
                number = int(wanted.upper().removeprefix("FY").removeprefix("Q"))
            except ValueError:
                raise UserError(f"{key} must be a number (2023, FY2023, Q2), not '{value}'") from None
            field = "fiscal_year" if key == "year" else "fiscal_quarter"
            entries = [e for e in entries if getattr(e.profile, field) == number]
        elif key == "period":
            start, end = _range(wanted)
            entries = [e for e in entries if _overlaps(e.profile, start, end)]
        elif key == "title":
            entries = [e for e in entries if wanted.lower() in (e.profile.title or e.title).lower()]
        else:
            raise UserError(f"unknown --where field '{key}'; use one of: {', '.join(_WHERE_KEYS)}")
    return tuple(e.doc_id for e in entries)


def _overlaps(profile: Profile, start: date | None, end: date | None) -> bool:
    """Does the profile's period (or its date, for a document without one) meet [start, end]?"""
    if profile.period_end:
        first = profile.period_start or profile.period_end
        return _in_range(first, None, end) and _in_range(profile.period_end, start, None)
    return _in_range(profile.date, start, end)
