"""Questions answered from one row's figures in every year column of its table: "In which year was X
higher?" (compared) and, when the question names no year, "What was the change / percentage change /
average of X?" (computed over the table's years: the latest two for a change, all of them for an
average, and the answer says which years it took)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from docket.answer.figures import HEADER_YEAR, Figure, change_in_points, label_score, lookup, names_row
from docket.answer.plans import free_item
from docket.types import Hit

__all__ = [
    "AcrossYears",
    "YearComparison",
    "across_text",
    "across_years",
    "compare_years",
    "comparison_text",
    "over_years",
    "which_year",
]

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
    item = free_item(match.group("item"))
    if item is None:
        return None
    return item, not re.match(r"low|small|less|least|few", match.group("cmp"), re.IGNORECASE)


def year_row(item: str, hits: Sequence[Hit], hint: str = "") -> list[Figure] | None:
    """The best row for ``item`` that has a figure in at least two year columns of its table: its
    figures, one per year in the table's order; None when no row matches."""
    rows: dict[tuple[int, int], list[Figure]] = {}  # (hit, row offset) -> the row's figure per year
    for i, hit in enumerate(hits):
        for year in sorted({int(y) for y in HEADER_YEAR.findall(hit.text)}):
            figure = lookup(item, year, [hit], hint=hint)
            if figure is not None:
                rows.setdefault((i, figure.start), []).append(replace(figure, hit=i))
    ranked = [
        (label_score(figures[0].label, item) - 0.01 * i, figures)
        for (i, _), figures in rows.items()
        if len({f.column for f in figures}) >= 2
    ]
    if not ranked:
        return None
    return max(ranked, key=lambda r: r[0])[1]


def compare_years(item: str, highest: bool, hits: Sequence[Hit]) -> YearComparison | None:
    """The best row for ``item`` that has a figure in at least two year columns of its table, and
    the year of its highest (or lowest) figure; None when no row matches or the figures tie."""
    figures = year_row(item, hits)
    if figures is None:
        return None
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
    unit = f" ({row.scale})" if row.scale else ""
    word = "highest" if result.highest else "lowest"
    return f"{result.year}\n- {row.label}{unit}, {word} in {result.year} — {shown} [{number}]"


# "What was the change in total emissions?", "What is the average of Other revenues?": an operation on
# one row, no year named
_ACROSS = re.compile(
    r"^\W*(?:what|how\s+much)\s+(?:is|was|were|are)\s+(?:the\s+)?(?:net\s+)?"
    r"(?P<op>(?:percent(?:age)?|%)\s+(?:change|increase|decrease)|change|increase|decrease|difference|average|mean)"
    r"\s+(?:value\s+)?(?:(?:in|of|for)\s+|(?<=average\s)|(?<=mean\s))(?P<item>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
_MAX_ROW_WORDS = 10


@dataclass(frozen=True)
class AcrossYears:
    """An operation on one row's figures over its table's years: the value and the figures used."""

    operation: str  # "change", "percentage change" or "average"
    item: str
    value: float
    figures: tuple[Figure, ...]  # the figures used: the later year first for a change


def over_years(question: str) -> tuple[str, str] | None:
    """(operation, row named) for a question asking for a change, percentage change or average of
    one row without naming a year or another row ("between A and B"), or None."""
    if re.search(r"\d", question):  # a year or another figure named: not this question
        return None
    match = _ACROSS.search(question)
    if match is None or re.search(r"\b(between|and\s+the|versus|vs)\b", match.group("item"), re.IGNORECASE):
        return None
    item = free_item(match.group("item"))
    if item is None or len(item.split()) > _MAX_ROW_WORDS:
        return None
    op = match.group("op").lower()
    operation = "percentage change" if re.match(r"perc|%", op) else "average" if op in {"average", "mean"} else "change"
    return operation, item


def across_years(operation: str, item: str, hits: Sequence[Hit], hint: str = "") -> AcrossYears | None:
    """``operation`` on the best row for ``item`` over its table's year columns: a change is the
    latest year's figure less the year before's, a percentage change that change over the earlier
    figure, an average the mean over every year column. None when no row has two years' figures."""
    figures = year_row(item, hits, hint)
    if figures is None:
        return None
    if operation == "average" and re.match(r"(?:average|mean)\b", figures[0].label, re.IGNORECASE):
        return None  # "the average selling price" is that row's figure, not a mean over the years
    # "the average X" without "of": X must be a row the question names word for word ("What was the
    # average State licenses?"), not any X ("the average salary of a nurse")
    bare = hint and not re.search(r"\b(?:average|mean)\s+(?:value\s+)?(?:of|in|for)\b", hint, re.IGNORECASE)
    if operation == "average" and bare and not names_row(figures[0].label, hint):
        return None
    by_year = sorted(figures, key=lambda f: -f.year)  # one figure a year (year_row)
    if operation == "average":
        chosen = tuple(by_year)
        value = sum(f.value for f in chosen) / len(chosen)
    else:
        later, earlier = by_year[0], by_year[1]
        chosen = (later, earlier)
        value = later.value - earlier.value
        if operation == "percentage change":
            if earlier.value == 0:
                return None
            value = value / abs(earlier.value) * 100
    return AcrossYears(operation, item, value, chosen)


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    return f"{round(value, 2):g}"


def across_text(result: AcrossYears, number: int) -> str:
    """The answer: the value, the calculation with each year's cell, the years taken (the question
    named none) and the row with its citation."""
    figures = result.figures
    cells = [f"{f.cell} ({f.year})" for f in figures]
    if result.operation == "average":
        calculation = f"({' + '.join(cells)}) / {len(cells)}"
        years = ", ".join(str(f.year) for f in figures)
        taken = f"the question names no year; every year of the table is averaged ({years})"
    else:
        calculation = f"{cells[0]} − {cells[1]}"
        if result.operation == "percentage change":
            calculation = f"({calculation}) / {figures[1].cell} × 100"
        later, earlier = figures[0].year, figures[1].year
        taken = f"the question names no year; the table's latest two are taken ({later} against {earlier})"
    value = _number(result.value) + ("%" if result.operation == "percentage change" else "")
    of = "of" if result.operation == "average" else "in"
    row = figures[0]
    unit = f" ({row.scale})" if row.scale else ""
    rates = result.operation == "percentage change" and all(f.rate for f in figures)
    points = [change_in_points(figures[0], figures[1])] if rates else []
    return "\n".join(
        [
            f"{result.operation[:1].upper()}{result.operation[1:]} {of} {row.label}: {value}",
            f"Calculation: {calculation} = {value}",
            *points,
            f"Years: {taken}",
            f"- {row.label}{unit}: " + "; ".join(f"{f.column}: {f.cell}" for f in figures) + f" [{number}]",
        ]
    )
