"""Questions such as "In which year was X higher?": the row's figures in every year column of its table, compared."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from docket.answer.figures import HEADER_YEAR, Figure, label_score, lookup
from docket.answer.plans import free_item
from docket.types import Hit

__all__ = ["YearComparison", "compare_years", "comparison_text", "which_year"]

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


def compare_years(item: str, highest: bool, hits: Sequence[Hit]) -> YearComparison | None:
    """The best row for ``item`` that has a figure in at least two year columns of its table, and
    the year of its highest (or lowest) figure; None when no row matches or the figures tie."""
    rows: dict[tuple[int, int], list[Figure]] = {}  # (hit, row offset) -> the row's figure per year
    for i, hit in enumerate(hits):
        for year in sorted({int(y) for y in HEADER_YEAR.findall(hit.text)}):
            figure = lookup(item, year, [hit])
            if figure is not None:
                rows.setdefault((i, figure.start), []).append(replace(figure, hit=i))
    ranked = [
        (label_score(figures[0].label, item) - 0.01 * i, figures)
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
