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

"In which year was X higher?" is :func:`~docket.answer.which_year.which_year`: the row's figures in every year column of
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
from dataclasses import dataclass, field

from docket.answer.figures import LINE_ITEMS, Figure, change_in_points, lookup, unit_factor
from docket.answer.plans import METRICS, Plan, plan
from docket.answer.which_year import YearComparison, compare_years, comparison_text, which_year

__all__ = [
    "LINE_ITEMS",
    "METRICS",
    "Figure",
    "Plan",
    "Result",
    "YearComparison",
    "answer_text",
    "compare_years",
    "comparison_text",
    "compute",
    "confidence",
    "lookup",
    "plan",
    "which_year",
]


@dataclass
class Result:
    """A computed answer: the value, the calculation written out, and the figures behind it."""

    plan: Plan
    value: float
    shown: str
    figures: list[Figure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    values: tuple[float, float] | None = None  # for a change: the value in the first year and in the last
    each: tuple[float, ...] = ()  # for a figure in each year ("respectively"): the values, in the plan's order


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
        # each leaf once, looked up in the expression's order (the order the figures are listed in)
        leaf_values: dict[tuple[str, str], float] = {}
        for m in dict.fromkeys(re.findall(r"([a-z][a-z ,'&]*?)\[(\d{4})\]", expression)):
            item, y = m[0].strip(), int(m[1])
            figure = find(item, y)
            if figure is None:
                missing.append(f"{item} FY{y}")
                continue
            if any((f.hit, f.start, f.year) == (figure.hit, figure.start, figure.year) for f in figures):
                missing.append(f"{item} FY{y}")  # two line items read from one row: neither is certain
                continue
            figures.append(figure)
            # "(1,577)" spent is 1,577 of capex
            leaf_values[m] = abs(figure.value) if item in _OUTFLOWS else figure.value
        for m in sorted(leaf_values, key=lambda t: -len(t[0])):  # the longest names first: "net sales" before "sales"
            python = python.replace(f"{m[0]}[{m[1]}]", f"({leaf_values[m]!r})")
            shown = shown.replace(f"{m[0]}[{m[1]}]", _fmt(leaf_values[m]))
        if missing:
            return Result(plan_, float("nan"), "", figures, missing)
        if not re.fullmatch(r"[\d.\s()+\-*/e]+", python):
            return None  # only figures and arithmetic reach the evaluation below
        try:
            value = float(eval(python, {"__builtins__": {}}, {}))
        except (SyntaxError, ZeroDivisionError, TypeError):
            return None
        per_year.append((value, shown))
    if plan_.each:
        values = [round(v, plan_.decimals) if plan_.decimals is not None else v for v, _ in per_year]
        return Result(plan_, values[0], " ; ".join(s for _, s in per_year), figures, [], each=tuple(values))
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
        factor = unit_factor(figures[0].unit)
        wanted = unit_factor(plan_.unit)
        if factor != 1.0 and "/" not in plan_.expression:
            value = value * factor / wanted
    if plan_.decimals is not None:
        value = round(value, plan_.decimals)
    shown = " ; ".join(s for _, s in per_year)
    return Result(plan_, value, shown, figures, [])


# how much less sure a figure is when its column is one of several for the year, or when it adds up a
# statement's parts for want of a total row
SEVERAL_COLUMNS = 0.9
_ADDED_PARTS = 0.95


def confidence(result: Result) -> float:
    """How sure a computed answer is, 0..1, on the scale the abstention threshold
    (``answer.min_relevance``) is set on: how well the weakest row label names its line item
    (:func:`~docket.answer.figures.label_score`: 1 for one of its usual names, about 0.7 for a label
    sharing most words with it), less where the year's column was one of several or the figure adds
    up a statement's parts."""
    if not result.figures:
        return 0.0
    score = min(f.score for f in result.figures)
    if not all(f.one_column for f in result.figures):
        score *= SEVERAL_COLUMNS
    if any(f.parts for f in result.figures):
        score *= _ADDED_PARTS
    return score


_CURRENCIES = ("$", "€", "£", "¥")


def stated(value: float | None, figure: Figure) -> str:
    """A figure as an answer states it, with the currency and scale its cell and table give:
    "$39,669 (in millions)" for a cell "$ 39,669" under "(In millions, except per share data)";
    ``value`` (a rounded figure) in place of the cell's own when given. A cell in brackets is negative."""
    number = _fmt(figure.value if value is None else value)
    if figure.rate:
        number += "%"  # a rate as its cell gives it: "2.7%"
    currency = next((c for c in _CURRENCIES if c in figure.cell or c in figure.unit), "")
    if currency:
        number = f"-{currency}{number[1:]}" if number.startswith("-") else f"{currency}{number}"
    return f"{number}{_scale(figure)}"


def _scale(figure: Figure) -> str:
    scale = {1e3: "thousands", 1e6: "millions", 1e9: "billions"}.get(unit_factor(figure.scale), "")
    return f" (in {scale})" if scale else ""


def uncertain(figure: Figure) -> list[str]:
    """What makes a single figure's match uncertain, as lines to show under it: a row label that only
    resembles the item asked for, a year with several columns, a sum of parts."""
    lines = []
    if figure.score < _NAMED_ROW:
        lines.append(f'Uncertain: no row is named "{figure.item}"; the closest is "{figure.label}"')
    if not figure.one_column:
        lines.append(f'Uncertain: FY{figure.year} has several columns in this table; this is "{figure.column}"')
    return lines


def _points(result: Result) -> list[str]:
    """For a percentage change of a rate, the change in points too (:func:`change_in_points`)."""
    figures = sorted(result.figures, key=lambda f: f.year)
    if not result.plan.label.startswith("percentage change") or len(figures) != 2 or figures[0].year == figures[1].year:
        return []
    return [change_in_points(figures[1], figures[0])] if all(f.rate for f in figures) else []


# a row label that is one of the item's names, or starts with one (:func:`~docket.answer.figures.label_score`)
_NAMED_ROW = 0.9


def answer_text(result: Result, numbers: Sequence[int]) -> str:
    """The computed answer as shown: the value, the calculation with the figures put in, and each
    figure with its row, column and citation (``numbers[i]`` cites ``result.figures[i]``)."""
    plan_ = result.plan
    value = f"{result.value:,.{plan_.decimals}f}" if plan_.decimals is not None else _fmt(result.value)
    if plan_.percent:
        value += "%"
    elif plan_.unit and "/" not in plan_.expression:
        value += f" (USD {plan_.unit})"
    elif len(result.figures) == 1 and "/" not in plan_.expression:
        value = stated(result.value if plan_.decimals is not None else None, result.figures[0])
    if result.each:  # "193 in 2019 and 167 in 2018 (in thousands)", the figures' own scale once
        shown = [stated(v, f).removesuffix(_scale(f)) for v, f in zip(result.each, result.figures, strict=True)]
        value = " and ".join(f"{v} in {y}" for v, y in zip(shown, plan_.years, strict=True))
        value += _scale(result.figures[0])
    lines = [f"{plan_.label[:1].upper()}{plan_.label[1:]}: {value}"]
    if result.each:  # one row's figures: what makes the match uncertain, once
        lines += list(dict.fromkeys(line for figure in result.figures for line in uncertain(figure)))
    elif len(result.figures) == 1 and "/" not in plan_.expression and not plan_.percent:
        lines += uncertain(result.figures[0])
    if result.values is not None:
        unit = " points" if plan_.percent else ""
        (a, b), (y1, y2) = result.values, (plan_.years[0], plan_.years[-1])
        lines = [
            f"{plan_.label[:1].upper()}{plan_.label[1:]}: {_fmt(a)}{'%' if plan_.percent else ''} in FY{y1}, "
            f"{_fmt(b)}{'%' if plan_.percent else ''} in FY{y2}; a change of {result.value:+,g}{unit}"
        ]
        parts = result.shown.replace("*", "×").split(" ; ")
        lines.append(f"Calculation: FY{y1}: {parts[0]}; FY{y2}: {parts[-1]}" + (" (× 100)" if plan_.percent else ""))
    elif not result.each and (len(result.figures) > 1 or plan_.percent or "/" in plan_.expression):
        calculation = result.shown.replace("*", "×")
        if plan_.percent:
            calculation = f"({calculation}) × 100"
        if len(plan_.years) > 1:
            calculation = f"average over FY{plan_.years[0]}–FY{plan_.years[-1]} of {calculation}"
        lines.append(f"Calculation: {calculation} = {value}")
        lines += _points(result)
    for figure, n in zip(result.figures, numbers, strict=True):
        unit = f" {figure.scale}" if figure.scale else ""
        if figure.parts:  # no total row: the parts as listed, added up
            lines.append(
                f"- {figure.item}, FY{figure.year}: {_fmt(figure.value)} = {figure.cell}{unit} ({figure.label}: "
                f"{'; '.join(figure.parts)}, {figure.column}; the statement gives no total, its parts are added) [{n}]"
            )
            continue
        lines.append(f"- {figure.item}, FY{figure.year}: {figure.cell}{unit} ({figure.label}, {figure.column}) [{n}]")
    return "\n".join(lines)
