"""Computed figures: planning a calculation from a question, finding each figure's row, the arithmetic.

Logic only, on table passages written here; the end-to-end path on real filings is in
``test_scope.py`` (``test_a_defined_metric_is_computed_in_code_from_the_cited_rows``).
"""

from __future__ import annotations

import math

import pytest

from docket.answer.calculate import answer_text, compute, lookup, plan
from docket.answer.figures import statement_table
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
        ("Accumulated depreciation and amortization", "depreciation and amortization", False),  # a balance
        ("Deferred revenue", "revenue", False),
    ],
)
def test_a_row_names_an_item_only_by_one_of_its_names(label: str, item: str, matches: bool) -> None:
    from docket.answer.figures import label_score

    assert (label_score(label, item) >= 0.7) is matches


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


# ---------------------------------------------------------------------- arithmetic on any line item

NOTE = Hit(
    2,
    "d2",
    "folder",
    "note7.txt",
    "Note 7",
    "Prepaid expenses and other consist of the following (in thousands):\n"
    + "\n".join(
        CELL_SEPARATOR.join(row)
        for row in (
            ["2019", "2018"],  # no cell above the labels: headings align with the last cells
            ["Prepaid expenses", "$2,303", "$1,780"],
            ["Acquisition-related charges", "(120)", "108"],
            ["Other", "193", "167"],
        )
    ),
    Location(),
    1.0,
)


@pytest.mark.parametrize(
    ("question", "expression", "years", "percent"),
    [
        ("What is the change in prepaid expenses between 2018 and 2019?",
         "prepaid expenses[2019] - prepaid expenses[2018]", (), False),
        ("What is the increase / (decrease) in Acquisition-related charges from 2018 to 2019?",
         "acquisition related charges[2019] - acquisition related charges[2018]", (), False),
        ("What is the percentage change in Other in 2019 from 2018?",
         "(other[2019] - other[2018]) / other[2018]", (), True),
        ("What was the average net voyage revenue in 2018 and 2019?", "net voyage revenue[{y}]", (2018, 2019), False),
        ("What is the average Gross Profit for 2017-2019?", "gross profit[{y}]", (2017, 2018, 2019), False),
        ("What is the ratio of inventory reserves to accrued compensation in 2018?",
         "inventory reserves[{y}] / accrued compensation[{y}]", (2018,), False),
        ("What is the change in Amazon's net sales from 2018 to 2019?", "revenue[2019] - revenue[2018]", (), False),
        ("What was the change in total assets from 2021 to 2022?",  # a known item keeps its "total"
         "total assets[2022] - total assets[2021]", (), False),
        ("What is the total net operating loss carry-forwards in 2018 and 2019?",
         "net operating loss carry forwards[2018] + net operating loss carry forwards[2019]", (), False),
    ],
)  # fmt: skip
def test_arithmetic_on_a_line_item_named_in_words_is_planned(
    question: str, expression: str, years: tuple[int, ...], percent: bool
) -> None:
    planned = plan(question)
    assert planned is not None
    assert (planned.expression, planned.years, planned.percent) == (expression, years, percent)


@pytest.mark.parametrize(
    "question",
    [
        "What was the increase / (decrease) in the asset retirement obligation from 2021-2022 to 2022-2023?",
        "What was the revenues in 2019 and 2018?",  # one line item, two years, no operation
        "What is the average USD-EUR exchange rate in FY 2019?",  # an average of one year is a line item's name
    ],
)
def test_a_question_for_several_figures_or_an_operation_it_cannot_do_is_not_answered_with_one(question: str) -> None:
    assert plan(question) is None


def test_rows_under_a_header_without_a_label_cell_and_after_prose_are_found() -> None:
    figure = lookup("prepaid expenses", 2018, [NOTE])
    assert figure is not None and figure.value == 1780 and figure.column == "2018"
    assert figure.unit == "in thousands"  # the unit the prose above the table states
    planned = plan("What was the percentage change in prepaid expenses between 2018 and 2019?")
    assert planned is not None
    result = compute(planned, lambda item, year: lookup(item, year, [NOTE]))
    assert result is not None and round(result.value, 2) == 29.38
    assert answer_text(result, [1, 1]).startswith("Percentage change in prepaid expenses: 29.38%")


def test_a_section_label_inside_a_table_keeps_its_header() -> None:
    sheet = _table(
        [["(in millions)", "2016", "2017"], ["Inventories", "11,461", "16,047"]], heading="Consolidated Balance Sheets"
    )
    sheet = Hit(1, "d1", "f", "a.pdf", "A", sheet.text + "\nLIABILITIES AND EQUITY\nAccounts payable | 25,309 | 34,616",
                Location(), 1.0)  # fmt: skip
    figure = lookup("accounts payable", 2017, [sheet])
    assert figure is not None and figure.value == 34616


def test_a_row_named_in_words_is_looked_up_for_the_one_year_asked() -> None:
    planned = plan("What was the net cash provided by operating activities in 2017?")
    assert planned is not None and planned.expression == "net cash provided by operating activities[2017]"
    assert plan("What was the net cash provided by operating activities in 2017 and 2018?") is None
    # a long phrase is a story around a figure, not a row label
    assert (
        plan("What was the amount the company paid to settle the litigation with its former landlord in 2019?") is None
    )


def test_which_year_compares_a_row_across_its_year_columns() -> None:
    from docket.answer.calculate import compare_years, comparison_text, which_year

    assert which_year("Which year was the ship management creditors lower?") == ("ship management creditors", False)
    assert which_year("In which year was the amount of commodity contracts the largest?") == (
        "commodity contracts",
        True,
    )
    assert which_year("What was the ship management creditors in 2019?") is None
    creditors = Hit(
        1, "d", "s", "notes.txt", "Notes", "(in thousands) | 2019 | 2018\nShip management creditors | 328 | 268",
        Location(), 1.0,
    )  # fmt: skip
    result = compare_years("ship management creditors", False, [creditors])
    assert result is not None and result.year == "2018"
    assert comparison_text(result, 1).startswith("2018\n- Ship management creditors")
    tied = Hit(2, "d", "s", "t.txt", "T", "Item | 2019 | 2018\nShip management creditors | 5 | 5", Location(), 1.0)
    assert compare_years("ship management creditors", True, [tied]) is None  # a tie names no year


# ---------------------------------------------------------------------------- the statements themselves


@pytest.mark.parametrize(
    ("heading", "item", "reports"),
    [
        ("Consolidated Statement of Income", "revenue", True),
        ("Consolidated Statement of Incom e", "net income", True),  # a PDF's split word
        ("CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS", "operating income", True),
        ("Consolidated Balance Sheets", "total assets", True),
        ("Consolidated Statements of Financial Position", "inventory", True),
        ("Consolidated Statements of Cash Flows", "capital expenditure", True),
        ("Consolidated Statements of Cash Flows", "net income", False),  # read from the income statement
        ("Consolidated Balance Sheets", "revenue", False),
        ("Consolidated Statement of Income", "total assets", False),
        ("Statement of Income for Obligor Group", "net income", False),  # a part of the group
        ("Condensed Consolidating Balance Sheet — Guarantor Subsidiaries", "total assets", False),
        ("Results of Operations", "revenue", False),  # a discussion, not the statement
        ("", "revenue", False),
    ],
)
def test_a_statement_table_is_known_by_its_title_and_the_items_it_reports(
    heading: str, item: str, reports: bool
) -> None:
    table = _table([["(in millions)", "2022", "2021"], ["Net sales", "34,229", "35,355"]], heading=heading)
    assert statement_table(table, item) is reports


def test_a_statement_title_on_the_line_above_the_rows_counts_and_prose_does_not() -> None:
    text = "\n".join(["Consolidated Balance Sheets", CELL_SEPARATOR.join(["(in millions)", "2022", "2021"]),
                      CELL_SEPARATOR.join(["Total assets", "9", "8"])])  # fmt: skip
    titled = Hit(1, "d1", "folder", "a.pdf", "A", text, Location(), 1.0)
    prose = Hit(
        1, "d1", "folder", "a.pdf", "A", "The consolidated balance sheets show total assets as follows", Location(), 1.0
    )
    assert statement_table(titled, "total assets") and not statement_table(prose)


def test_a_row_only_resembling_the_item_is_not_read_when_a_named_row_is_asked_for() -> None:
    """ "Equity income (loss) — net" shares net income's words; a lookup that wants one of the item's
    names (the statement pass of a computed answer) passes it over."""
    table = _table([["(in millions)", "2017", "2016"], ["Equity income (loss) — net", "1,071", "835"]])
    assert lookup("net income", 2017, [table]) is not None
    assert lookup("net income", 2017, [table], min_label=0.9) is None
