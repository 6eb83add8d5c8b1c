"""From a question to a :class:`Plan`: the expression over line items and fiscal years that
:func:`docket.answer.calculate.compute` evaluates — the question's own definition, else a
standard metric (:data:`METRICS`), else arithmetic on a row named in its words, else one line item.
See :mod:`docket.answer.calculate` for the whole account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from docket.answer.figures import LINE_ITEMS
from docket.index.keywords import analyze

__all__ = ["METRICS", "Plan", "free_item", "plan"]

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
    each: bool = False  # the expression's value in each of ``years``, in the question's order ("respectively")
    hint: str = ""  # the question: its words choose among several columns of a year ("three months ended")


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
    r"(?:the\s+|both\s+)?(?:(?:fiscal|financial)\s+)?(?:years?\s+|fys?\s*|periods?\s+)?(?:ended\s+)?"
    r"(?:(?:[a-z]+\s+)?\d{1,2},?\s+|\d{1,2}\s+[a-z]+\s+)?(?:fy\s*)?(?:19|20)\d\d\b|\s+(?:fy\s*)?(?:19|20)\d\d\b"
)
_PCT_CHANGE = re.compile(
    r"\b(?:percent(?:age)?|%)\s*(?:change|increase|decrease|growth|rise|decline|fall)\b"
    r"(?:\s*/\s*\(?(?:increase|decrease)\)?)?\s+(?:in|of)\s+(?P<item>.+)",
    re.IGNORECASE,
)
_ABS_CHANGE = re.compile(
    r"\b(?:change|increase|decrease|difference|growth|rise|decline|fall)\b(?:\s*/\s*\(?(?:increase|decrease)\)?)?"
    r"\s+(?:in|of|for)\s+(?P<item>.+)"
    # one item's difference between two years: "the difference between the net cash provided by
    # operating activities from 2018 to 2019" (not two items': "between APAC and EMEA in 2019")
    r"|\bdifference\s+between\s+(?P<between>.+?\s+(?:from|between|in)\s+(?:the\s+)?(?:(?:fiscal|financial)\s+)?"
    r"(?:years?\s+|fy\s*)?(?:19|20)\d\d\s+(?:to|and)\s+(?:fy\s*)?(?:19|20)\d\d)",
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
# two rows' difference in one year: "the difference in the net sales in 2019 between APAC and EMEA",
# "the difference between the fair value of purchased technology and trademarks in 2019"
_TWO_ROWS = re.compile(
    r"\bdifference\s+(?:in\s+(?:the\s+)?(?P<measure>[\w ,'&()/-]+?)\s+(?:in\s+(?:fy\s*)?(?:19|20)\d\d\s+)?)?"
    r"between\s+(?:the\s+)?(?P<pair>[a-z ,'&()/-]+?\s+and\s+[a-z ,'&()/-]+?)"
    r"(?=\s*(?:\?|$|\s+(?:in|for|as\s+(?:at|of)|at|on|during)\s))",
    re.IGNORECASE,
)
_SUM = re.compile(r"\b(?:total|sum|combined)\s+(?:of\s+)?(?P<item>.+)", re.IGNORECASE)
_ITEM_LEAD = re.compile(
    r"^(?:(?:what|which|how)\b.*?\b(?:is|was|were|are)\s+|.*?\b(?:proportion|percentage|share)\s+of\s+"
    r"|(?:the|a|an|its|their|our|total|respective|(?:amount|value|balance|level)s?\s+of)\s+"
    r"|[\w.&-]+(?:\s+[\w.&-]+){0,2}['’]s\s+)",  # whose it is: "Amazon's", "the company's", "Acme Ltd's"
    re.IGNORECASE,
)


_MAX_FREE_WORDS = 8


def free_item(text: str) -> str | None:
    """The line item a phrase names, as an ``item`` of an expression: up to the clause that gives
    its year, lower-cased, letters and spaces only ("Acquisition-related charges" -> "acquisition
    related charges"). A known line item keeps its name, so its usual names are searched."""
    # a row the question quotes is the row: "the number of rights 'granted during the period'"
    quoted = re.search(r"(?:^|\s)['‘\"“]([^'’\"”]{3,80})['’\"”](?=\s|[?.,]|$)", text)
    if quoted:
        text = quoted.group(1)
    # the year before the item: "the 2018 carrying amount of interest rate swaps", "the company's 2019 …"
    text = re.sub(
        r"^\s*(?:the\s+)?(?:[\w.&-]+\s+){0,2}[\w.&-]+['’]s\s+(?=(?:fy\s*)?(?:19|20)\d\d\s)", "", text, flags=re.I
    )
    text = re.sub(r"^\s*(?:the\s+)?(?:fy\s*|fiscal\s+)?(?:19|20)\d\d\s+(?=[a-z])", "", text, flags=re.IGNORECASE)
    # a span of years in words: "the average risk-free interest rate over the 3 year period from 2017 to 2019"
    text = re.sub(
        r"\s+(?:over|across|during|for|in)\s+the\s+(?:last\s+|past\s+)?(?:\d+|two|three|four|five)[- ]year\s+"
        r"period\b.*",
        "",
        text,
        flags=re.IGNORECASE,
    )
    # the period a column heads: "net sales for the three months ended December 31, 2022"
    text = re.sub(
        r"\s+(?:for|in|during|over)\s+the\s+(?:(?:three|six|nine|twelve|\d+)[- ]months?|(?:fiscal\s+)?quarter|"
        r"(?:fiscal\s+)?year|period)\s+(?:ended|ending)\b.*",
        "",
        text,
        flags=re.IGNORECASE,
    )
    cut = re.search(_YEAR_CLAUSE, text, re.IGNORECASE)
    phrase = text[: cut.start()] if cut else text
    phrase = re.split(r"\?|\s+(?:respectively|if|when|which|that|assuming)\b", phrase)[0]
    phrase = re.sub(r"\(.*?\)", " ", phrase)

    def normal(text: str) -> str:
        return " ".join(re.sub(r"[^a-z&',]+", " ", text.lower()).split()).strip(" ,'")

    previous = None
    total = False  # the row asked for is a total: "the total other non-current assets"
    while previous != phrase:
        previous = phrase
        if normal(phrase) in _ALIASES:
            break  # a known item that starts with a lead word: "total assets" is not "assets"
        total = total or bool(re.match(r"total\s", phrase.strip(), re.IGNORECASE))
        phrase = _ITEM_LEAD.sub("", phrase.strip())
    name = normal(phrase)
    if name in _ALIASES:
        return _ALIASES[name]
    if total and not name.startswith("total "):
        name = f"total {name}"  # "Total energy consumption (MWh)", not an "Energy consumption" row
    return name if 2 < len(name) <= 80 and re.search(r"[a-z]{3}", name) else None


def _two_items(pair: str, measure: str) -> tuple[str, str] | None:
    """The two rows of "between A and B" (each with the measure named before, "the difference in net
    sales between APAC and EMEA"), or None when the "and" that parts them is not clear: of several
    ("cash and cash equivalents and restricted cash"), only a split into two known line items is
    taken. A kind of thing ("a PPO and an HMO plan") is no row."""
    parts = list(re.finditer(r"\s+and\s+(?:the\s+)?", pair))
    splits = []
    for cut in parts:
        left, right = pair[: cut.start()], pair[cut.end() :]
        if re.match(r"(?:an?)\s", left.strip(), re.IGNORECASE) or re.match(r"(?:an?)\s", right, re.IGNORECASE):
            return None
        item, other = free_item(f"{left} {measure}"), free_item(f"{right} {measure}")
        if item is not None and other is not None and item != other:
            splits.append((item, other))
    if len(splits) > 1:
        splits = [(a, b) for a, b in splits if a in LINE_ITEMS and b in LINE_ITEMS]
    return splits[0] if len(splits) == 1 else None


def _arithmetic(question: str, years: list[int], decimals: int | None, unit: str) -> Plan | None:
    """A plan for arithmetic on line items the question names in words (see ``_OPERATION``)."""
    first, last = min(years), max(years)
    share = _SHARE.search(question)
    ratio = _RATIO.search(question)
    for match, percent in ((share, True), (ratio, False)):
        if match is None:
            continue
        item, other = free_item(match.group("item")), free_item(match.group("other"))
        if item is None or other is None or item == other:
            return None
        return Plan(f"{item} to {other}", f"{item}[{{y}}] / {other}[{{y}}]", (last,), percent, decimals)
    rows = _TWO_ROWS.search(question) if len(years) == 1 else None
    if rows is not None:
        pair = _two_items(rows.group("pair"), rows.group("measure") or "")
        if pair is None:
            return None
        item, other = pair
        expression = f"{item}[{last}] - {other}[{last}]"
        return Plan(f"difference between {item} and {other}", expression, (), False, decimals, unit)
    if len(years) < 2:
        return None
    change = _PCT_CHANGE.search(question)
    if change is not None:
        item = free_item(change.group("item"))
        if item is None:
            return None
        expression = f"({item}[{last}] - {item}[{first}]) / {item}[{first}]"
        return Plan(f"percentage change in {item}", expression, (), True, decimals)
    change = _ABS_CHANGE.search(question)
    if change is not None:
        item = free_item(change.group("item") or change.group("between"))
        if change.group("between") and item and " and " in item and re.search(r"\bin\s+\S+\s+and\b", change.group(0)):
            # "the difference between revenue and cost of sales in 2019 and 2018": two items, or one
            # ("research and development") — not guessed; "from 2018 to 2019" names one item's years
            return None
        return (
            None
            if item is None
            else Plan(f"change in {item}", f"{item}[{last}] - {item}[{first}]", (), False, decimals, unit)
        )
    mean = _MEAN.search(question)
    if mean is not None:
        item = free_item(mean.group("item"))
        span = tuple(years) if re.search(r"\band\b", question) and len(years) > 2 else tuple(range(first, last + 1))
        return None if item is None else Plan(f"average {item}", f"{item}[{{y}}]", span, False, decimals, unit)
    total = _SUM.search(question)
    if total is not None and re.search(
        r"(?:19|20)\d\d\s*(?:,|and|&)\s*(?:(?:fiscal\s+)?(?:year\s+)?)?(?:19|20)\d\d", question
    ):
        item = free_item(total.group("item"))
        if item is None:
            return None
        return Plan(f"total {item}", " + ".join(f"{item}[{y}]" for y in years), (), False, decimals, unit)
    return None


def plan(question: str) -> Plan | None:
    """What ``question`` asks to compute from a document's figures, or None (see the module docstring)."""
    planned = _plan(question)
    return None if planned is None else replace(planned, hint=question)


def _plan(question: str) -> Plan | None:
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
    if len(years) >= 2 and re.search(r"\brespective(ly)?\b", question) and not any(periods):
        return _each_year(question, decimals, unit)  # "… in 2019 and 2018 respectively": a figure for each
    if len(years) >= 2 and any(periods):
        return None  # a fiscal year "2021-2022"
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
        item = free_item(named.group("item")) if named else None
        if item is not None and len(item.split()) > _MAX_FREE_WORDS:
            item = None  # a story, not a row label
    if item is not None:
        return Plan(item, f"{item}[{year}]", (), False, decimals, unit)
    return None


def _each_year(question: str, decimals: int | None, unit: str) -> Plan | None:
    """One line item's figure in each year a "respectively" question names, in the question's order
    ("What is the value of the other current assets for 2019 and 2018 respectively?"); None when it
    asks for an operation or names no single row."""
    if _OPERATION.search(question):
        return None
    named = re.search(r"^\W*(?:what|how\s+much)\s+(?:is|was|were|are)\s+(?P<item>.+)", question, re.IGNORECASE)
    if named is None:
        return None
    phrase = re.sub(r"\brespective\s+", "", named.group("item"), flags=re.IGNORECASE)
    item = free_item(phrase)
    if item is None or len(item.split()) > _MAX_FREE_WORDS:
        return None
    if item not in LINE_ITEMS and re.search(rf"\btotal\s+{re.escape(item)}\b", phrase, re.IGNORECASE):
        item = f"total {item}"  # the row is "Total prepaid expenses and other", not "Prepaid expenses and other"
    order: list[int] = []
    for m in _FY.finditer(question):
        value = m.group(1) or m.group(2)
        year = int(value) if len(value) == 4 else 2000 + int(value)
        if 1950 <= year <= 2100 and year not in order:
            order.append(year)
    return Plan(item, f"{item}[{{y}}]", tuple(order), False, decimals, unit, each=True)


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
