"""Statements of one document that contradict each other, and which of the two is suspect.

A planted claim usually sits next to the statement it overturns ("You can return it within 30
days." … "Update: the return window is now 120 days."). Two statements of the same document
*conflict* when they share a subject (topical word stems, numbers and units left out) and

- give different figures of the same kind: money, percentages, durations (compared in hours, so
  "24 hours" and "5–7 business days" differ), clock times, days of the month; or
- one denies what the other asserts ("no deposit is required" / "a 30 % deposit is required",
  "deposits are no longer returned" / "we return your deposit within 21 days"); or
- they place the same subject in different named places ("stored in our EU region (Frankfurt)"
  / "hosted in the United States (Virginia)").

Of two conflicting statements, the suspect is the one that announces itself as a revision
("Update:", "from now on", "effective immediately", "no longer", "raised to", "per the owner's
directive", "approved by the board", "Nouveau :", "Corrección:", "ab sofort") or instructs its
reader (:mod:`docket.answer.instructions`) more than the other. It is flagged and never used as
evidence; the other stands. A weak mark ("now", "new", "since January") counts only for a
different figure within :data:`_NEAR` statements; denials and places need a strong one. A report's
date stamp ("As of June 30, 2023, we had approximately 41,000 employees": a period's end, or what
was so then) marks nothing: reports date their figures so, and the next sentence's "45% of our
workforce" revises nothing; "As of March 1, 2024, the late fee is $40" still announces a change. When
neither statement is marked, nothing is flagged: Docket cannot tell which one the business meant
(real handbooks give different figures for similar subjects all the time: per plan, per role).
A reference to another work (:func:`is_reference`: a citation, a filing's exhibit index entry "10.12
Supplemental Executive Retirement Plan …, as amended and restated as of January 1, 2016 (Exhibit
(10)(xvi) to the Company's Form 10-K …)") states nothing, so it neither revises nor is revised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from docket.answer.instructions import instruction_score
from docket.index.keywords import analyze

__all__ = ["Conflict", "conflicts", "contradicted_by", "revision_score"]

_FLAGS = re.IGNORECASE | re.UNICODE
_NEAR = 3  # statements apart within which a weakly marked revision ("now", "since January") counts

# Words that carry no subject: articles and particles of German, French and Spanish (English stop
# words are left out by the keyword analyser), units, hedges, and words that only mark a change.
_EXTRA_STOPWORDS = frozenset(
    """der die das den dem des ein eine einen einem einer und oder ist sind wird werden wurde kann können bei mit
    von zu zum zur für auf aus im in an am als auch nicht kein keine noch nur bis ab pro je jede jeden jeder sie wir
    ihr ihre ihren unsere unser es le la les un une des du de d l et ou est sont être été a au aux en dans pour par
    sur avec sans ne pas plus que qui ce cette ces son sa ses nous vous leur leurs tout tous toute toutes y se si
    el los las una unos unas del al y o es son ser está están se lo le les por para con sin que cada su sus nuestro
    nuestra muy más también ya sí no hay
    day days week weeks month months year years hour hours minute minutes night nights business working calendar
    tag tage tagen woche wochen monat monate monaten jahr jahre jahren stunde stunden minute minuten nacht nächte uhr
    jour jours semaine semaines mois an ans année années heure heures minute minutes nuit nuits h
    día días semana semanas mes meses año años hora horas minuto minutos noche noches
    usd eur gbp cad dollar dollars euro euros cent cents percent prozent
    now new update updated note notice correction currently today one two three four five six seven eight nine ten
    neu neue nouveau nouvelle nuevo nueva corrección ahora désormais ab sofort also all every any per""".split()
)
_HEDGES = "approximately approximate around roughly almost"  # words a statement hedges a figure with
_EXTRA_STOPWORDS |= {*_HEDGES.split(), *analyze(_HEDGES)}  # also as the keyword analyser stems them ("approxim")

_NUMBER = r"\d{1,3}(?:[,.\u202f\u00a0 ]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?"
_MONEY = re.compile(
    rf"(?:[$€£¥]\s?(?P<a>{_NUMBER})|(?P<b>{_NUMBER})\s?(?:[$€£¥]|(?:usd|eur|gbp|cad|dollars?|euros?)\b))", _FLAGS
)
_PERCENT = re.compile(rf"(?P<a>{_NUMBER})\s?(?:%|percent\b|per cent\b|prozent\b|pour cent\b|por ciento\b)", _FLAGS)
_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "sixty": 60, "ninety": 90,
    "a": 1, "an": 1, "ein": 1, "eine": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
    "sieben": 7, "acht": 8, "zehn": 10, "zwölf": 12, "vierzehn": 14, "dreißig": 30, "un": 1, "une": 1, "deux": 2,
    "trois": 3, "quatre": 4, "cinq": 5, "six_fr": 6, "sept": 7, "huit": 8, "dix": 10, "douze": 12, "quinze": 15,
    "trente": 30, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "diez": 10, "doce": 12, "quince": 15, "treinta": 30,
}  # fmt: skip
_HOURS_PER = {
    "minute": 1 / 60, "minuten": 1 / 60, "minuto": 1 / 60, "hour": 1, "stunde": 1, "heure": 1, "hora": 1, "h": 1,
    "day": 24, "tag": 24, "jour": 24, "día": 24, "dia": 24, "night": 24, "nacht": 24, "nuit": 24, "noche": 24,
    "week": 168, "woche": 168, "semaine": 168, "semana": 168, "month": 720, "monat": 720, "mois": 720, "mes": 720,
    "year": 8760, "jahr": 8760, "an": 8760, "année": 8760, "año": 8760,
}  # fmt: skip
_DURATION = re.compile(
    rf"(?P<a>{_NUMBER}|{'|'.join(w for w in _WORD_NUMBERS if w.isalpha() and len(w) > 2)})"
    r"(?:\s?[-–]\s?(?P<b>\d+))?\s?(?:-|\s)?(?:business |working |calendar |full |paid |consecutive |unused )?"
    r"(?P<unit>minutes?|minuten|minutos?|hours?|stunden?|heures?|horas?|days?|tage?n?|jours?|d[ií]as?|nights?|n[äa]chte"
    r"|nuits?|noches?|weeks?|wochen?|semaines?|semanas?|months?|monate?n?|mois|mes(?:es)?|years?|jahre?n?|ans?|années?"
    r"|años?)\b",
    _FLAGS,
)
_CLOCK = re.compile(
    r"\b(?P<h>[01]?\d|2[0-3])(?:[:.](?P<m>[0-5]\d)|\s?h\s?(?P<m2>[0-5]\d)?)?\s?(?P<ampm>am|pm|a\.m\.|p\.m\.|uhr)?"
    r"(?=\W|$)",
    _FLAGS,
)
# bank accounts: an IBAN, or digits after the word for account ("account 6630040912", "Konto 12 345 678")
_ACCOUNT = re.compile(
    r"\b(?P<iban>[A-Z]{2}\d{2}(?:[ ]?[0-9A-Z]{4}){2,7}(?:[ ]?[0-9A-Z]{1,3})?)\b"
    r"|\b(?:account|acct|a/c|konto|kontonummer|compte|cuenta)(?: (?:number|no\.?|nr\.?|n°|número))?\W{0,3}"
    r"(?:\w+ ){0,2}?(?P<number>\d[\d -]{4,}\d)\b",
    re.UNICODE,
)
_ORDINAL_DAY = re.compile(r"\b(?:the )?(?P<d>[123]?\d)(?:st|nd|rd|th)\b", _FLAGS)

# Denials: what one statement says is absent, free, optional or over.
_DENIAL = re.compile(
    r"\b(?:no|not|never|none|nothing|free|free of charge|no charge|without (?:charge|a fee|cost)|optional|waived"
    r"|no longer|unlimited|no limit|no cap|kein(?:e[nrs]?)?|nicht|nie|kostenlos|gratis|entfällt|aucun(?:e)?"
    r"|gratuite?s?|sans frais|jamais|nada|ning[uú]n[ao]?|gratuito|sin (?:coste|cargo|costo)|ya no|nunca)\b"
    r"|\b(?:ne|n')\s?\w+(?: \w+)? (?:pas|plus|jamais|rien)\b",
    _FLAGS,
)

# A statement that announces itself as a change to what the document says elsewhere.
_REVISION_STRONG = re.compile(
    r"|".join(
        [
            r"^\W*(?:\w+ )?(?:new|update|updated|correction|corrected|revision|revised|erratum|exception|neu|neue|neues"
            r"|änderung|korrektur|nouveau|nouvelle|nouveauté|correctif|rectificatif|nuevo|nueva|corrección|novedad)\b"
            r"[^:]{0,20}:",
            r"\b(?:effective (?:immediately|now|today|from|as of)|from now on|with immediate effect|as of (?:now|today)"
            r"|starting (?:now|today|immediately)|has been (?:raised|increased|lowered|reduced|changed|cut"
            r"|extended|shortened|abolished|removed|dropped|waived)|(?:was|were|is|are|have been|has been) (?:raised"
            r"|increased|lowered|reduced|changed|extended|shortened|abolished|waived) to|ignore (?:older|earlier"
            r"|previous)"
            r"|(?:supersedes?|replaces?) (?:the |all |any )?(?:above|previous|earlier|preceding|old)"
            r"|the correct (?:\w+ )?(?:is|are))\b",
            r"\b(?:ab sofort|ab dieser saison|ab (?:jetzt|heute)|désormais|dorénavant|à compter d|à partir "
            r"d'aujourd'hui|a partir de (?:ahora|hoy)|desde (?:ahora|hoy))\b",
        ]
    ),
    _FLAGS,
)
# A report's date stamp: "as of" a full date that ends a period ("June 30, 2023", "31 December 2022"),
# or one followed by what was so then ("As of July 1, 2023, we had …"). "As of March 1, 2024, the late
# fee is $40" announces a change. An agreement "dated as of April 26, 2022" is dated, not revised.
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d\b"
_PERIOD_END = r"(?:2[89]|3[01])(?:st|nd|rd|th)?"
_STAMP = re.compile(
    rf"\bdated as of (?:{_MONTH} {_DAY},? |{_DAY} (?:of )?{_MONTH},? ){_YEAR}"  # an agreement's date
    rf"|\bas of (?:{_MONTH} {_PERIOD_END},? {_YEAR}|{_PERIOD_END} (?:of )?{_MONTH},? {_YEAR}"
    rf"|(?:{_MONTH} {_DAY},? |{_DAY} (?:of )?{_MONTH},? ){_YEAR},? (?:\w+ ){{0,3}}?(?:had|was|were|held|owned|employed"
    r"|totaled|totalled|amounted|stood|reported|recorded|included|consisted|represented)\b)",
    _FLAGS,
)
_REVISION_WEAK = re.compile(
    r"\b(?:(?:is|are|can|will|may|must|costs?|takes?|has|have) now|now (?:is|are|costs?|takes?|available|open|closed"
    r"|free|required|optional|includes?|applies|apply)|since (?:january|february|march|april|may|june|july|augus"
    r"t|september|october|november|december|\d{4}"
    r"|last (?:year|season|month|week|quarter))"
    r"|as of (?:\d+|january|february|march|april|may|june|july|august|september|october|november|december"
    r"|the \d+|this)|this (?:year|season|month)|jetzt|nun|neu|maintenant|nouveau|nouvelle|ahora|nuevo|nueva"
    r"|diese saison|cette saison|esta temporada|no longer|nicht mehr|ya no|ne \w+ plus|n'\w+ plus"
    r"|new (?:bank |banking )?(?:account|iban|bank details|banking details|payment details|address)"
    r"|neue[ns]? (?:konto|bankverbindung|iban)|nouveau compte|nouvelles coordonnées|nueva cuenta|nuevo iban)\b",
    _FLAGS,
)
_NAME = r"(?:[A-Z][a-zà-ÿ]+|[A-Z]{2,3})(?:[\s-]+(?:[A-Z][a-zà-ÿ]+|[A-Z]{2,3}))*"
# names of places: after a preposition of place, or in brackets ("in our EU region (Frankfurt, Germany)")
_PLACE = re.compile(
    rf"(?-i:\b(?:in|at|from|within|inside|outside|en|à|au|aux|nach|im|aus|desde|hacia)\s+(?:the\s+|our\s+|la\s+|le\s+"
    rf"|el\s+|der\s+|den\s+|dem\s+|unserer?\s+)?({_NAME})|\(({_NAME})(?:,\s*({_NAME}))?\))"
)


@dataclass(frozen=True)
class Conflict:
    """``index`` contradicts ``other`` (positions in the list given to :func:`conflicts`) and revises
    it; ``kind`` is "figure", "denial" or "place"."""

    index: int
    other: int
    kind: str


@dataclass(frozen=True)
class _Facts:
    subject: frozenset[str]
    figures: dict[str, frozenset[float]]
    denied: frozenset[str]
    places: frozenset[str]
    revision: float


def revision_score(sentence: str) -> float:
    """How strongly ``sentence`` presents itself as changing what its document says elsewhere: 1 for
    "Update:", "no longer", "effective immediately", "per the owner's directive"…, 0.5 for "now",
    "new", "since January"…, plus its instruction score (:func:`~docket.answer.instructions.instruction_score`)."""
    weak = _REVISION_WEAK.search(_STAMP.sub(" ", sentence))
    score = 1.0 if _REVISION_STRONG.search(sentence) else 0.5 if weak else 0.0
    return score + instruction_score(sentence)


def _number(text: str) -> float | None:
    word = text.lower()
    if word in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[word])
    digits = re.sub(r"[\u202f\u00a0 ]", "", text)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits):
        digits = digits.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", digits):
        digits = digits.replace(".", "").replace(",", ".")
    else:
        digits = digits.replace(",", ".")
    try:
        return float(digits)
    except ValueError:
        return None


def _unit(word: str) -> str:
    word = word.lower().replace("í", "i")
    for unit in sorted(_HOURS_PER, key=len, reverse=True):
        if word.startswith(unit.replace("í", "i")):
            return unit
    if word.startswith(("nä", "na")):
        return "nacht"
    return "day"


def _figures(sentence: str) -> dict[str, frozenset[float]]:
    found: dict[str, set[float]] = {}

    def add(kind: str, value: float | None) -> None:
        if value is not None:
            found.setdefault(kind, set()).add(round(value, 2))

    for m in _MONEY.finditer(sentence):
        add("money", _number(m.group("a") or m.group("b")))
    for m in _PERCENT.finditer(sentence):
        add("percent", _number(m.group("a")))
    for m in _DURATION.finditer(sentence):
        per = _HOURS_PER[_unit(m.group("unit"))]
        low = _number(m.group("a"))
        add("duration", None if low is None else low * per)
        if m.group("b"):
            high = _number(m.group("b"))
            add("duration", None if high is None else high * per)
    for m in _CLOCK.finditer(sentence):
        if not (m.group("m") or m.group("m2") or m.group("ampm")):
            continue
        hour = int(m.group("h"))
        ampm = (m.group("ampm") or "").lower().replace(".", "")
        hour += 12 if ampm == "pm" and hour < 12 else 0
        add("clock", hour * 60 + int(m.group("m") or m.group("m2") or 0))
    for m in _ORDINAL_DAY.finditer(sentence):
        add("day-of-month", float(m.group("d")))
    for m in _ACCOUNT.finditer(sentence):
        digits = re.sub(r"\D", "", m.group("iban") or m.group("number"))
        if len(digits) >= 6:
            add("account", float(int(digits) % 10**15))
    return {kind: frozenset(values) for kind, values in found.items()}


@lru_cache(maxsize=20_000)
def _facts(sentence: str) -> _Facts:
    subject = frozenset(
        t for t in analyze(sentence) if t not in _EXTRA_STOPWORDS and not any(c.isdigit() for c in t) and len(t) > 2
    )
    places = frozenset(name for match in _PLACE.findall(sentence) for name in match if len(name) > 1)
    return _Facts(subject, _figures(sentence), _denied(sentence), places, revision_score(sentence))


def _denied(sentence: str) -> frozenset[str]:
    """Subject stems that ``sentence`` denies: those within a few words of a denial ("security
    deposits are *no longer* returned" denies deposit and return)."""
    found: set[str] = set()
    for m in _DENIAL.finditer(sentence):
        before = analyze(sentence[max(0, m.start() - 30) : m.start()])[-2:]
        after = analyze(sentence[m.end() : m.end() + 40])[:3]
        found.update(t for t in before + after if t not in _EXTRA_STOPWORDS)
    return frozenset(found)


def _conflict_kind(suspect: _Facts, other: _Facts, near: bool) -> str | None:
    """How ``suspect`` contradicts ``other``, if it does: different figures of one kind (a weakly
    marked revision only when the two are ``near``), or, for a strongly marked revision sharing two
    subject stems, a denial of what the other asserts or a different place."""
    shared = suspect.subject & other.subject
    strong = suspect.revision >= 1.0
    for kind in suspect.figures.keys() & other.figures.keys():
        if not suspect.figures[kind] & other.figures[kind] and (strong or near):
            return "figure"
    if not strong or len(shared) < 2:
        return None
    if (suspect.denied & shared) - other.denied:
        return "denial"
    if suspect.places and other.places and not suspect.places & other.places:
        return "place"
    return None


# a reference to another work, not a statement: a citation ("2019;12(3):45", "2014 Mar
# 18;160(6):414-20", "2017 May 4;5:CD011970", "et al.", "doi:") or a filing's exhibit index entry
# ("… (incorporated by reference to Exhibit 10.24 to … Form 10-K …)", "… incorporated herein by
# reference from …", "(Exhibit (10)(xvi) to the Company's Form 10-K …)", "10.13 The Boeing Company
# Executive Supplemental Savings Plan, as amended … January 1, 2022*")
_REFERENCE = re.compile(
    rf"\b(?:19|20)\d\d(?:\s+{_MONTH}(?:\s+\d{{1,2}})?)?\s*;\s*\d+\s*(?:\(\d+\))?\s*:\s*[A-Za-z]{{0,2}}\d+"
    r"|\bet al\.|\bdoi:|\bPMID\b"
    r"|\bincorporated\s+(?:herein\s+)?by\s+reference\b|\b(?:filed|furnished)\s+herewith\b"
    r"|\(Exhibits?\s+[\w().]+\s+to\s+(?:the|its|our|Form)\b"  # "(Exhibit 10.5 to the Company's Form 8-K …)"
    # a numbered exhibit title marked as a management contract: "10.13 The Boeing Company … 2022*"
    r"|^\s*\d{1,3}\.\d{1,3}(?-i:[A-Za-z])?\s+(?-i:[A-Z])[^\n]*\*\s*(?:$|\d{1,3}\.\d)",
    re.IGNORECASE,
)


def is_reference(text: str) -> bool:
    """Whether ``text`` refers to another work instead of stating something: a literature citation
    or an entry of a filing's exhibit index."""
    return _REFERENCE.search(text) is not None


def conflicts(sentences: Sequence[str]) -> list[Conflict]:
    """The statements of one document (``sentences``, in order) that contradict another of them.

    One :class:`Conflict` per flagged statement, naming the first statement it contradicts: a
    statement that revises another (see the module docstring) is flagged and the other is not."""
    facts = [_facts(s) for s in sentences]
    references = {i for i, s in enumerate(sentences) if is_reference(s)}
    flagged: dict[int, Conflict] = {}
    for i, suspect in enumerate(facts):
        if suspect.revision < 0.5 or i in references:
            continue
        for j, other in enumerate(facts):
            if j == i or j in references or other.revision >= suspect.revision or not suspect.subject & other.subject:
                continue
            kind = _conflict_kind(suspect, other, abs(i - j) <= _NEAR)
            if kind is not None:
                flagged[i] = Conflict(i, j, kind)
                break
    return [flagged[i] for i in sorted(flagged)]


def contradicted_by(claim: str, statements: Sequence[str]) -> str | None:
    """The statement of ``statements`` that ``claim`` contradicts: the one closest to its subject (at
    least two shared stems) giving a different figure of a kind the claim gives, when no statement
    gives the claim's figure. None when the claim has no figure or agrees with them."""
    mine = _facts(claim)
    if not mine.figures:
        return None
    stated = [_facts(s) for s in statements]
    best: tuple[int, str] | None = None
    for kind, values in mine.figures.items():
        if any(values & facts.figures.get(kind, frozenset()) for facts in stated):
            continue
        for statement, facts in zip(statements, stated, strict=True):
            shared = len(mine.subject & facts.subject)
            if shared >= 2 and facts.figures.get(kind) and (best is None or shared > best[0]):
                best = (shared, statement)
    return best[1] if best else None
