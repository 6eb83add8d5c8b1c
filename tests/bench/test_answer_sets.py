"""The answer benchmark's own logic: answer keys, outcomes, the question sets and their splits.

Benchmarks are never run by the suite; these check the pure pieces bench/answers.py relies on, and
that the committed question sets load against the documents in ../shared/data.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.bench_modules import BENCH, load_bench

DATA = BENCH.parents[1] / "shared" / "data"


keys = load_bench("answer_keys", "answer_keys.py")
sets = load_bench("answer_sets", "answer_sets.py")
splits = load_bench("bench_splits", "sets/splits.py")


def num(value: float, tol: float, unit: str = "") -> dict[str, object]:
    return {"kind": "number", "value": value, "tol": tol, **({"unit": unit} if unit else {})}


@pytest.mark.parametrize(
    "answer",
    ["Capital expenditure was $1,577 million [1].", "Purchases of PP&E (1,577)", "about $1.58 billion", "1.577bn"],
)
def test_money_matches_in_any_written_unit(answer: str) -> None:
    assert keys.facts_match([num(1577, 0.5, "USD millions")], answer)


@pytest.mark.parametrize("answer", ["$1,377 million", "about $2 billion", "In 2018 the company spent more", ""])
def test_money_rejects_other_amounts_and_years(answer: str) -> None:
    assert not keys.facts_match([num(1577, 0.5, "USD millions")], answer)


def test_a_figure_in_a_table_of_thousands_answers_millions() -> None:
    assert keys.facts_match([num(382, 0.5, "USD millions")], "Net cash provided by operating activities 381,603")


def test_a_year_is_not_a_figure_but_a_comma_amount_is() -> None:
    key = num(2018, 0.5, "USD millions")
    assert not keys.facts_match([key], "Adjusted EBITDA rose in fiscal 2018.")
    assert keys.facts_match([key], "Adjusted EBITDA was $2,018 million.")


def test_percent_and_ratios_compare_as_written_with_rounding() -> None:
    assert keys.facts_match([num(30.8, 0.05, "%")], "Revenue grew 30.8% year over year.")
    assert keys.facts_match([num(0.62, 0.01, "%")], "an effective tax rate of (0.6)%")
    assert not keys.facts_match([num(30.8, 0.05, "%")], "Revenue grew 38% year over year.")
    assert keys.facts_match([num(24.26, 0.01)], "The ratio is 24.26.")
    assert not keys.facts_match([num(24.26, 0.01)], "The ratio is 21.4.")


def test_every_key_must_match() -> None:
    both = [num(24.6, 0.05, "%"), num(21.6, 0.05, "%")]
    assert keys.facts_match(both, "The rate fell from 24.6% to 21.6%.")
    assert not keys.facts_match(both, "The rate was 21.6%.")
    assert not keys.facts_match([], "anything")


@pytest.mark.parametrize(
    "answer", ["on 12/12/2007 at 1929", "December 12, 2007", "12 December 2007", "2007-12-12", "Dec. 12th, 2007"]
)
def test_dates_in_common_spellings(answer: str) -> None:
    assert keys.facts_match([{"kind": "date", "value": "2007-12-12"}], answer)


def test_dates_do_not_match_another_day() -> None:
    assert not keys.facts_match([{"kind": "date", "value": "2007-12-12"}], "Date & Time: 12/08/2007, 1430 CST")


def test_polarity_reads_the_first_sentence() -> None:
    yes, no = {"kind": "polarity", "value": "yes"}, {"kind": "polarity", "value": "no"}
    assert keys.facts_match([yes], "Yes. The pilot continued to Pontiac [1].")
    assert keys.facts_match([no], "No, it is a single-arm study. Yes votes were not taken.")
    assert keys.facts_match([no], "The study does not have a control group.")
    assert not keys.facts_match([yes], "The pilot continued the 31-minute flight.")


def test_phrases_ignore_case_accents_and_punctuation_and_count_alternatives() -> None:
    key = {"kind": "phrases", "phrases": ["Hernandez Blanco"], "min": 1}
    assert keys.facts_match([key], "Principal Investigator: Javier HERNÁNDEZ-Blanco")
    three = {"kind": "phrases", "phrases": ["TURBT|bladder tumour", "TURP", "TUEP|enucleation"], "min": 2}
    assert keys.facts_match([three], "patients after bladder tumour resection or prostate enucleation")
    assert not keys.facts_match([three], "patients after a TURBT")
    stem = {"kind": "phrases", "phrases": ["improv"], "min": 1}  # from a word start: stems work
    assert keys.facts_match([stem], "the ratio improved") and not keys.facts_match([stem], "unimproved")


def test_unknown_key_kind_is_an_error_naming_the_kinds() -> None:
    with pytest.raises(ValueError, match="number, date, polarity or phrases"):
        keys.match_key({"kind": "regex"}, "x")


ENTITIES = {"3M_2018_10K.pdf": "3M", "BOEING_2018_10K.pdf": "Boeing", "AMAZON_2019_10K.pdf": "Amazon"}


def question(**kw: object) -> object:
    base = {
        "id": "q",
        "text": "?",
        "answerable": True,
        "answer": "",
        "keys": [num(1577, 0.5, "USD millions")],
        "gold_docs": {"3M_2018_10K.pdf"},
        "org": "3M",
        "type": "figure",
        "split": "dev",
    }
    return sets.FileQuestion(**{**base, **kw})


def test_outcome_correct_needs_the_fact_and_an_own_organisation_citation() -> None:
    q = question()
    ok = sets.score(q, "$1,577 million [1]", False, ["3M_2018_10K.pdf"], ENTITIES)
    assert ok["outcome"] == "correct" and ok["cited_gold"] and not ok["cited_other_org"]
    borrowed = sets.score(q, "$1,577 million [1]", False, ["BOEING_2018_10K.pdf"], ENTITIES)
    assert borrowed["outcome"] == "wrong" and borrowed["fact"] and borrowed["cited_other_org"]
    assert sets.score(q, "I couldn't find this.", True, ["3M_2018_10K.pdf"], ENTITIES)["outcome"] == "refused"


def test_a_later_filing_of_the_same_company_counts_as_its_own_organisation() -> None:
    q = question(org="Amazon", gold_docs={"AMAZON_2017_10K.pdf"})
    rec = sets.score(q, "$1,577 million", False, ["AMAZON_2019_10K.pdf"], ENTITIES)
    assert rec["outcome"] == "correct" and not rec["cited_gold"]


def test_unanswerable_questions_are_right_only_when_abstained() -> None:
    q = question(answerable=False, keys=[], gold_docs=set(), org="Apple")
    assert sets.score(q, "", True, [], ENTITIES)["outcome"] == "correct"
    answered = sets.score(q, "Revenue was $383 billion [1]", False, ["3M_2018_10K.pdf"], ENTITIES)
    assert answered["outcome"] == "wrong" and answered["cited_other_org"]


def test_summary_reports_outcomes_and_rates_separately() -> None:
    q = question()
    recs = [
        {
            **sets.score(q, "$1,577 million", False, ["3M_2018_10K.pdf"], ENTITIES),
            "answerable": True,
            "type": "figure",
            "seconds": 1.0,
        },
        {
            **sets.score(q, "$9 million", False, ["BOEING_2018_10K.pdf"], ENTITIES),
            "answerable": True,
            "type": "figure",
            "seconds": 2.0,
        },
        {**sets.score(q, "", True, [], ENTITIES), "answerable": True, "type": "figure", "seconds": 3.0},
        {
            **sets.score(question(answerable=False, keys=[], org="Apple"), "", True, [], ENTITIES),
            "answerable": False,
            "type": "figure",
            "seconds": 4.0,
        },
    ]
    s = sets.summarise(recs)
    assert (s["correct"], s["wrong"], s["refused"]) == (1, 1, 1)
    assert s["right_doc_of_answered"] == 0.5 and s["right_doc_of_answerable"] == 0.333
    assert s["other_org_cited"] == 0.5 and s["false_abstention"] == 0.333 and s["abstain_unanswerable"] == 1.0
    assert s["s_per_answer_p50"] == 2.5


def test_profile_fields_compare_organisations_by_containment() -> None:
    gold = {
        "organizations": ["3M", "3M Company"],
        "doc_type": "10-K",
        "doc_type_aliases": ["annual report"],
        "fiscal_year": 2018,
        "period_end": "2018-12-31",
        "date": None,
    }
    got = keys.profile_fields(
        {"organizations": ["3M Co"], "doc_type": "Annual Report", "fiscal_year": 2018, "period_end": "2018-12-31"},
        gold,
    )
    assert got == {"organization": True, "doc_type": True, "fiscal_year": True, "period_end": True, "date": None}
    assert keys.profile_fields({"organizations": ["Boeing"], "doc_type": "10-Q"}, gold)["organization"] is False


needs_data = pytest.mark.skipif(not (DATA / "financebench-dev").is_dir(), reason="../shared/data is not here")


@needs_data
def test_the_committed_sets_load_against_their_documents() -> None:
    fb, md = sets.load_financebench(), sets.load_multidoc()
    assert len(fb.questions) == 62 and len(fb.files()) == 30
    assert sum(q.answerable for q in md.questions) >= 60 and sum(not q.answerable for q in md.questions) >= 20
    for fs in (fb, md):
        assert set(fs.profiles) == {p.name for p in fs.files()}
        assert all(fs.entity_of[g] == q.org for q in fs.questions for g in q.gold_docs)


@needs_data
def test_splits_are_about_half_per_type_and_stable() -> None:
    for fs in (sets.load_financebench(), sets.load_multidoc()):
        by_type = Counter((q.answerable, q.type, q.split) for q in fs.questions)
        for answerable, kind in {(q.answerable, q.type) for q in fs.questions}:
            dev, test = by_type[(answerable, kind, "dev")], by_type[(answerable, kind, "test")]
            assert abs(dev - test) <= 1, (fs.name, kind)
        rows = [{"id": q.id, "type": q.type, "answerable": q.answerable} for q in fs.questions]
        again = splits.assign(json.loads(json.dumps(rows)))
        assert [r["split"] for r in again] == [q.split for q in fs.questions]


def test_a_malformed_set_names_the_file_and_the_question(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    q = question(split="train")
    with pytest.raises(sets.SetError, match=r"set.jsonl: question q: split must be dev or test"):
        sets._check(path, q, {"3M_2018_10K.pdf"})
    with pytest.raises(sets.SetError, match=r"gold_docs \['3M_2018_10K.pdf'\] are not files"):
        sets._check(path, question(), set())
