"""Figures in generated answers must come from the cited sources or from a calculation shown."""

from __future__ import annotations

import pytest

from docket.answer.numbers import figures, unsupported_numbers

SOURCES = [
    "Purchases of property, plant and equipment (PP&E) | (1,577) | (1,373) | (1,420)",
    "Clef offers 12 weeks of paid leave; the margin rose to 14.5% in 2018.",
]


@pytest.mark.parametrize(
    "sentence",
    [
        "3M spent $1,577 million on capital expenditure in 2018.",  # formatting and sign differ
        "Capital expenditure was $1.6 billion.",  # restated in billions and rounded
        "Clef offers 12 weeks of leave.",
        "The margin rose to 14.5%.",
        "The average was (1,577 + 1,373) / 2 = 1,475.",  # a calculation from source figures, shown
        "In 2018 the two largest items were equal.",  # years and small counts are not figures to check
    ],
)
def test_figures_the_sources_give_pass(sentence: str) -> None:
    assert unsupported_numbers(sentence, SOURCES) == []


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("Clef offers 14 weeks of leave.", ["14"]),
        ("Capital expenditure was $1,600 million.", ["$1,600 million"]),  # rounded further than written
        ("The average was (1,577 + 1,373) / 2 = 1,500.", ["1,500"]),  # a wrong calculation
        ("The average was (1,577 + 9,999) / 2 = 5,788.", ["9,999"]),  # right arithmetic on an invented figure
        ("The margin was 15.2%.", ["15.2%"]),
    ],
)
def test_figures_nobody_gave_are_named(sentence: str, missing: list[str]) -> None:
    assert unsupported_numbers(sentence, SOURCES) == missing


def test_names_with_digits_are_no_figures() -> None:
    assert [f.raw for f in figures("3M and the IO-360A engine cost $5M")] == ["$5M"]
