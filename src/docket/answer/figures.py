"""Looking a line item's figure up in the tables of a document: the row whose label names the item
(:data:`LINE_ITEMS` holds the usual names), the column whose heading names the fiscal year, the
table's unit, and the statement the table belongs to. Used by :mod:`docket.answer.calculate`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from docket.index.keywords import analyze
from docket.sentences import CELL_SEPARATOR
from docket.types import Hit

__all__ = [
    "HEADER_YEAR",
    "LINE_ITEMS",
    "Figure",
    "label_score",
    "lookup",
    "primary_statements",
    "statement_table",
    "unit_factor",
]

# usual names of line items in financial statements: the first is how answers name it
LINE_ITEMS: dict[str, tuple[str, ...]] = {
    "revenue": ("total revenue", "total revenues", "revenues", "revenue", "total net sales", "net sales",
                "total net revenue", "net revenues", "net revenue", "sales", "total sales"),
    "cost of goods sold": ("cost of sales", "cost of goods sold", "cost of revenue", "cost of revenues",
                           "total cost of revenues", "total cost of revenue", "cost of products sold", "cogs",
                           "cost of merchandise sold"),
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
    score: float = 1.0  # how well the row's label names the item (:func:`label_score`, at most 1)
    parts: tuple[str, ...] = ()  # the rows added up when the statement lists only the item's parts
    one_column: bool = True  # the year's column was the only one for it (or the longest period's)

    @property
    def rate(self) -> bool:
        """Whether the cell is a rate: "9.0%", "(1.2)%"."""
        return self.cell.strip().rstrip(")").endswith("%")

    @property
    def scale(self) -> str:
        """The table's unit as it applies to this figure: none for a rate, whose table may well be
        "in millions"."""
        return "" if self.rate else self.unit


# words of a row label that start another line item, so a list of an item's parts has ended
# ("Prepaid expenses and other current assets" after "Raw materials" under "Inventories, net:")
_NOT_A_PART = re.compile(
    r"\b(other|total|subtotal|prepaid|receivables?|cash|assets?|liabilit(y|ies)|held|deferred|debt|payables?|"
    r"goodwill|equity|intangible|investments?|accrued|lease|taxes|costs?|expenses?|income|profit|earnings)\b",
    re.IGNORECASE,
)
_MAX_PARTS = 6


def _another_item(label: str, item: str) -> bool:
    """Whether a row label starts another line item, so a list of ``item``'s parts has ended."""
    return bool(_NOT_A_PART.search(label)) or any(
        label_score(label, other) >= 0.9 for other in LINE_ITEMS if other != item
    )


@dataclass
class _Parts:
    """An item's label line without figures ("Inventories, net") and the rows under it so far."""

    label: str
    start: int
    score: float
    hit: int
    unit: str
    fit: float
    rows: list[tuple[str, str, float, int]] = field(default_factory=list)  # label, cell, value, end offset
    heading: str = ""
    one_column: bool = True


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


def label_score(label: str, item: str) -> float:
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


def change_in_points(later: Figure, earlier: Figure) -> str:
    """The change between two rates in percentage points, as a line under a percentage change:
    "the percentage change in the WACC" (9.5% to 9.0%) may mean the relative change or this."""
    return (
        f"In percentage points: {later.cell.strip()} − {earlier.cell.strip()} = {later.value - earlier.value:+.4g} "
        f"points ({later.year} against {earlier.year}); the percentage above is the change relative to {earlier.year}"
    )


_LONGEST = re.compile(r"\b(year|twelve|12|fiscal)\b", re.IGNORECASE)


def _column(header: list[str], year: int, width: int, hint: frozenset[str] = frozenset()) -> tuple[int | None, bool]:
    """The cell of a row of ``width`` cells under the heading that names ``year``, and whether that
    heading was the only one that could be meant. Of several headings naming the year ("Three Months
    Ended June 30, 2023" and "Six Months Ended June 30, 2023"; "Financial assets 2018" and "Financial
    liabilities 2018"), the one sharing most words with the question (``hint``, words as
    :func:`_words` gives them); else the one for the longest period (a year's figure is wanted).
    Headings align with the row's last cells: a header row often has no cell above the row labels."""
    found = [k for k, name in enumerate(header) if re.search(rf"(?<!\d){year}(?!\d)", name)]
    if not found:
        return None, True
    chosen = found
    if len(found) > 1 and hint:
        shared = [len((_words(header[k]) - _GENERIC) & hint) for k in found]
        if max(shared) > 0:
            chosen = [k for k, n in zip(found, shared, strict=True) if n == max(shared)]
    one = len(chosen) == 1
    if not one:
        longest = [k for k in chosen if _LONGEST.search(header[k])]
        one = len(longest) == 1
        chosen = longest or chosen
    cell = width - len(header) + chosen[0]
    return (cell if cell >= 1 else None), one


_PERIOD = re.compile(
    r"\b(three|six|nine|twelve|3|6|9|12)[- ]months?\b|\b(quarter)s?\b|\b(years?)\s+(?:ended|ending)\b"
    r"|\b(fiscal\s+year)\b",
    re.IGNORECASE,
)
# how much a column heading naming the period the question names counts, and one naming another
_SAME_PERIOD, _OTHER_PERIOD = 0.1, 0.2
_WORD_FOR_WORD, _SAME_QUALIFIER = 0.05, 0.15


def _normal(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def names_row(label: str, question: str) -> bool:
    """Whether ``question`` repeats the row label ``label`` word for word."""
    return len(label) > 3 and _normal(label) in _normal(question)


def _in_question(label: str, asked: str) -> float:
    """How much a row label is the one the question (``asked``, as :func:`_normal` writes it) names
    in its own words: a label the question repeats word for word ("Cost of sales", not its synonym
    "Cost of goods sold") and, more, a qualifier in brackets the question repeats ("Preferred stock
    (as-converted basis)", not the "Preferred stock" row above it)."""
    if not asked.strip():
        return 0.0
    bonus = _WORD_FOR_WORD if len(label) > 3 and _normal(label) in asked else 0.0
    if any(_normal(q).strip() and _normal(q) in asked for q in re.findall(r"\(([^()]{3,60})\)", label)):
        bonus += _SAME_QUALIFIER
    return bonus


def _period(text: str) -> str:
    """The length of period a question or column heading names: "three" (months), "quarter", "year"; or ""."""
    match = _PERIOD.search(text)
    if match is None:
        return ""
    word = next(g for g in match.groups() if g).lower()
    numbers = {"3": "three", "6": "six", "9": "nine", "12": "twelve"}
    word = numbers.get(word, word)
    return "year" if word in {"year", "years", "twelve", "fiscal year"} else word


def _stacked(top: list[str], below: list[str]) -> list[str]:
    """Two heading lines of a table read as one: each lower heading under the upper heading that
    spans it. "Financial assets | Financial liabilities" over "2019 | 2018 | 2019 | 2018" is
    "Financial assets 2019 | Financial assets 2018 | Financial liabilities 2019 | …"; "2019 | 2018"
    over "US$'000 | US$'000" pairs them; a lower line may start with a label cell of its own
    ("SHARE CAPITAL | M | $M | M | $M" under "2019 | 2018"). Lines that do not divide evenly are
    paired from the right, as headings align with a row's last cells."""
    a, b = len(top), len(below)
    if a == b:
        return [f"{t} {n}".strip() for t, n in zip(top, below, strict=True)]
    # label cells first: none, the lower line's only, or both lines' ("(in millions) | Three Months
    # Ended | Six Months Ended" over " | June 30, 2023 | June 30, 2022 | June 30, 2023 | June 30, 2022")
    for upper, lower in ((0, 0), (0, 1), (1, 1)):
        spanned, rest = a - upper, b - lower
        if upper and abs(a - b) == 1:
            break  # one line has one cell more: a label column ("Note | £m | £m" under "2019 | 2018")
        if spanned and rest > spanned and rest % spanned == 0:
            span = rest // spanned
            lead = [f"{top[0]} {below[0]}".strip()] if upper else below[:lower]
            return lead + [f"{top[upper + j // span]} {below[lower + j]}".strip() for j in range(rest)]
    if a > b:
        return top[: a - b] + [f"{t} {n}".strip() for t, n in zip(top[a - b :], below, strict=True)]
    return below[: b - a] + [f"{t} {n}".strip() for t, n in zip(top, below[b - a :], strict=True)]


HEADER_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def _is_heading(cells: list[str]) -> bool:
    """A table line of headings and no figures: two or more ("Men | Women | Men | Women", "US$'000 |
    US$'000") or any naming a year (" | 2019", "2019 | 2018": years are headings, not figures)."""
    figures = sum(1 for c in cells if _value(c) is not None and not HEADER_YEAR.fullmatch(c.strip()))
    return figures == 0 and (sum(1 for c in cells if c) >= 2 or any(HEADER_YEAR.search(c) for c in cells))


def unit_factor(unit: str) -> float:
    """The factor a table's unit line scales its figures by: "(in millions)" 1e6, "$'000" 1e3, else 1."""
    lowered = unit.lower()
    if re.search(r"['’]000\b", lowered):
        return 1e3
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


# the title of a financial statement itself, not of a discussion of it: "Consolidated Statement of
# Income", "Condensed Consolidated Statements of Operations", "Consolidated Balance Sheets" — read
# with spaces taken out, as PDF text splits words ("Statement of Incom e")
_STATEMENT_TITLE = re.compile(
    r"^(?:condensed|consolidated|combined)*(?:statements?of(?:consolidated)?(?:income|operations|earnings|cashflows?"
    r"|comprehensive(?:income|loss|earnings)|financial(?:position|condition))|balancesheets?)"
)
# statements of a part of the group (guarantor and parent-only schedules), not of the company
_PART_OF_GROUP = re.compile(r"obligor|guarantor|parent|issuer|registrant|subsidiar|segment|companyonly")


def statement_table(hit: Hit, item: str | None = None) -> bool:
    """Whether ``hit`` holds a table of a financial statement itself (the income statement, balance
    sheet or cash-flow statement of the company), by its section heading or the line above its
    first row: where a filing reports its line items, as opposed to segment tables, discussions and
    guarantor schedules that repeat parts of them. With ``item``, only the statement that reports
    it: the balance sheet for a balance, the others for a flow."""
    if CELL_SEPARATOR not in hit.text:
        return False
    titles = list(hit.location.heading_path[-2:])
    for line in hit.text.split("\n", 3)[:3]:
        if CELL_SEPARATOR in line:
            break
        titles.append(line)
    for title in titles:
        squeezed = re.sub(r"[^a-z]", "", title.lower())
        if len(title.split()) <= 14 and _STATEMENT_TITLE.match(squeezed) and not _PART_OF_GROUP.search(squeezed):
            return item is None or _statement_kind(squeezed) in _REPORTED_IN.get(item, _ANY_STATEMENT)
    return False


# a passage of more words than this, outside any table, is prose: the statements' pages have ended
_PROSE_WORDS = 40


def primary_statements(passages: Sequence[Hit]) -> tuple[list[Hit], list[Hit]]:
    """A document's statement tables (:func:`statement_table`) split into its primary statements and
    later tables under the same titles (a guarantor group's "Consolidated Balance Sheets" in the
    notes), from all its ``passages`` in document order. A statement is primary from its first
    table until prose (a passage of more than a few lines outside any table) or another statement's
    table comes between; a later table of that statement is not primary."""
    primary: list[Hit] = []
    later: list[Hit] = []
    open_kind = ""  # the statement whose first tables are being read
    done: set[str] = set()
    for hit in passages:
        if not statement_table(hit):
            if CELL_SEPARATOR not in hit.text and len(hit.text.split()) > _PROSE_WORDS and open_kind:
                done.add(open_kind)
                open_kind = ""
            continue
        kind = next((_statement_kind(t) for t in _titles(hit) if _STATEMENT_TITLE.match(t)), "")
        if kind != open_kind:
            if open_kind:
                done.add(open_kind)
            open_kind = kind if kind not in done else ""
        (primary if kind == open_kind else later).append(hit)
    return primary, later


def _titles(hit: Hit) -> list[str]:
    """The squeezed titles a table passage may carry: its last headings and lines above its first row."""
    titles = list(hit.location.heading_path[-2:])
    for line in hit.text.split("\n", 3)[:3]:
        if CELL_SEPARATOR in line:
            break
        titles.append(line)
    return [re.sub(r"[^a-z]", "", t.lower()) for t in titles if len(t.split()) <= 14]


def _statement_kind(squeezed: str) -> str:
    if re.search(r"balancesheet|financial(position|condition)", squeezed):
        return "balance"
    return "cash" if "cashflow" in squeezed else "income"


_ANY_STATEMENT = frozenset({"balance", "cash", "income"})
# the statement each line item is read from (a net income row also opens the cash-flow statement)
_REPORTED_IN: dict[str, frozenset[str]] = {
    **{item: frozenset({"balance"}) for item in _BALANCES},
    **{
        item: frozenset({"cash"})
        for item in ("capital expenditure", "cash from operations", "dividends paid")
    },
    **{
        item: frozenset({"income"})
        for item in (
            "revenue", "cost of goods sold", "gross profit", "operating income", "net income",
            "income tax expense", "income before taxes", "interest expense",
        )
    },
    "depreciation and amortization": frozenset({"cash", "income"}),
}  # fmt: skip


def _statement_fit(item: str, hit: Hit, header: str) -> float:
    """Whether the table is the statement the item is reported in: the balance sheet for what a
    company has at a date (inventories, PP&E), the income or cash-flow statement for what happens
    over a period (revenue, capex) — a change in inventories in a cash-flow statement is no
    inventory. A statement's own table counts more than a table that merely sits under a fitting
    heading ("Results of operations")."""
    where = " ".join(hit.location.heading_path) + " " + header
    own = 0.1 if statement_table(hit) else 0.0
    if item in _BALANCES:
        if _BALANCE_SHEET.search(where):
            return 0.1 + own
        return -0.15 if re.search(r"cash\s+flows?", where, re.IGNORECASE) else 0.0
    if _BALANCE_SHEET.search(where):
        return -0.1
    return 0.05 + own if _FLOW_STATEMENT.search(where) else 0.0


def lookup(item: str, year: int, hits: Sequence[Hit], min_label: float = 0.7, hint: str = "") -> Figure | None:
    """The best row for ``item`` with a figure in ``year``'s column, among the tables of ``hits``
    (a passage may hold prose and several tables: each row is read under the header lines above it,
    stacked ones read as one: :func:`_stacked`), whose label names the item at least ``min_label``
    well (:func:`label_score`). Where several columns name the year, the one whose heading shares
    most words with ``hint`` (the question) is read. A row named in the question's words may be
    named partly by its column: "the IFRS 9 opening balance of financial assets" is the row
    "Opening balance – IFRS 9" in the column "Financial assets 2018".

    A statement that lists only an item's parts under its label, with no total row ("Inventories,
    net" over "Raw materials and supplies" and "Work in process and finished goods"), gives the sum
    of the parts; a total row among them ends the list (a total is never added to its parts)."""
    best: tuple[float, Figure] | None = None

    def consider(score: float, figure: Figure | None) -> None:
        nonlocal best
        if figure is not None and (best is None or score > best[0]):
            best = (score, figure)

    hinted = frozenset(_words(hint)) - _GENERIC
    asked = _normal(hint)
    period = _period(hint)
    item_words = _words(item)
    for i, hit in enumerate(hits):
        if CELL_SEPARATOR not in hit.text:
            continue
        header: list[str] | None = None
        stack: list[str] | None = None  # the heading lines read since the last row of figures, as one
        unit = ""
        fit = 0.0
        offset = 0
        parts: _Parts | None = None
        section = ""  # the label line the rows below belong to ("Interest rate swaps" over "Carrying amount")
        for line in hit.text.split("\n"):
            start = offset
            offset += len(line) + 1
            cells = [c.strip() for c in line.split(CELL_SEPARATOR)] if CELL_SEPARATOR in line else [line.strip()]
            if len(cells) == 1 or not any(cells[1:]):  # a label without figures: "Inventories, net:"
                if parts is not None:
                    consider(*_summed(parts, item, year))
                    parts = None
                if len(cells) == 1 and _prose(line):
                    header = None  # prose ends a table; a section label ("LIABILITIES") does not
                stated = _UNIT_LINE.search(line) if len(cells) == 1 else None
                if stated:
                    unit = f"in {stated.group(1).lower()}"  # "(in thousands)", "$ in millions"
                label = cells[0].rstrip(" :")
                section = label if header is not None and 0 < len(label.split()) <= 8 else ""
                if header is not None and 0 < len(label.split()) <= 8:
                    score = label_score(label, item)
                    if score >= min_label:
                        parts = _Parts(label, start, score, i, unit, fit)
                continue
            if _is_heading(cells):
                stack = cells if stack is None else _stacked(stack, cells)
                label = cells[0] if not HEADER_YEAR.search(cells[0]) else ""
                if not any(HEADER_YEAR.search(c) for c in stack):
                    if unit_factor(label) != 1.0:
                        unit = label  # "(in millions) | Three Months Ended | Six Months Ended"
                    continue  # headings without a year ("Financial assets | Financial liabilities") may top a stack
                if parts is not None:
                    consider(*_summed(parts, item, year))
                    parts = None
                section = ""
                header = stack
                fit = _statement_fit(item, hit, line)
                unit = label if unit_factor(label) != 1.0 or not unit else unit
                continue
            stack = None
            if header is None or len(cells) < 2:
                continue
            column, one_column = _column(header, year, len(cells), hinted)
            if parts is not None:
                value = _value(cells[column]) if column is not None and column < len(cells) else None
                if re.match(r"(sub)?total\b", cells[0], re.IGNORECASE):
                    own = (
                        re.fullmatch(r"(sub)?total:?", cells[0], re.IGNORECASE)
                        or label_score(cells[0], item) >= min_label
                    )
                    if column is not None and value is not None and parts.rows and own:  # never added to its parts
                        figure = Figure(
                            item, year, value, f"{parts.label} — {cells[0]}", header[column - len(cells) + len(header)],
                            cells[column], unit, i, parts.start, start + len(line), min(1.0, parts.score),
                            one_column=one_column,
                        )  # fmt: skip
                        consider(parts.score + fit - 0.01 * i, figure)
                    parts = None
                elif value is None or len(parts.rows) >= _MAX_PARTS or _another_item(cells[0], item):
                    consider(*_summed(parts, item, year))
                    parts = None
                else:
                    assert column is not None
                    parts.heading = header[column - len(cells) + len(header)]
                    parts.one_column = one_column
                    parts.rows.append((cells[0], cells[column], value, start + len(line)))
            if column is None or column >= len(cells):
                continue
            label = cells[0]
            score = label_score(label, item)
            if score < min_label and section and item not in LINE_ITEMS:
                # a row named only with its section: "Carrying amount" under "Interest rate swaps"
                # for "the carrying amount of interest rate swaps"
                label = f"{section} — {cells[0]}"
                score = label_score(f"{re.sub(r'[(].*[)]', ' ', cells[0])} {section}", item)
            heading = header[column - len(cells) + len(header)]
            if score < min_label and item not in LINE_ITEMS:
                # a row named by its label and its column: "the IFRS 9 opening balance of financial
                # assets" is "Opening balance – IFRS 9" under "Financial assets"
                in_heading = [w for w in re.findall(r"[a-z]+", heading.lower()) if _words(w) & item_words]
                if in_heading:
                    score = label_score(f"{cells[0]} {' '.join(in_heading)}", item)
            if score < min_label:
                continue
            value = _value(cells[column])
            if value is None:
                continue
            named = min(1.0, score)
            if value < 0 and item in _BALANCES:
                score -= 0.2  # a balance is not negative: this row is a change in it
            score += fit - 0.01 * i + _in_question(cells[0], asked)  # the better-ranked passage wins a tie
            if period and _period(heading):
                # a quarter's figure from a quarter's column, not from a year's in another table
                score += _SAME_PERIOD if _period(heading) == period else -_OTHER_PERIOD
            figure = Figure(
                item, year, value, label, heading, cells[column], unit, i, start, start + len(line), named,
                one_column=one_column,
            )  # fmt: skip
            consider(score, figure)
        if parts is not None:
            consider(*_summed(parts, item, year))
    return best[1] if best else None


def _prose(line: str) -> bool:
    """Whether a line without cells is prose (a sentence, or a long line that does not end in ":"),
    so a table has ended: "Major classes of line items constituting pretax profit (loss) of
    discontinued operations for …:" is a long section label inside the table, not prose."""
    stripped = line.rstrip()
    return stripped.endswith(".") or (len(line.split()) > 12 and not stripped.endswith(":"))


def _summed(parts: _Parts, item: str, year: int) -> tuple[float, Figure | None]:
    """The sum of an item's parts as a figure, and how well it fits (below a row naming the item);
    no figure for fewer than two parts."""
    if len(parts.rows) < 2:
        return 0.0, None
    figure = Figure(
        item, year, sum(r[2] for r in parts.rows), parts.label, parts.heading, " + ".join(r[1] for r in parts.rows),
        parts.unit, parts.hit, parts.start, parts.rows[-1][3], min(1.0, parts.score), tuple(r[0] for r in parts.rows),
        one_column=parts.one_column,
    )  # fmt: skip
    return parts.score - 0.05 + parts.fit - 0.01 * parts.hit, figure


_UNIT_LINE = re.compile(r"(?:\b(?:in|\$)\s*|\()(?:in\s+)?(thousands|millions|billions)\b", re.IGNORECASE)
