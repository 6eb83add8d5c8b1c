"""bench/ocr.py's character error rate: what it leaves out (what no reader can see) and what it
still counts, on texts written out here (no engine needed)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bench_modules import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("ocr_bench", "ocr.py")


@pytest.mark.parametrize(
    ("ocr", "truth"),
    [
        ("Introduction ....... 3", "Introduction............................3"),  # leader length is the font's
        ("Name: (Print)", "Name: ________________________ (Print)"),  # a form's rule
        ("the first offer", "the ﬁrst offer"),  # a ligature
        ('It\'s "done" - now', "It’s “done” – now"),  # quotes and dashes
        ("Total | $4.11", "Total $4.11"),  # a table's rule or cell separator
    ],
)
def test_what_no_reader_can_see_is_not_counted(bench: ModuleType, ocr: str, truth: str) -> None:
    assert bench.cer_any_order(ocr, truth) == 0.0
    assert bench.cer(ocr, truth) == 0.0


def test_misread_and_extra_text_still_count_each_on_its_side(bench: ModuleType) -> None:
    missed, extra = bench.cer_parts("Grundgebthr fur den Monat", "Grundgebühr für den Monat")
    assert missed == pytest.approx(2 / 22) and extra == 0.0  # two letters misread, of 22
    missed, extra = bench.cer_parts("azure interior Invoice", "Invoice")
    assert missed == 0.0 and extra == pytest.approx(13 / 7)  # a logo's words the text layer lacks
    assert bench.cer_any_order("Intro .. 3", "Intro.......3", raw=True) > 0  # the old metric counted leaders


def test_pages_are_split_by_file_so_both_halves_hold_whole_documents(bench: ModuleType) -> None:
    from pathlib import Path

    names = [f"file{n}.pdf" for n in range(40)]
    halves = {bench.split_of(Path(name)) for name in names}
    assert halves == {"dev", "test"}
    assert all(bench.split_of(Path("a/b/" + n)) == bench.split_of(Path(n)) for n in names)
