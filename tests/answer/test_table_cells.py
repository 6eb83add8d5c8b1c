"""Single cells of real report tables: the row by its label (and the words of its column), the column
by its year and the question's words, stacked column headings read as one, and a row's change or
average over its table's years when the question names none.

Tables: eight of TAT-QA's dev split (CC BY 4.0, tests/data/tatqa/README.md), written as
``bench/answers.py`` writes them into documents (one row a line, cells joined by " | "); one
quarterly table written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docket.answer.calculate import answer_text, compute, plan, stated
from docket.answer.figures import lookup
from docket.answer.plans import free_item
from docket.answer.which_year import across_text, across_years, over_years
from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.sentences import CELL_SEPARATOR
from docket.types import Hit, Location

DATA = Path(__file__).resolve().parents[1] / "data" / "tatqa"
TABLES = {t["uid"][:8]: t["table"] for t in json.loads((DATA / "tables.json").read_text(encoding="utf-8"))}
DISCONTINUED, FINANCIAL_ASSETS, EMISSIONS, NON_CURRENT = "6aa15859", "21a432eb", "7d228e82", "d0810768"
REGIONS, ROIC, PARTICIPATING, BALANCES = "483ae181", "65cffa0c", "31e184c6", "d476a981"


def _text(rows: list[list[str]]) -> str:
    return "\n".join(CELL_SEPARATOR.join(row) for row in rows)


def _hit(key: str) -> Hit:
    return Hit(1, key, "folder", f"{key}.txt", key, _text(TABLES[key]), Location(), 1.0)


def test_a_long_section_label_ending_in_a_colon_does_not_end_the_table() -> None:
    """ "Major classes of line items constituting pretax profit (loss) of discontinued operations
    for …:" is a label inside the table: the rows below it are still read under "(In thousands) |
    2018 | 2017", and the row is named by its section ("Revenue:") and its label."""
    figure = lookup("software delivery, support and maintenance revenue", 2018, [_hit(DISCONTINUED)])
    assert figure is not None
    assert (figure.cell, figure.column) == ("$9,441", "2018")
    cost = lookup("software delivery, support and maintenance cost of revenue", 2017, [_hit(DISCONTINUED)])
    assert cost is not None and cost.cell == "2,918"  # the same label under "Cost of revenue:"


def test_stacked_headings_and_the_question_words_choose_the_column() -> None:
    """ "Financial assets | Financial liabilities" over "2019 | 2018 | 2019 | 2018": the year alone
    names two columns; the words of the question choose one, and the row is named by its label and
    its column together."""
    hits = [_hit(FINANCIAL_ASSETS)]
    assets = plan("What is the 2018 IFRS9 opening balance of financial assets?")
    assert assets is not None
    figure = lookup("ifrs opening balance of financial assets", 2018, hits, hint=assets.hint)
    assert figure is not None
    assert (figure.cell, figure.column, figure.one_column) == ("100,107", "Financial assets 2018 RMB’Million", True)
    question = "What were the 2019 additions of financial liabilities?"
    liabilities = lookup("additions of financial liabilities", 2019, hits, hint=question)
    assert liabilities is not None and (liabilities.cell, liabilities.one_column) == ("75", True)


QUARTER = _text(
    [
        ["(in millions)", "Three Months Ended", "Six Months Ended"],
        ["", "June 30, 2023", "June 30, 2022", "June 30, 2023", "June 30, 2022"],
        ["Net sales", "3,100", "2,900", "6,050", "5,700"],
        ["Operating income", "410", "380", "800", "750"],
    ]
)


@pytest.mark.parametrize(
    ("question", "cell", "sure"),
    [
        ("What were net sales for the three months ended June 30, 2023?", "3,100", True),
        ("What were net sales for the six months ended June 30, 2023?", "6,050", True),
        ("What were net sales in 2023?", "3,100", False),  # two columns name 2023 and nothing chooses
    ],
)
def test_a_quarter_or_half_year_column_is_read_as_the_question_words_it(question: str, cell: str, sure: bool) -> None:
    hit = Hit(1, "q", "folder", "q2.txt", "Q2", QUARTER, Location(), 1.0)
    figure = lookup("revenue", 2023, [hit], hint=question)
    assert figure is not None
    assert (figure.cell, figure.one_column) == (cell, sure)


def test_a_quarter_is_read_from_a_quarter_column_before_another_table_s_year_column() -> None:
    """A 10-K's "Years ended 2022" column and a 10-Q's "Three Months Ended" columns both name 2022:
    the question's period chooses the table too, not only the column within one."""
    annual = _text([["(in millions)", "Years ended 2022", "Years ended 2021"], ["Net sales", "14,544", "12,861"]])
    quarterly = QUARTER.replace("2023", "2022").replace("2022 | June 30, 2022", "2022 | June 30, 2021")
    hits = [
        Hit(1, "k", "folder", "10k.txt", "10-K", annual, Location(), 1.0),
        Hit(2, "q", "folder", "10q.txt", "10-Q", quarterly, Location(), 0.9),
    ]
    quarter = lookup("revenue", 2022, hits, hint="What were net sales for the three months ended June 30, 2022?")
    assert quarter is not None and quarter.cell == "3,100"
    year = lookup("revenue", 2022, hits, hint="What were net sales for the year ended 2022?")
    assert year is not None and year.cell == "14,544"


def test_a_quoted_row_a_possessive_and_a_total_name_the_row_asked_for() -> None:
    quoted = plan("What is the difference in the number of rights 'granted during the period' between 2018 and 2019?")
    assert quoted is not None and "granted during the period[2019]" in quoted.expression
    owned = plan("What is the company's 2019 right of use assets?")
    assert owned is not None and owned.expression == "right of use assets[2019]"
    total = free_item("the total other non-current assets as at December 31, 2018")
    assert total == "total other non current assets"
    figure = lookup(total, 2018, [_hit(NON_CURRENT)])
    assert figure is not None and (figure.label, figure.cell) == ("Total other non-current assets", "$8,620")


def test_a_change_without_years_is_computed_from_the_latest_two_and_says_so() -> None:
    asked = over_years("What was the change in total emissions?")
    assert asked == ("change", "total emissions")
    result = across_years(*asked, [_hit(EMISSIONS)])
    assert result is not None and result.value == pytest.approx(-301.9)
    text = across_text(result, 1)
    assert text.startswith("Change in Total emissions: -301.9")
    assert "4,785.7 (2019) − 5,087.6 (2018)" in text
    assert "the question names no year" in text
    share = across_years("percentage change", "total emissions", [_hit(EMISSIONS)])
    assert share is not None and share.value == pytest.approx(-5.934, abs=1e-3)
    mean = across_years("average", "total emissions", [_hit(EMISSIONS)])
    assert mean is not None and mean.value == pytest.approx(4936.65)
    # a question naming years, or two rows, is not this path's
    assert over_years("What was the change in total emissions between 2018 and 2019?") is None
    assert over_years("What is the difference between current assets and fixed assets?") is None
    assert over_years("What was the change in revenue versus cost of sales?") is None


def test_a_table_headed_by_one_year_alone_is_read() -> None:
    """A heading line with an empty label cell and one year (" | 2019") heads the column."""
    hit = Hit(1, "r", "folder", "r.txt", "r", _text([["", "2019"], ["Revenue", "100"]]), Location(), 1.0)
    found = lookup("revenue", 2019, [hit])
    assert found is not None and found.value == 100


def test_single_cells_and_a_change_are_answered_end_to_end(tmp_path: Path) -> None:
    """Through a real knowledge base (SQLite, search, scoping): the answer states the cell itself on
    its first line, with the table's unit, and cites the row."""
    folder = tmp_path / "reports"
    folder.mkdir()
    for key in (DISCONTINUED, EMISSIONS, NON_CURRENT):
        (folder / f"{key}.txt").write_text(_text(TABLES[key]) + "\n", encoding="utf-8")
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        kb.ingest([str(folder)])
        cell = kb.ask("What was the Software delivery, support and maintenance revenue in 2018?")
        assert cell.method == "calculated", cell.text
        first = cell.text.split("\n")[0]
        assert first.endswith(": $9,441 (in thousands)"), cell.text
        assert cell.citations and "$9,441" in cell.citations[0].quote
        change = kb.ask("What was the change in total emissions?")
        assert change.method == "calculated", change.text
        assert change.text.startswith("Change in Total emissions: -301.9"), change.text


def test_a_thousands_unit_written_as_000_is_carried_into_the_answer() -> None:
    """ "$'000" and "US$’000" over the columns (as Australian and British reports write it) are
    thousands: the stated figure says so, as "(in thousands)" does."""
    table = _text([["2019", "2018"], ["$'000", "$'000"], ["Trade receivables", "3,770", "3,054"]])
    hit = Hit(1, "t", "folder", "t.txt", "t", table, Location(), 1.0)
    figure = lookup("trade receivables", 2019, [hit])
    assert figure is not None and figure.unit == "$'000"
    assert stated(None, figure) == "$3,770 (in thousands)"


def _answer(question: str, key: str) -> str:
    """The computed answer to ``question`` from one table, as shown."""
    planned = plan(question)
    assert planned is not None, question
    result = compute(planned, lambda item, year: lookup(item, year, [_hit(key)], hint=planned.hint))
    assert result is not None and not result.missing, question
    return answer_text(result, [1] * len(result.figures))


def test_an_average_without_a_preposition_or_years_is_the_row_the_question_names_in_full() -> None:
    """ "What was the average Preferred stock (as-converted basis)?": no "of", no year; the row the
    question repeats with its bracketed qualifier, not the "Preferred stock" row of percentages
    further down the same table."""
    asked = over_years("What was the average Preferred stock (as-converted basis)?")
    assert asked == ("average", "preferred stock")
    hint = "What was the average Preferred stock (as-converted basis)?"
    result = across_years(*asked, [_hit(PARTICIPATING)], hint=hint)
    assert result is not None and result.value == pytest.approx(3.5)
    text = across_text(result, 1)
    assert text.startswith("Average of Preferred stock (as-converted basis): 3.5")
    assert over_years("What is the average Cost of sales?") == ("average", "cost of goods sold")
    assert over_years("What is the average of 2019 revenue?") is None  # a year named: another path's


def test_a_percentage_change_of_a_rate_also_gives_the_change_in_points_and_no_money_unit() -> None:
    text = _answer("What was the percentage change in the WACC between 2018 and 2019?", ROIC)
    assert text.startswith("Percentage change in wacc: -5.26%")
    assert "9.0% − 9.5% = -0.5 points" in text
    assert "in millions" not in text and "(in" not in text
    money = _answer(
        "What was the percentage change in Adjusted operating income (tax effected) between 2018 and 2019?", ROIC
    )
    assert "points" not in money  # money, not a rate


def test_two_rows_of_one_year_are_subtracted_and_one_row_between_two_years_is_a_change() -> None:
    regions = _answer("What was the difference in the net sales in 2019 between APAC and EMEA?", REGIONS)
    assert regions.startswith("Difference between apac net sales and emea net sales: 217,805")
    assert "$533,340" in regions and "315,535" in regions
    between = plan("What is the difference between the net cash provided by operating activities from 2018 to 2019?")
    assert between is not None
    assert between.expression == (
        "net cash provided by operating activities[2019] - net cash provided by operating activities[2018]"
    )
    # two items between two years: which difference is asked is not guessed
    assert plan("What is the difference between revenue and cost of sales in 2019 and 2018?") is None


def test_the_respective_values_of_a_row_in_two_years_are_each_read() -> None:
    text = _answer("What are the respective values of work-in-process inventory in 2018 and 2019?", BALANCES)
    assert text.startswith("Work in process inventory: 2,929 in 2018 and 2,370 in 2019 (in thousands)")
    total = plan("What is the total amount of audit fees in both 2018 and 2019?")
    assert total is not None and total.expression == "audit fees[2018] + audit fees[2019]"


def _rows(key: str, rows: list[list[str]]) -> Hit:
    return Hit(1, key, "folder", f"{key}.txt", key, _text(rows), Location(), 1.0)


def test_a_bare_average_is_a_row_the_question_names_and_no_row_that_is_an_average_itself() -> None:
    prices = _rows("p", [["(in dollars)", "2023", "2022", "2021"], ["Average selling price", "410", "380", "350"]])
    asked = over_years("What is the average selling price?")
    assert asked is not None
    assert across_years(*asked, [prices], hint="What is the average selling price?") is None  # that row's figure
    pay = _rows("s", [["", "2023", "2022"], ["Salaries", "1,200", "1,100"], ["Nurse staffing", "300", "280"]])
    asked = over_years("What is the average salary of a nurse?")
    assert asked is None or across_years(*asked, [pay], hint="What is the average salary of a nurse?") is None
    # "the average of X" names X whatever its words
    of = across_years("average", "salaries", [pay], hint="What is the average of salaries?")
    assert of is not None and of.value == pytest.approx(1150)


def test_two_rows_are_parted_only_where_the_and_is_clear() -> None:
    assert plan("What is the difference between cash and cash equivalents and restricted cash in 2019?") is None
    assert plan("What is the difference between a PPO and an HMO plan in 2024?") is None  # kinds, not rows
    rnd = plan("What is the difference between the research and development expenses from 2018 to 2019?")
    assert rnd is not None
    assert rnd.expression == "research and development expenses[2019] - research and development expenses[2018]"


def test_a_row_the_question_names_word_for_word_beats_a_synonym_in_a_better_ranked_passage() -> None:
    goods = Hit(1, "a", "folder", "a.txt", "a", _text([["", "2019"], ["Cost of goods sold", "100"]]), Location(), 1.0)
    sales = Hit(2, "b", "folder", "b.txt", "b", _text([["", "2019"], ["Cost of sales", "90"]]), Location(), 0.9)
    question = "What was the cost of sales in 2019?"
    planned = plan(question)
    assert planned is not None and planned.expression == "cost of goods sold[2019]"  # one line item, two names
    figure = lookup("cost of goods sold", 2019, [goods, sales], hint=question)
    assert figure is not None and figure.label == "Cost of sales"
    assert lookup("cost of goods sold", 2019, [goods, sales]).label == "Cost of goods sold"  # type: ignore[union-attr]
