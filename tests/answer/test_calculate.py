"""Computed figures: planning a calculation from a question, finding each figure's row, the arithmetic.

Logic only, on table passages written here; the end-to-end path on real filings is in
``test_scope.py`` (``test_a_defined_metric_is_computed_in_code_from_the_cited_rows``).
"""

from __future__ import annotations

import math

import pytest

from docket.answer.calculate import answer_text, compute, lookup, plan
from docket.sentences import CELL_SEPARATOR
from docket.types import Hit, Location


def _table(rows: list[list[str]], heading: str = "", chunk_id: int = 1) -> Hit:
    text = "\n".join(CELL_SEPARATOR.join(row) for row in rows)
    location = Location(heading_path=(heading,) if heading else ())
    return Hit(chunk_id, "d1", "folder", "acme.pdf", "Acme 10-K", text, location, 1.0)


BALANCE = _table(
    [
        ["(in millions)", "December 31, 2017", "December 31, 2018"],
        ["Inventories", "1,000", "1,200"],
        ["Accounts payable", "800", "900"],
        ["Property, plant and equipment, net", "5,000", "5,500"],
        ["Total assets", "20,000", "22,000"],
    ],
    heading="Consolidated Balance Sheets",
)
INCOME = _table(
    [
        ["(in millions)", "2016", "2017", "2018"],
        ["Net sales", "9,000", "10,000", "12,000"],
        ["Cost of sales", "6,000", "6,500", "7,800"],
        ["Operating income", "1,500", "1,700", "2,100"],
        ["Total", "16,500", "18,200", "21,900"],
        ["Net income", "1,000", "1,100", "1,400"],
    ],
    heading="Consolidated Statements of Income",
    chunk_id=2,
)
CASH = _table(
    [
        ["(in millions)", "2017", "2018"],
        ["Change in inventories", "(150)", "(200)"],
        ["Purchases of property, plant and equipment", "(600)", "(700)"],
    ],
    heading="Consolidated Statements of Cash Flows",
    chunk_id=3,
)
TABLES = [CASH, INCOME, BALANCE]


def _find(item: str, year: int):  # type: ignore[no-untyped-def]
    return lookup(item, year, TABLES)


# ---------------------------------------------------------------------------- plans


def test_a_single_line_item_is_planned_for_the_year_asked() -> None:
    p = plan("What is the FY2018 capital expenditure amount (in USD millions) for Acme?")
    assert p is not None and p.expression == "capital expenditure[2018]" and p.unit == "millions"


def test_a_definition_in_the_question_is_followed() -> None:
    p = plan(
        "What is Acme's FY2018 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts "
        "payable between FY2017 and FY2018) / (FY2018 COGS + change in inventory between FY2017 and FY2018). "
        "Round your answer to two decimal places."
    )
    assert p is not None and p.decimals == 2
    assert not p.change, "a change inside the definition is part of the formula, not a change asked for"
    assert p.years == (2018,) and "(accounts payable[{p}] + accounts payable[{y}]) / 2" in p.expression
    assert "inventory[{y}] - inventory[{p}]" in p.expression


@pytest.mark.parametrize(
    "question",
    [
        "What drove the change in Acme's operating margin in FY2018?",
        "Has Acme's gross margin improved in FY2018?",
        "Does Acme pay a dividend in 2018?",
    ],
)
def test_questions_of_why_or_whether_are_not_calculations(question: str) -> None:
    assert plan(question) is None


def test_a_story_around_an_item_is_not_that_item() -> None:
    question = (
        "What is the real change in sales for FY2018 if we exclude the impact of FX movement, "
        "passthrough costs and one-off items?"
    )
    assert plan(question) is None


def test_a_metric_in_two_years_asks_for_both_and_the_change() -> None:
    p = plan("What is the change in Acme's operating margin between FY2017 and FY2018, in percent?")
    assert p is not None and p.change and p.years == (2017, 2018) and p.percent


# ---------------------------------------------------------------------------- lookups


def test_an_exact_row_label_is_found_in_the_year_column() -> None:
    figure = _find("revenue", 2018)
    assert figure is not None and figure.value == 12000 and figure.label == "Net sales"


def test_a_bare_total_row_is_no_line_item() -> None:
    assert lookup("operating income", 2017, [_table([["", "2017"], ["Total", "1,700"]])]) is None


def test_a_balance_comes_from_the_balance_sheet_not_the_change_in_cash_flows() -> None:
    figure = _find("inventory", 2018)
    assert figure is not None and figure.value == 1200 and figure.label == "Inventories"


def test_a_flow_comes_from_the_cash_flow_statement_with_its_sign() -> None:
    figure = _find("capital expenditure", 2018)
    assert figure is not None and figure.value == -700


def test_a_year_without_a_column_is_not_found() -> None:
    assert _find("total assets", 2015) is None


# ---------------------------------------------------------------------------- arithmetic and text


def test_a_margin_is_computed_from_the_rows_and_shown() -> None:
    p = plan("What is Acme's FY2018 operating margin as a percentage? Round to one decimal place.")
    assert p is not None
    result = compute(p, _find)
    assert result is not None and result.value == pytest.approx(17.5)
    text = answer_text(result, [1, 2])
    assert "17.5" in text and "2,100" in text and "12,000" in text


def test_a_change_in_a_metric_gives_both_years_and_the_difference() -> None:
    p = plan("What is the change in Acme's operating margin between FY2017 and FY2018, in percent?")
    assert p is not None
    result = compute(p, _find)
    assert result is not None and result.values == pytest.approx((17.0, 17.5))
    assert result.value == pytest.approx(0.5)
    text = answer_text(result, list(range(1, len(result.figures) + 1)))
    assert "FY2017" in text and "FY2018" in text and "+0.5 points" in text


def test_a_missing_figure_computes_nothing() -> None:
    p = plan("What is Acme's FY2018 return on assets? Round to two decimal places.")
    assert p is not None
    result = compute(p, lambda item, year: None)
    assert result is not None and not result.figures
    assert set(result.missing) == {"net income FY2018", "total assets FY2017", "total assets FY2018"}


@pytest.mark.parametrize(
    ("label", "item", "matches"),
    [
        ("Net sales", "revenue", True),
        ("Net income attributable to Walmart", "net income", True),
        ("Purchases of property, plant and equipment (PP&E)", "capital expenditure", True),
        ("Provision for income taxes", "income tax expense", True),
        ("Sales and marketing", "revenue", False),  # starts with a name of revenue, names an expense
        ("Income tax provision", "income before taxes", False),  # "before" is the whole difference
        ("Total", "revenue", False),
    ],
)
def test_a_row_names_an_item_only_by_one_of_its_names(label: str, item: str, matches: bool) -> None:
    from docket.answer.calculate import _label_score

    assert (_label_score(label, item) >= 0.7) is matches


def test_two_items_read_from_one_row_are_not_computed() -> None:
    """An effective tax rate whose tax and pre-tax income both come from the tax row would be 100 %."""
    tax = _table([["", "2021", "2022"], ["Income tax provision", "2,629", "2,071"]], "Statements of Income")
    row = lookup("income tax expense", 2022, [tax])
    assert row is not None and lookup("income before taxes", 2022, [tax]) is None
    p = plan("What is the effective tax rate of Acme in FY2022?")
    assert p is not None
    result = compute(p, lambda item, year: row)  # a finder that reads the one row for both
    assert result is not None and math.isnan(result.value) and len(result.figures) == 1
    assert len(result.missing) == 1
