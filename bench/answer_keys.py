"""Machine-checkable answer keys and gold document profiles, scored the same for every system.

A question's ``keys`` (bench/sets/*.jsonl) say what a right answer must contain; every key must match:

- ``{"kind": "number", "value": 1577, "tol": 0.5, "unit": "USD millions"}``: a number written in the
  answer equals the value within ``tol`` (in the key's unit), or is the value rounded to the decimals
  the answer wrote (within 5 %). Money units (``USD``, ``USD thousands / millions / billions``) compare
  amounts: "$1.58 billion" and "1,577" both answer 1577 USD millions (a bare figure may be in any
  unit, as table cells are); ``%`` and unit-less values compare the number as written. Signs are
  ignored ("decreased by 2.5" answers -2.5); a bare four-digit year (1900-2100) is never a figure.
- ``{"kind": "date", "value": "2007-12-12"}``: the date appears in any common spelling
  (12/12/2007, 2007-12-12, December 12, 2007, 12 December 2007, 12.12.2007).
- ``{"kind": "polarity", "value": "yes" | "no"}``: the answer's first sentence says yes or no
  (``no``: also "not" / "n't").
- ``{"kind": "phrases", "phrases": ["Lion Air", "Ethiopian|Ethiopia"], "min": 1}``: at least ``min``
  phrases appear (``|`` separates alternatives), compared without case, accents or punctuation,
  from a word start.

``[n]`` citation markers are removed first. Standard library only (the peers' harness imports it).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MARK = re.compile(r"\[\d{1,3}\]")
_NUM = re.compile(
    r"(?<![\w.])(\$|USD\s?|US\$)?\s?\(?[-−–]?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\)?"
    r"\s?(%|percent\b|per cent\b)?\s?(thousand|million|billion|trillion|bn|mn|mm|m|b|k)?\b",
    re.IGNORECASE,
)
_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "mm": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9,
          "b": 1e9, "trillion": 1e12}  # fmt: skip
MONEY = {"USD": 1.0, "USD thousands": 1e3, "USD millions": 1e6, "USD billions": 1e9}
_MONTHS = {m: i + 1 for i, m in enumerate("january february march april may june july august september october "
                                           "november december".split())}  # fmt: skip
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9


@dataclass(frozen=True)
class Mention:
    """A number as the answer wrote it: absolute value, decimals written, scale word, marks."""

    value: float
    decimals: int
    mult: float  # 1.0 without a scale word
    percent: bool
    money: bool
    comma: bool


def mentions(text: str) -> list[Mention]:
    out = []
    for m in _NUM.finditer(text):
        whole, frac = m.group(2), m.group(3) or ""
        scale = (m.group(5) or "").lower()
        out.append(
            Mention(
                value=float(whole.replace(",", "") + frac),
                decimals=max(len(frac) - 1, 0),
                mult=_SCALE.get(scale, 1.0),
                percent=bool(m.group(4)),
                money=bool(m.group(1)),
                comma="," in whole,
            )
        )
    return out


def _close(written: float, decimals: int, target: float, tol: float) -> bool:
    """``written`` (as the answer wrote it) answers ``target`` (same unit): within ``tol``, or
    ``target`` rounded to the written decimals, within 5 %."""
    if abs(written - target) <= tol:
        return True
    return abs(round(target, decimals) - written) < 1e-9 and abs(written - target) <= 0.05 * abs(target)


def _is_year(m: Mention) -> bool:
    return m.mult == 1.0 and not (m.comma or m.money or m.percent or m.decimals) and 1900 <= m.value <= 2100


def match_number(key: Mapping[str, Any], text: str) -> bool:
    value, tol, unit = abs(float(key["value"])), float(key.get("tol", 0.0)), key.get("unit", "")
    for m in mentions(text):
        if _is_year(m) and not (1900 <= value <= 2100 and unit not in MONEY):
            continue
        if unit in MONEY:
            scale = MONEY[unit]
            gold = value * scale  # in dollars
            units = [m.mult] if m.mult != 1.0 else [1.0, 1e3, 1e6, 1e9]  # a bare figure: any table unit
            if any(_close(m.value, m.decimals, gold / u, tol * scale / u) for u in units):
                return True
        elif _close(m.value * m.mult, m.decimals, value, tol):
            return True
    return False


def _iso(y: int, mo: int, d: int) -> str | None:
    try:
        return dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def dates(text: str) -> set[str]:
    """Every date written in ``text``, as ISO strings (US month-first for numeric dates)."""
    found: set[str | None] = set()
    for y, mo, d in re.findall(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", text):
        found.add(_iso(int(y), int(mo), int(d)))
    for mo, d, y in re.findall(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b", text):
        found.add(_iso(int(y), int(mo), int(d)))
        found.add(_iso(int(y), int(d), int(mo)))  # day-first, as Europe writes it
    for name, d, y in re.findall(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", text):
        if name.lower() in _MONTHS:
            found.add(_iso(int(y), _MONTHS[name.lower()], int(d)))
    for d, name, y in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b", text):
        if name.lower() in _MONTHS:
            found.add(_iso(int(y), _MONTHS[name.lower()], int(d)))
    return {x for x in found if x}


def normalise(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", plain.lower()).split()) + " "


def match_phrases(key: Mapping[str, Any], text: str) -> bool:
    norm = normalise(text)
    hits = sum(
        any(normalise(alt).rstrip() in norm for alt in str(phrase).split("|") if alt.strip())
        for phrase in key["phrases"]
    )
    return hits >= int(key.get("min", 1))


def polarity(text: str) -> str | None:
    first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0].lower()
    yes = re.search(r"\byes\b", first)
    no = re.search(r"\bno\b|\bnot\b|n't\b", first)
    if yes and (not no or yes.start() < no.start()):
        return "yes"
    return "no" if no else None


def match_key(key: Mapping[str, Any], text: str) -> bool:
    kind = key["kind"]
    if kind == "number":
        return match_number(key, text)
    if kind == "date":
        return key["value"] in dates(text)
    if kind == "polarity":
        return polarity(text) == key["value"]
    if kind == "phrases":
        return match_phrases(key, text)
    raise ValueError(f"unknown key kind {kind!r}: expected number, date, polarity or phrases")


def facts_match(keys: Sequence[Mapping[str, Any]], answer: str) -> bool:
    """Every key matches the answer text (``[n]`` markers removed); an empty key list never does."""
    text = MARK.sub(" ", answer)
    return bool(keys) and all(match_key(k, text) for k in keys)


# ---------------------------------------------------------------------- organisations and profiles
def same_org(a: str, b: str) -> bool:
    """Organisation names match case-insensitively when either contains the other."""
    x, y = normalise(a).strip(), normalise(b).strip()
    return bool(x and y) and (x in y or y in x)


def other_org_cited(cited: Iterable[str], org: str, entity_of: Mapping[str, str]) -> bool:
    """Any cited document (file name) whose gold entity is not the question's organisation; a file
    without a gold profile counts as another organisation's."""
    return any(not same_org(entity_of.get(name, ""), org) for name in cited)


def _norm_type(value: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value).lower())


def profile_fields(extracted: Mapping[str, Any], gold: Mapping[str, Any]) -> dict[str, bool | None]:
    """Which fields of Docket's profile (``Document.metadata["profile"]``) agree with the gold one;
    None where the gold profile has no value to compare."""
    orgs = [str(o) for o in extracted.get("organizations") or []]
    gold_orgs = [str(o) for o in gold.get("organizations") or []]
    types = {_norm_type(t) for t in [gold.get("doc_type", ""), *gold.get("doc_type_aliases", [])] if t}
    out: dict[str, bool | None] = {
        "organization": any(same_org(o, g) for o in orgs for g in gold_orgs) if gold_orgs else None,
        "doc_type": _norm_type(extracted.get("doc_type") or "") in types if types else None,
        "fiscal_year": None,
        "period_end": None,
        "date": None,
    }
    if gold.get("fiscal_year") is not None:
        out["fiscal_year"] = extracted.get("fiscal_year") == gold["fiscal_year"]
    if gold.get("period_end"):
        out["period_end"] = extracted.get("period_end") == gold["period_end"]
    if gold.get("date"):
        out["date"] = extracted.get("date") == gold["date"]
    return out
