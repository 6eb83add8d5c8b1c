"""Figures computed in code from the figures of a document's tables, with the calculation shown.

A question such as "What is Amazon's FY2017 days payable outstanding? DPO is defined as:
365 * (average accounts payable between FY2016 and FY2017) / (FY2017 COGS + change in inventory
between FY2016 and FY2017)" needs five figures from two statements and some arithmetic. A
language model asked to do it in its head gets it wrong more often than not; a passage-picker
cannot do it at all. So :func:`plan` turns the question into a :class:`Plan` — a small expression
over line items and fiscal years — and :func:`compute` looks every line item up in the tables of
the documents the question is scoped to, then evaluates the expression in Python. The answer
shows the calculation with every figure cited to its table row.

Where a plan comes from:

- **the question's own definition** — "X is defined as: …", "Define X as …", "Calculate X using …":
  ``average A between FY1 and FY2`` is ``(A[FY1] + A[FY2]) / 2``, ``change in A between FY1 and FY2``
  is ``A[FY2] - A[FY1]``, ``FY1 A`` is ``A[FY1]``, with ``+ - * /``, "divided by", "plus", "minus",
  "times" and brackets;
- else **a standard metric** the question names (:data:`METRICS`: margins, turnovers, days
  payable/sales/inventory outstanding, returns on assets and equity, current and quick ratios,
  growth, capex as a share of revenue…), over the fiscal year(s) it names;
- else **arithmetic on any row** named in the question's words ("the change in prepaid expenses
  between 2018 and 2019", "the average … for 2017-2019", "the ratio of A to B in 2018");
- else **one line item** the question asks for ("the FY2018 capital expenditure amount", "year end
  FY2019 total inventories"), or a row named in its words for one year.

"In which year was X higher?" is :func:`which_year`: the row's figures in every year column of
its table, compared.

"3 year average of …" over ``FY2015 - FY2017`` averages the metric over each year. "As a %" or
"in percent" scales a ratio by 100; "round to two decimal places" rounds; "in USD billions"
converts from the table's unit. A line item is matched to a row label by its usual names
(:data:`LINE_ITEMS`: capital expenditure is "purchases of property, plant and equipment", COGS is
"cost of sales"…) and the column by the fiscal year in its header. When a figure cannot be found
the plan is not answered here at all (the usual evidence is used, and a note says which figure
was missing) — an invented figure is worse than none.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from docket.index.keywords import analyze
from docket.sentences import CELL_SEPARATOR
from docket.types import Hit

__all__ = [
    "LINE_ITEMS",
    "METRICS",
    "Figure",
    "Plan",
    "Result",
    "YearComparison",
    "compare_years",
    "compute",
    "plan",
    "which_year",
]

# usual names of line items in financial statements: the first is how answers name it
LINE_ITEMS: dict[str, tuple[str, ...]] = {
    "revenue": ("total revenue", "total revenues", "revenues", "revenue", "total net sales", "net sales",
                "total net revenue", "net revenues", "net revenue", "sales", "total sales"),
    "cost of goods sold": ("cost of sales", "cost of goods sold", "cost of revenue", "cost of revenues",
                           "total cost of revenues", "cost of products sold", "cogs", "cost of merchandise sold"),
    "gross profit": ("gross profit", "gross margin"),
    "operating income": ("operating income", "income from operations", "operating profit",
                         "operating income (loss)", "income (loss) from operations"),
    "net income": ("net income attributable to", "net income", "net earnings", "net income (loss)",
                   "net earnings attributable to", "net income attributable to shareholders"),
    "depreciation and amortization": ("depreciation and amortization", "depreciation, amortization",
                                      "depreciation", "amortization and depreciation"),
    "capital expenditure": ("purchases of property, plant and equipment", "capital expenditures",
                            "capital expenditure", "purchases of property and equipment",
                            "payments for property and equipment", "additions to property and equipment",
                            "purchases of property, equipment", "capital spending"),
    "property, plant and equipment": ("property, plant and equipment, net", "property and equipment, net",
                                      "net property, plant and equipment", "property, plant and equipment",
                                      "property and equipment", "ppe", "pp&e", "ppne"),
    "accounts payable": ("accounts payable",),
    "accounts receivable": ("accounts receivable, net", "accounts receivable", "receivables, net", "receivables"),
    "inventory": ("inventories", "inventory", "merchandise inventories", "total inventories"),
    "total assets": ("total assets",),
    "total current assets": ("total current assets",),
    "total current liabilities": ("total current liabilities",),
    "total liabilities": ("total liabilities",),
    "total equity": ("total shareholders' equity", "total stockholders' equity", "total equity",
                     "total shareholders’ equity", "total stockholders’ equity"),
    "cash from operations": ("net cash provided by operating activities",
                             "net cash provided by (used in) operating activities",
                             "cash provided by operating activities", "net cash from operating activities"),
    "income tax expense": ("provision for income taxes", "income tax expense", "income taxes"),
    "income before taxes": ("income before income taxes", "earnings before income taxes",
                            "income before provision for income taxes"),
    "interest expense": ("interest expense",),
    "dividends paid": ("dividends paid", "cash dividends paid"),
    "cash and cash equivalents": ("cash and cash equivalents",),
}  # fmt: skip

# names that mean a line item in questions ("capex", "PP&E")
_ALIASES: dict[str, str] = {
    "capex": "capital expenditure", "capital expenditures": "capital expenditure",
    "capital expenditure": "capital expenditure", "cogs": "cost of goods sold", "cost of sales": "cost of goods sold",
    "cost of goods sold": "cost of goods sold", "pp&e": "property, plant and equipment",
    "ppne": "property, plant and equipment", "ppe": "property, plant and equipment",
    "net ppne": "property, plant and equipment", "net pp&e": "property, plant and equipment",
    "net property, plant, and equipment": "property, plant and equipment",
    "net property, plant and equipment": "property, plant and equipment",
    "property, plant and equipment": "property, plant and equipment",
    "revenue": "revenue", "revenues": "revenue", "total revenue": "revenue", "net sales": "revenue", "sales": "revenue",
    "net income": "net income", "net income attributable to shareholders": "net income", "net earnings": "net income",
    "operating income": "operating income", "unadjusted operating income": "operating income",
    "d&a": "depreciation and amortization", "depreciation and amortization": "depreciation and amortization",
    "accounts payable": "accounts payable", "inventory": "inventory", "inventories": "inventory",
    "total inventories": "inventory", "total assets": "total assets", "total current assets": "total current assets",
    "total current liabilities": "total current liabilities", "gross profit": "gross profit",
    "cash flow from operating activities": "cash from operations", "cash from operations": "cash from operations",
    "operating cash flow": "cash from operations", "accounts receivable": "accounts receivable",
    "total equity": "total equity", "shareholders' equity": "total equity", "income tax expense": "income tax expense",
    "interest expense": "interest expense", "dividends": "dividends paid",
    "cash and cash equivalents": "cash and cash equivalents",
}  # fmt: skip

# standard metrics: (pattern in the question, expression over ITEM[Y], ITEM[Y-1]; percent?)
_PPE = "property, plant and equipment"


def _avg(item: str) -> str:
    return f"(({item}[Y-1] + {item}[Y]) / 2)"


# standard metrics: (pattern in the question, expression over ITEM[Y] and ITEM[Y-1], a percentage?)
METRICS: tuple[tuple[str, str, bool], ...] = (
    (r"fixed asset turnover", f"revenue[Y] / {_avg(_PPE)}", False),
    (
        r"days payable outstanding|\bdpo\b",
        f"365 * {_avg('accounts payable')} / (cost of goods sold[Y] + inventory[Y] - inventory[Y-1])",
        False,
    ),
    (r"days sales outstanding|\bdso\b", f"365 * {_avg('accounts receivable')} / revenue[Y]", False),
    (r"days inventory outstanding|\bdio\b", f"365 * {_avg('inventory')} / cost of goods sold[Y]", False),
    (r"inventory turnover", f"cost of goods sold[Y] / {_avg('inventory')}", False),
    (r"total asset turnover|\basset turnover", f"revenue[Y] / {_avg('total assets')}", False),
    (r"return on assets|\broa\b", f"net income[Y] / {_avg('total assets')}", False),
    (r"return on equity|\broe\b", f"net income[Y] / {_avg('total equity')}", False),
    (r"working capital ratio|current ratio", "total current assets[Y] / total current liabilities[Y]", False),
    (r"quick ratio", "(total current assets[Y] - inventory[Y]) / total current liabilities[Y]", False),
    (r"ebitda\s*(%|percent)?\s*margin", "(operating income[Y] + depreciation and amortization[Y]) / revenue[Y]", True),
    (r"net (profit|income) margin", "net income[Y] / revenue[Y]", True),
    (r"gross (profit )?margin", "gross profit[Y] / revenue[Y]", True),
    (r"operating (profit )?margin", "operating income[Y] / revenue[Y]", True),
    (r"effective tax rate", "income tax expense[Y] / income before taxes[Y]", True),
    (
        r"capex as a % of revenue|capital expenditures? as a (percentage|%|share) of revenue",
        "capital expenditure[Y] / revenue[Y]",
        True,
    ),
    (r"dividend payout ratio", "dividends paid[Y] / net income[Y]", True),
    (r"interest coverage", "operating income[Y] / interest expense[Y]", False),
    (r"free cash flow", "cash from operations[Y] - capital expenditure[Y]", False),
    (
        r"(revenue|sales) growth|growth rate|(year-over-year|yoy) change in (total )?(revenue|sales)|"
        r"change in (total )?(revenue|sales) from",
        "(revenue[Y] - revenue[Y-1]) / revenue[Y-1]",
        True,
    ),
)

_FY = re.compile(r"\b(?:FY\s*'?|fiscal\s+(?:year\s+)?)(\d{4}|\d{2})\b|\b((?:19|20)\d\d)\b", re.IGNORECASE)
_ROUND = re.compile(
    r"round(?:ed)?\s+(?:your\s+answer\s+|it\s+)?to\s+(one|two|three|zero|no|\d)\s+decimal", re.IGNORECASE
)
_PERCENT = re.compile(
    r"\b(in\s+units\s+of\s+percents?|as\s+a\s+%|as\s+a\s+percent(age)?|in\s+percent|%\s*margin|percentage)\b|%",
    re.IGNORECASE,
)
_UNIT = re.compile(r"\b(?:in\s+)?(?:usd|us\$|\$)\s*(thousands|millions|billions)\b", re.IGNORECASE)
_AVERAGE_OF = re.compile(r"(\d+|three|two|five)[- ]year\s+average", re.IGNORECASE)
_DEFINITION = re.compile(
    r"(?:\bis\s+defined\s+as|\bdefine[sd]?\s+[\w\s%&/-]{1,60}?\s+as|\bcalculate[sd]?\s+[\w\s%&/-]{1,60}?\s+using)"
    r"\s*:?\s*(?P<expr>.+?)(?:\.(?:\s|$)|\?|$)",
    re.IGNORECASE,
)
_WORDS = {"one": 1, "two": 2, "three": 3, "zero": 0, "no": 0, "five": 5}


@dataclass(frozen=True)
class Plan:
    """What to compute: an arithmetic expression whose leaves are numbers and ``item[year]``."""

    label: str
    expression: str  # e.g. "revenue[2019] / ((pp&e[2018] + pp&e[2019]) / 2)"
    years: tuple[int, ...] = ()  # an average of the expression over these years, when several
    percent: bool = False
    decimals: int | None = None
    unit: str = ""  # "millions", "billions", "thousands": the unit the answer is asked in
    change: bool = False  # the change of the expression from the first of ``years`` to the last


@dataclass(frozen=True)
class Figure:
    """A line item's figure as found: the row, the column, the value and where it came from."""

    item: str
    year: int
    value: float
    label: str  # the row label as the table writes it
    column: str
    cell: str  # the cell as written, "(1,577)"
    unit: str  # the table's unit ("(Millions)")
    hit: int  # index into the hits it was read from
    start: int  # the row's offsets in that hit's text
    end: int


@dataclass
class Result:
    """A computed answer: the value, the calculation written out, and the figures behind it."""

    plan: Plan
    value: float
    shown: str
    figures: list[Figure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    values: tuple[float, float] | None = None  # for a change: the value in the first year and in the last


def _years(question: str) -> list[int]:
    out = []
    for m in _FY.finditer(question):
        value = m.group(1) or m.group(2)
        year = int(value) if len(value) == 4 else 2000 + int(value)
        if 1950 <= year <= 2100:
            out.append(year)
    return sorted(set(out))


def _item(text: str) -> str | None:
    """The line item a phrase names, if any (longest alias first)."""
    phrase = re.sub(r"\s+", " ", text.lower().strip(" ,.;:()")).removeprefix("the ").removeprefix("year end ")
    phrase = re.sub(r"^(total\s+)?amount\s+of\s+", lambda m: "total " if m.group(1) else "", phrase)
    if phrase in _ALIASES:
        return _ALIASES[phrase]
    for alias in sorted(_ALIASES, key=len, reverse=True):
        if re.search(rf"(?<![\w&]){re.escape(alias)}(?![\w&])", phrase):
            return _ALIASES[alias]
    return None


def _translate(definition: str, year: int) -> str | None:
    """A definition in words as an expression over ``item[year]``, or None when a term is unknown."""
    text = definition.replace("×", "*").replace("÷", "/")
    text = re.sub(r"\bdivided\s+by\b", "/", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(plus)\b", "+", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(minus|less)\b", "-", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(times|multiplied\s+by)\b", "*", text, flags=re.IGNORECASE)
    text = re.sub(r"\(\s*from[^)]*\)|\bfrom\s+the\s+[\w\s]+?statement\b", "", text, flags=re.IGNORECASE)
    failed = False

    def year_of(token: str) -> int:
        found = _years(token)
        return found[0] if found else year

    def average(m: re.Match[str]) -> str:
        nonlocal failed
        item = _item(m.group(1))
        failed = failed or item is None
        a, b = year_of(m.group(2)), year_of(m.group(3))
        return f"(({item}[{a}] + {item}[{b}]) / 2)"

    def change(m: re.Match[str]) -> str:
        nonlocal failed
        item = _item(m.group(1))
        failed = failed or item is None
        a, b = year_of(m.group(2)), year_of(m.group(3))
        return f"({item}[{b}] - {item}[{a}])"

    fy = r"(?:FY\s*'?\d{2,4}|\d{4})"
    text = re.sub(rf"\baverage\s+(.+?)\s+between\s+({fy})\s+and\s+({fy})", average, text, flags=re.IGNORECASE)
    text = re.sub(rf"\bchange\s+in\s+(.+?)\s+between\s+({fy})\s+and\s+({fy})", change, text, flags=re.IGNORECASE)
    out: list[str] = []
    for piece in re.split(r"([-+*/()]|\[\d{4}\]|\d+(?:\.\d+)?(?![\w\]]))", text):
        if not piece or not piece.strip():
            continue
        stripped = piece.strip()
        if re.fullmatch(r"[-+*/()]|\d+(?:\.\d+)?|\[\d{4}\]", stripped):
            out.append(stripped)
            continue
        if re.fullmatch(r"[a-z ,'&]+\[\d{4}\]?", stripped) or stripped.endswith("["):
            out.append(stripped)
            continue
        words = re.sub(rf"\b{fy}\b", "", stripped, flags=re.IGNORECASE)
        explicit = _years(stripped)
        item = _item(words)
        if item is None:
            if words.strip(" ,.;:") and not re.fullmatch(r"[\s,.;:]*(and|the|of)?[\s,.;:]*", words, re.IGNORECASE):
                failed = True
            continue
        out.append(f"{item}[{explicit[0] if explicit else year}]")
    expression = " ".join(out)
    expression = re.sub(r"\s*\[\s*(\d{4})\s*\]", r"[\1]", expression)
    return None if failed or "[" not in expression else expression


_ASKS_FIGURE = re.compile(r"\b(what\s+(is|was|were|are)|what's|how\s+much|calculate|compute)\b", re.IGNORECASE)
_CHANGE = re.compile(
    r"\bchang(e|ed)\b.{0,60}\b(between|from)\b|\bvs\.?\b|\bversus\b|\bcompared?\s+(to|with)\b", re.IGNORECASE
)


# Arithmetic on any line item a table reports, asked in the usual words: "the change in X from 2018
# to 2019", "the percentage change in X between 2019 and 2018", "the average X for 2017-2019", "the
# ratio of X to Y in 2019", "X as a percentage of Y in 2019", "the total X in 2018 and 2019".
_OPERATION = re.compile(
    r"\b(?:percent(?:age)?\s+|%\s*)?(?:change|increase|decrease|difference|growth|rise|decline|fall)\b"
    r"|\baverage\b|\bmean\b|\bratio\b|\bas\s+a\s+(?:percentage|%|share|proportion)\s+of\b|\bproportion\b",
    re.IGNORECASE,
)
_YEAR_CLAUSE = (
    r"(?:\s*,)?\s+(?:(?:between|from|in|for|during|over|across|at|as\s+at|as\s+of|on|since|of|to|and)\s+)+"
    r"(?:the\s+)?(?:(?:fiscal|financial)\s+)?(?:years?\s+|fys?\s*|periods?\s+)?(?:ended\s+)?"
    r"(?:(?:[a-z]+\s+)?\d{1,2},?\s+|\d{1,2}\s+[a-z]+\s+)?(?:fy\s*)?(?:19|20)\d\d\b|\s+(?:fy\s*)?(?:19|20)\d\d\b"
)
_PCT_CHANGE = re.compile(
    r"\b(?:percent(?:age)?|%)\s*(?:change|increase|decrease|growth|rise|decline|fall)\b"
    r"(?:\s*/\s*\(?(?:increase|decrease)\)?)?\s+(?:in|of)\s+(?P<item>.+)",
    re.IGNORECASE,
)
_ABS_CHANGE = re.compile(
    r"\b(?:change|increase|decrease|difference|growth|rise|decline|fall)\b(?:\s*/\s*\(?(?:increase|decrease)\)?)?"
    r"\s+(?:in|of|for)\s+(?P<item>.+)",
    re.IGNORECASE,
)
_MEAN = re.compile(r"\b(?:average|mean)\s+(?:of\s+|value\s+of\s+)?(?P<item>.+)", re.IGNORECASE)
_RATIO = re.compile(
    r"\bratio\s+(?:of|between)\s+(?P<item>.+?)\s+(?:to|and|over|against)\s+(?P<other>.+)", re.IGNORECASE
)
_SHARE = re.compile(
    r"(?:(?:proportion|percentage|share)\s+of\s+)?(?P<item>[\w ,'&()/-]+?)\s+as\s+a\s+(?:percentage|%|share|proportion)"
    r"\s+of\s+(?P<other>.+)",
    re.IGNORECASE,
)
_SUM = re.compile(r"\b(?:total|sum|combined)\s+(?:of\s+)?(?P<item>.+)", re.IGNORECASE)
_ITEM_LEAD = re.compile(
    r"^(?:(?:what|which|how)\b.*?\b(?:is|was|were|are)\s+|.*?\b(?:proportion|percentage|share)\s+of\s+"
    r"|(?:the|a|an|its|their|our|total|(?:amount|value|balance|level)\s+of)\s+"
    r"|[\w.&-]+(?:\s+[\w.&-]+){0,2}['’]s\s+)",  # whose it is: "Amazon's", "the company's", "Acme Ltd's"
    re.IGNORECASE,
)


_MAX_FREE_WORDS = 8


def _free_item(text: str) -> str | None:
    """The line item a phrase names, as an ``item`` of an expression: up to the clause that gives
    its year, lower-cased, letters and spaces only ("Acquisition-related charges" -> "acquisition
    related charges"). A known line item keeps its name, so its usual names are searched."""
    cut = re.search(_YEAR_CLAUSE, text, re.IGNORECASE)
    phrase = text[: cut.start()] if cut else text
    phrase = re.split(r"\?|\s+(?:respectively|if|when|which|that|assuming)\b", phrase)[0]
    phrase = re.sub(r"\(.*?\)", " ", phrase)
    previous = None
    while previous != phrase:
        previous = phrase
        phrase = _ITEM_LEAD.sub("", phrase.strip())
    name = " ".join(re.sub(r"[^a-z&',]+", " ", phrase.lower()).split()).strip(" ,'")
    if name in _ALIASES:
        return _ALIASES[name]
    return name if 2 < len(name) <= 80 and re.search(r"[a-z]{3}", name) else None


def _arithmetic(question: str, years: list[int], decimals: int | None, unit: str) -> Plan | None:
    """A plan for arithmetic on line items the question names in words (see ``_OPERATION``)."""
    first, last = min(years), max(years)
    share = _SHARE.search(question)
    ratio = _RATIO.search(question)
    for match, percent in ((share, True), (ratio, False)):
        if match is None:
            continue
        item, other = _free_item(match.group("item")), _free_item(match.group("other"))
        if item is None or other is None or item == other:
            return None
        return Plan(f"{item} to {other}", f"{item}[{{y}}] / {other}[{{y}}]", (last,), percent, decimals)
    if len(years) < 2:
        return None
    change = _PCT_CHANGE.search(question)
    if change is not None:
        item = _free_item(change.group("item"))
        if item is None:
            return None
        expression = f"({item}[{last}] - {item}[{first}]) / {item}[{first}]"
        return Plan(f"percentage change in {item}", expression, (), True, decimals)
    change = _ABS_CHANGE.search(question)
    if change is not None:
        item = _free_item(change.group("item"))
        return (
            None
            if item is None
            else Plan(f"change in {item}", f"{item}[{last}] - {item}[{first}]", (), False, decimals, unit)
        )
    mean = _MEAN.search(question)
    if mean is not None:
        item = _free_item(mean.group("item"))
        span = tuple(years) if re.search(r"\band\b", question) and len(years) > 2 else tuple(range(first, last + 1))
        return None if item is None else Plan(f"average {item}", f"{item}[{{y}}]", span, False, decimals, unit)
    total = _SUM.search(question)
    if total is not None and re.search(
        r"(?:19|20)\d\d\s*(?:,|and|&)\s*(?:(?:fiscal\s+)?(?:year\s+)?)?(?:19|20)\d\d", question
    ):
        item = _free_item(total.group("item"))
        if item is None:
            return None
        return Plan(f"total {item}", " + ".join(f"{item}[{y}]" for y in years), (), False, decimals, unit)
    return None


def plan(question: str) -> Plan | None:
    """What ``question`` asks to compute from a document's figures, or None (see the module docstring)."""
    years = _years(question)
    if not years or not _ASKS_FIGURE.search(question):
        return None  # "What drove…", "Has … improved…": a question of why or whether, not of a figure
    year = max(years)
    rounding = _ROUND.search(question)
    decimals = None
    if rounding:
        word = rounding.group(1).lower()
        decimals = _WORDS.get(word, int(word) if word.isdigit() else 2)
    unit_match = _UNIT.search(question)
    unit = unit_match.group(1).lower() if unit_match else ""
    percent = bool(_PERCENT.search(question))
    span = tuple(range(min(years), max(years) + 1)) if _AVERAGE_OF.search(question) and len(years) >= 2 else ()
    lowered = question.lower()
    metric = next(((p, t, pc) for p, t, pc in METRICS if re.search(p, lowered)), None)
    defined = _DEFINITION.search(question)
    if defined:
        # a definition of the metric itself is followed; one of a part of a standard metric ("define
        # EBITDA as …" for an EBITDA margin) leaves the metric's own formula in charge
        sentence_start = max(question.rfind(". ", 0, defined.start()), question.rfind("? ", 0, defined.start())) + 1
        name = question[sentence_start : defined.start("expr")].lower()
        whole = metric is None or re.search(metric[0], name) is not None
        expression = _translate(defined.group("expr"), year) if whole else None
        if expression is not None:
            if metric is not None and span:
                expression = re.sub(rf"\[{year}\]", "[{y}]", re.sub(rf"\[{year - 1}\]", "[{p}]", expression))
            return Plan(_label(question), expression, span, percent, decimals, unit)
    if metric is not None:
        pattern, template, as_percent = metric
        if re.search(r"growth|change in", pattern) and len(years) >= 2:
            first, last = min(years), max(years)
            expression = template.replace("[Y-1]", f"[{first}]").replace("[Y]", f"[{last}]")
            return Plan(_label(question), expression, (), as_percent or percent, decimals, unit)
        expression = template.replace("[Y-1]", "[{p}]").replace("[Y]", "[{y}]")
        # "change in inventory" inside a definition asks for no change
        asked = question[: defined.start()] if defined else question
        if len(years) >= 2 and not span and _CHANGE.search(asked):  # the metric in two years, and the change
            return Plan(
                _label(question), expression, (min(years), max(years)), as_percent or percent, decimals, unit, True
            )
        return Plan(_label(question), expression, span or (year,), as_percent or percent, decimals, unit)
    periods = [
        int(m.group(2)[-2:]) - int(m.group(1)[-2:]) == 1
        for m in re.finditer(r"\b((?:19|20)\d\d)\s*[-–/]\s*((?:19|20)?\d\d)\b", question)
    ]
    if len(years) >= 2 and (re.search(r"\brespectively\b", question) or any(periods)):
        return None  # a figure for each year ("… in 2019 and 2018 respectively"); a fiscal year "2021-2022"
    arithmetic = _arithmetic(question, years, decimals, unit)
    if arithmetic is not None or _OPERATION.search(question):
        # arithmetic the metrics above do not cover; a question that asks for an operation is never
        # answered with a single figure
        return arithmetic
    if len(years) != 1:
        return None
    item = _asked_item(question)  # one figure of one year: a known line item, else a row named in words
    if item is None:
        named = re.search(
            r"^\W*(?:what\s+(?:is|was|were|are)|how\s+much\s+(?:is|was|were))\s+(?P<item>.+)", question, re.I
        )
        item = _free_item(named.group("item")) if named else None
        if item is not None and len(item.split()) > _MAX_FREE_WORDS:
            item = None  # a story, not a row label
    if item is not None:
        return Plan(item, f"{item}[{year}]", (), False, decimals, unit)
    return None


def _label(question: str) -> str:
    for pattern, _, _ in METRICS:
        m = re.search(pattern, question, re.IGNORECASE)
        if m:
            return m.group(0)
    m = re.search(
        r"what\s+is\s+(?:the\s+)?(?:[\w'’]+'s\s+)?(?:FY\s*\d{2,4}\s+)?([\w\s%&/()-]{3,60}?)(?:\s+for\b|\?|\()",
        question,
        re.IGNORECASE,
    )
    return m.group(1).strip() if m else "the figure"


def _asked_item(question: str) -> str | None:
    """A single line item the question asks for ("the year end FY2019 total amount of inventories",
    "how much did Block generate in cash flow from operating activities")."""
    m = re.search(r"\b(?:what\s+(?:is|was|were)|how\s+much)\b(.{3,160}?)(?:\?|$)", question, re.IGNORECASE)
    if m is None:
        return None
    phrase = re.sub(r"\s+for\s+[A-Z][\w.&' -]*$", "", m.group(1).strip())
    item = _item(phrase)
    if item is None:
        return None
    # the phrase must be about the item, not a story around it ("the Real change in Sales … if we
    # exclude the impact of FX movement, passthrough costs and one-off items")
    named = {w for alias, target in _ALIASES.items() if target == item for w in analyze(alias)}
    named |= {w for name in LINE_ITEMS.get(item, ()) for w in analyze(name)}
    left = [w for w in analyze(re.sub(r"\(.*?\)", " ", phrase)) if w not in named and w not in _FRAMING]
    return item if len(left) <= 4 else None


_FRAMING = frozenset(
    analyze("year end fiscal fy total amount amounts usd us dollars millions billions thousands figure value")
)


# ---------------------------------------------------------------------- looking figures up
_NUMBER = re.compile(r"^\$?\s*\(?\s*-?\$?\s*[\d,]*\.?\d+\s*\)?%?$")


def _value(cell: str) -> float | None:
    text = cell.strip().replace("$", "").replace(" ", "")
    if text in {"—", "–", "-", "—-"}:
        return 0.0
    if not _NUMBER.match(cell.strip()):
        return None
    negative = (text.startswith("(") and text.endswith(")")) or text.startswith("-")
    digits = text.strip("()-%").replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return None
    return -value if negative else value


_GENERIC = frozenset(analyze("total net other gross amount amounts"))
# words that make a line item another one: a balance of it, a part of it paid or owed at another time
_QUALIFIERS = frozenset(analyze("accumulated deferred unearned unrealized prepaid accrued allowance impairment"))
_JOINERS = frozenset({"and", "of", "the", "a", "an", "in", "for", "from", "to", "on"})


def _words(text: str) -> set[str]:
    """The words of a label, stemmed, keeping those a search ignores but a label depends on
    ("income *before* income taxes" is not "income taxes")."""
    return {(analyze(w) or [w])[0] for w in re.findall(r"[a-z]+", text.lower()) if w not in _JOINERS}


def _label_score(label: str, item: str) -> float:
    """How well a row label names ``item``, 0..1: the label is one of the item's usual names (the
    more usual, the better), starts with one, or shares nearly all its words — never only generic
    ones ("Total" is no revenue line)."""
    words = _words(label)
    clean = re.sub(r"\s+", " ", label.lower().replace("&", "and")).strip(" :")
    names = LINE_ITEMS.get(item, (item,))
    best = 0.0
    for rank, name in enumerate(names):
        name_words = _words(name)
        if not words or not name_words or not (words & name_words) - _GENERIC:
            continue
        priority = 0.05 * (1 - rank / len(names))  # "Property, plant and equipment, net" before "... equipment"
        if clean == name:
            score = 1.0
        elif clean.startswith(name) and re.match(
            r"\s*(?:[,(:—–-]|$)" + (r"|\s" if name.endswith((" to", " of", " by", " for")) else ""), clean[len(name) :]
        ):
            score = 0.9  # "Net sales (Note 3)", "Net income attributable to Walmart"; not "Sales and marketing"
        else:
            if item not in LINE_ITEMS:  # a line item named in the question's words: "amount" is no part of a label
                name_words = (name_words - _GENERIC) or name_words
            if (words - name_words) & _QUALIFIERS:
                continue  # "Accumulated depreciation and amortization" is a balance, no depreciation expense
            common = len(words & name_words)
            precision, recall = common / len(words), common / len(name_words)
            score = 2 * precision * recall / (precision + recall)
            if score < 0.8 or recall < 1:
                continue
            score *= 0.85
        best = max(best, score + priority)
    return best


def _column(header: list[str], year: int, width: int) -> int | None:
    """The cell of a row of ``width`` cells under the heading that names ``year``; of several
    ("Three Months Ended … 2023" and "Six Months Ended … 2023"), the one for the longest period (a
    year's figure is wanted). Headings align with the row's last cells: a header row often has no
    cell above the row labels."""
    found = [k for k, name in enumerate(header) if re.search(rf"(?<!\d){year}(?!\d)", name)]
    if not found:
        return None
    longest = [k for k in found if re.search(r"\b(year|twelve|12|fiscal)\b", header[k], re.IGNORECASE)]
    cell = width - len(header) + (longest or found)[0]
    return cell if cell >= 1 else None


_HEADER_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def _is_header(cells: list[str]) -> bool:
    """A table line that heads columns with years ("As of | 2019 | 2018", "2019 | 2018"), not a row of figures."""
    years = sum(1 for c in cells if _HEADER_YEAR.search(c))
    figures = sum(1 for c in cells if _value(c) is not None and not _HEADER_YEAR.fullmatch(c.strip()))
    return years >= 1 and figures == 0


def _unit_factor(unit: str) -> float:
    lowered = unit.lower()
    for word, factor in (("billion", 1e9), ("million", 1e6), ("thousand", 1e3)):
        if word in lowered:
            return factor
    return 1.0


# where each line item is reported: a balance (at a date) or a flow (over a period)
_BALANCES = frozenset(
    {
        "property, plant and equipment", "accounts payable", "accounts receivable", "inventory", "total assets",
        "total current assets", "total current liabilities", "total liabilities", "total equity",
        "cash and cash equivalents",
    }
)  # fmt: skip
_BALANCE_SHEET = re.compile(r"balance\s+sheets?|financial\s+(position|condition)", re.IGNORECASE)
_FLOW_STATEMENT = re.compile(r"cash\s+flows?|operations|income|earnings|comprehensive", re.IGNORECASE)


def _statement_fit(item: str, hit: Hit, header: str) -> float:
    """Whether the table is the statement the item is reported in: the balance sheet for what a
    company has at a date (inventories, PP&E), the income or cash-flow statement for what happens
    over a period (revenue, capex) — a change in inventories in a cash-flow statement is no
    inventory."""
    where = " ".join(hit.location.heading_path) + " " + header
    if item in _BALANCES:
        if _BALANCE_SHEET.search(where):
            return 0.1
        return -0.15 if re.search(r"cash\s+flows?", where, re.IGNORECASE) else 0.0
    if _BALANCE_SHEET.search(where):
        return -0.1
    return 0.05 if _FLOW_STATEMENT.search(where) else 0.0


def lookup(item: str, year: int, hits: Sequence[Hit]) -> Figure | None:
    """The best row for ``item`` with a figure in ``year``'s column, among the tables of ``hits``
    (a passage may hold prose and several tables: each row is read under the header line above it)."""
    best: tuple[float, Figure] | None = None
    for i, hit in enumerate(hits):
        if CELL_SEPARATOR not in hit.text:
            continue
        header: list[str] | None = None
        unit = ""
        fit = 0.0
        offset = 0
        for line in hit.text.split("\n"):
            start = offset
            offset += len(line) + 1
            if CELL_SEPARATOR not in line:
                if line.rstrip().endswith(".") or len(line.split()) > 12:
                    header = None  # prose ends a table; a section label ("LIABILITIES") does not
                stated = _UNIT_LINE.search(line)
                if stated:
                    unit = f"in {stated.group(1).lower()}"  # "(in thousands)", "$ in millions"
                continue
            cells = [c.strip() for c in line.split(CELL_SEPARATOR)]
            if _is_header(cells):
                header = cells
                fit = _statement_fit(item, hit, line)
                label = cells[0] if not _HEADER_YEAR.search(cells[0]) else ""
                unit = label if _unit_factor(label) != 1.0 or not unit else unit
                continue
            if header is None or len(cells) < 2:
                continue
            column = _column(header, year, len(cells))
            if column is None or column >= len(cells):
                continue
            score = _label_score(cells[0], item)
            if score < 0.7:
                continue
            value = _value(cells[column])
            if value is None:
                continue
            if value < 0 and item in _BALANCES:
                score -= 0.2  # a balance is not negative: this row is a change in it
            score += fit - 0.01 * i  # the better-ranked passage wins a tie
            heading = header[column - len(cells) + len(header)]
            figure = Figure(item, year, value, cells[0], heading, cells[column], unit, i, start, start + len(line))
            if best is None or score > best[0]:
                best = (score, figure)
    return best[1] if best else None


_UNIT_LINE = re.compile(r"(?:\b(?:in|\$)\s*|\()(?:in\s+)?(thousands|millions|billions)\b", re.IGNORECASE)


# ---------------------------------------------------------------------- which year
_WHICH_YEAR = re.compile(
    r"^\W*(?:in\s+)?which\s+(?:fiscal\s+|financial\s+)?year\s+(?:was|were|did|had|is|are)\s+(?P<item>.+?)\s+"
    r"(?:the\s+)?(?P<cmp>high(?:er|est)|larg(?:er|est)|great(?:er|est)|bigg(?:er|est)|more|most|low(?:er|est)|"
    r"small(?:er|est)|less|least|fewer|fewest)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class YearComparison:
    """The year in which a row's figure is highest (or lowest), with every year's figure."""

    year: str  # the column heading's year, as written
    highest: bool
    figures: tuple[Figure, ...]  # one per year column, in the table's order


def which_year(question: str) -> tuple[str, bool] | None:
    """("the row named", highest?) for "In which year was X higher / the lowest?", or None."""
    match = _WHICH_YEAR.search(question)
    if match is None:
        return None
    item = _free_item(match.group("item"))
    if item is None:
        return None
    return item, not re.match(r"low|small|less|least|few", match.group("cmp"), re.IGNORECASE)


def compare_years(item: str, highest: bool, hits: Sequence[Hit]) -> YearComparison | None:
    """The best row for ``item`` that has a figure in at least two year columns of its table, and
    the year of its highest (or lowest) figure; None when no row matches or the figures tie."""
    rows: dict[tuple[int, int], list[Figure]] = {}  # (hit, row offset) -> the row's figure per year
    for i, hit in enumerate(hits):
        for year in sorted({int(y) for y in _HEADER_YEAR.findall(hit.text)}):
            figure = lookup(item, year, [hit])
            if figure is not None:
                rows.setdefault((i, figure.start), []).append(replace(figure, hit=i))
    ranked = [
        (_label_score(figures[0].label, item) - 0.01 * i, figures)
        for (i, _), figures in rows.items()
        if len(figures) >= 2
    ]
    if not ranked:
        return None
    figures = max(ranked, key=lambda r: r[0])[1]
    values = [f.value for f in figures]
    target = max(values) if highest else min(values)
    if values.count(target) > 1:
        return None
    chosen = figures[values.index(target)]
    return YearComparison(str(chosen.year), highest, tuple(figures))


def comparison_text(result: YearComparison, number: int) -> str:
    """``2018`` first (the answer), then each year's figure with the row and its citation."""
    shown = "; ".join(f"{f.year}: {f.cell}" for f in result.figures)
    row = result.figures[0]
    unit = f" ({row.unit})" if row.unit else ""
    word = "highest" if result.highest else "lowest"
    return f"{result.year}\n- {row.label}{unit}, {word} in {result.year} — {shown} [{number}]"


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    return f"{round(value, 2):g}" if abs(value) >= 0.1 else f"{value:.4g}"  # 5.11%, 2.65, 0.87; 0.0123


_OUTFLOWS = frozenset({"capital expenditure", "dividends paid"})


def compute(plan_: Plan, find: Callable[[str, int], Figure | None]) -> Result | None:
    """Evaluate ``plan_`` with figures from ``find(item, year)``; None when one cannot be found."""
    per_year: list[tuple[float, str]] = []
    figures: list[Figure] = []
    missing: list[str] = []
    for year in plan_.years or (None,):
        expression = plan_.expression
        if year is not None:
            expression = expression.replace("{y}", str(year)).replace("{p}", str(year - 1))
        shown = expression
        python = expression
        for m in sorted(set(re.findall(r"([a-z][a-z ,'&]*?)\[(\d{4})\]", expression)), key=lambda t: -len(t[0])):
            item, y = m[0].strip(), int(m[1])
            figure = find(item, y)
            if figure is None:
                missing.append(f"{item} FY{y}")
                continue
            if any((f.hit, f.start, f.year) == (figure.hit, figure.start, figure.year) for f in figures):
                missing.append(f"{item} FY{y}")  # two line items read from one row: neither is certain
                continue
            figures.append(figure)
            value = abs(figure.value) if item in _OUTFLOWS else figure.value  # "(1,577)" spent is 1,577 of capex
            python = python.replace(f"{m[0]}[{m[1]}]", f"({value!r})")
            shown = shown.replace(f"{m[0]}[{m[1]}]", _fmt(value))
        if missing:
            return Result(plan_, float("nan"), "", figures, missing)
        if not re.fullmatch(r"[\d.\s()+\-*/e]+", python):
            return None  # only figures and arithmetic reach the evaluation below
        try:
            value = float(eval(python, {"__builtins__": {}}, {}))
        except (SyntaxError, ZeroDivisionError, TypeError):
            return None
        per_year.append((value, shown))
    if plan_.change and len(per_year) == 2:
        scale = 100 if plan_.percent else 1
        first, last = per_year[0][0] * scale, per_year[1][0] * scale
        value = last - first
        if plan_.decimals is not None:
            first, last, value = round(first, plan_.decimals), round(last, plan_.decimals), round(value, plan_.decimals)
        shown = " ; ".join(s for _, s in per_year)
        result = Result(plan_, value, shown, figures, [])
        result.values = (first, last)
        return result
    value = statistics.fmean(v for v, _ in per_year) if len(per_year) > 1 else per_year[0][0]
    if plan_.percent:
        value *= 100
    if plan_.unit and figures:
        factor = _unit_factor(figures[0].unit)
        wanted = _unit_factor(plan_.unit)
        if factor != 1.0 and "/" not in plan_.expression:
            value = value * factor / wanted
    if plan_.decimals is not None:
        value = round(value, plan_.decimals)
    shown = " ; ".join(s for _, s in per_year)
    return Result(plan_, value, shown, figures, [])


def answer_text(result: Result, numbers: Sequence[int]) -> str:
    """The computed answer as shown: the value, the calculation with the figures put in, and each
    figure with its row, column and citation (``numbers[i]`` cites ``result.figures[i]``)."""
    plan_ = result.plan
    value = f"{result.value:,.{plan_.decimals}f}" if plan_.decimals is not None else _fmt(result.value)
    if plan_.percent:
        value += "%"
    elif plan_.unit and "/" not in plan_.expression:
        value += f" (USD {plan_.unit})"
    elif len(result.figures) == 1 and result.figures[0].unit and "/" not in plan_.expression:
        value += f" ({result.figures[0].unit.strip('() ').lower()})"  # the table's unit: "(Millions)"
    lines = [f"{plan_.label[:1].upper()}{plan_.label[1:]}: {value}"]
    if result.values is not None:
        unit = " points" if plan_.percent else ""
        (a, b), (y1, y2) = result.values, (plan_.years[0], plan_.years[-1])
        lines = [
            f"{plan_.label[:1].upper()}{plan_.label[1:]}: {_fmt(a)}{'%' if plan_.percent else ''} in FY{y1}, "
            f"{_fmt(b)}{'%' if plan_.percent else ''} in FY{y2}; a change of {result.value:+,g}{unit}"
        ]
        parts = result.shown.replace("*", "×").split(" ; ")
        lines.append(f"Calculation: FY{y1}: {parts[0]}; FY{y2}: {parts[-1]}" + (" (× 100)" if plan_.percent else ""))
    elif len(result.figures) > 1 or plan_.percent or "/" in plan_.expression:
        calculation = result.shown.replace("*", "×")
        if plan_.percent:
            calculation = f"({calculation}) × 100"
        if len(plan_.years) > 1:
            calculation = f"average over FY{plan_.years[0]}–FY{plan_.years[-1]} of {calculation}"
        lines.append(f"Calculation: {calculation} = {value}")
    for figure, n in zip(result.figures, numbers, strict=True):
        unit = f" {figure.unit}" if figure.unit else ""
        lines.append(f"- {figure.item}, FY{figure.year}: {figure.cell}{unit} ({figure.label}, {figure.column}) [{n}]")
    return "\n".join(lines)
