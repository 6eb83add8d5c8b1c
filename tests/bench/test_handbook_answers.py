"""bench/handbook_answers.py reads the handbook pages the paraphrased questions were written for, and
names a cited page (its folder source and its path there) as the questions name their gold page."""

from __future__ import annotations

from tests.bench_modules import load_bench


def test_the_benchmark_reads_the_folders_the_questions_come_from() -> None:
    bench = load_bench("handbook_answers", "handbook_answers.py")
    make_sets = load_bench("make_sets", "make_sets.py")
    assert bench.FOLDERS == make_sets.HANDBOOKS
    assert bench.QUESTIONS == make_sets.QUESTIONS


def test_a_cited_page_is_named_relative_to_the_shared_data() -> None:
    bench = load_bench("handbook_answers", "handbook_answers.py")
    source = str(bench.DATA / "clef-handbook")
    assert (
        bench._relative(source, "Benefits and Perks/Holiday List.md")
        == "clef-handbook/Benefits and Perks/Holiday List.md"
    )
    assert bench._relative("/elsewhere", "Holiday List.md") == "Holiday List.md"
