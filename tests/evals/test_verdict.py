"""The reality check's verdict rules: each fires on the measurements it states, and only then."""

from __future__ import annotations

from dataclasses import replace

import pytest

from docket.evals.verdict import RULES, Measurements, rule_table, verdict

# A middling run: a model, Docket ahead by 5 points, a few failures of mixed causes.
PLAIN = Measurements(
    items=40,
    model_alone=0.55,
    docket=0.60,
    failures={"not_in_kb": 2, "retrieval_missed": 3, "model": 2, "ambiguous": 2},
    in_kb=36,
    missed=3,
    documents=120,
    stable_share=0.5,
    validated_items=40,
)


def fired(m: Measurements) -> list[str]:
    return verdict(m).rules_fired


def test_a_middling_run_fires_only_the_accuracy_rule() -> None:
    assert fired(PLAIN) == ["accuracy"]
    text = verdict(PLAIN).text
    assert "about accuracy" in text and "does not support fine-tuning" in text


def test_no_model_says_the_model_alone_was_not_measured() -> None:
    m = replace(PLAIN, model_alone=None, model_given=False)
    v = verdict(m)
    assert "no_model" in v.rules_fired
    assert any("--model" in s for s in v.next_steps)
    assert "no model was measured" in v.text
    assert "no_model" not in fired(PLAIN)


@pytest.mark.parametrize(
    ("alone", "docket", "fires"),
    [(0.85, 0.88, True), (0.85, 0.90, False), (0.79, 0.80, False), (0.80, 0.80, True)],
)
def test_the_model_alone_does_the_job_when_accurate_and_retrieval_adds_little(
    alone: float, docket: float, fires: bool
) -> None:
    assert ("model_alone_enough" in fired(replace(PLAIN, model_alone=alone, docket=docket))) is fires


@pytest.mark.parametrize(("alone", "docket", "fires"), [(0.40, 0.50, True), (0.40, 0.49, False), (None, 0.9, False)])
def test_retrieval_is_worth_it_from_ten_points_over_the_model_alone(
    alone: float | None, docket: float, fires: bool
) -> None:
    m = replace(PLAIN, model_alone=alone, docket=docket)
    assert ("retrieval_worth_it" in fired(m)) is fires
    if fires:
        assert "worth it" in verdict(m).text


def test_mostly_missing_documents_lists_the_topics_to_write() -> None:
    m = replace(
        PLAIN,
        failures={"not_in_kb": 6, "model": 4},
        missing_topics=("Travel and Expenses (asked: “mileage?”)", "IT Equipment"),
    )
    v = verdict(m)
    assert "write_documents" in v.rules_fired
    assert any("Travel and Expenses" in s and "IT Equipment" in s for s in v.next_steps)
    assert "write_documents" not in fired(replace(m, failures={"not_in_kb": 4, "model": 6}))
    assert "write_documents" not in fired(replace(m, failures={}))


def test_retrieval_misses_recommend_the_best_variant() -> None:
    m = replace(PLAIN, in_kb=10, missed=3, best_variant="keyword", best_variant_gain=0.1)
    v = verdict(m)
    assert "retrieval_settings" in v.rules_fired
    assert any("'keyword'" in s and "+10 points" in s for s in v.next_steps)
    assert "retrieval_settings" not in fired(replace(m, missed=2))
    # no variant did better: say so instead of recommending one
    steps = verdict(replace(m, best_variant_gain=0.01)).next_steps
    assert any("No variant tried did better" in s for s in steps)


def test_a_variant_five_points_better_is_recommended_with_its_setting() -> None:
    m = replace(PLAIN, best_variant="chunks:512", best_variant_gain=0.05, best_variant_setting="[chunking] x = 1")
    v = verdict(m)
    assert "better_variant" in v.rules_fired and "'chunks:512' did better" in v.text
    assert v.next_steps == [
        "Try the settings of the variant 'chunks:512' (+5 points accuracy over the baseline): [chunking] x = 1."
    ]
    assert "better_variant" not in fired(replace(m, best_variant_gain=0.04))
    # retrieval misses and a better variant give the same advice once
    both = verdict(replace(m, in_kb=10, missed=5))
    assert {"better_variant", "retrieval_settings"} <= set(both.rules_fired) and len(both.next_steps) == 1


def test_a_small_set_warns_that_small_differences_are_noise() -> None:
    v = verdict(replace(PLAIN, items=13))
    assert "small_set" in v.rules_fired and "each one moves accuracy by 8 points" in v.text
    assert "small_set" not in fired(replace(PLAIN, items=30))


def test_the_model_misreads_when_the_right_source_was_retrieved() -> None:
    m = replace(PLAIN, failures={"model": 3, "retrieval_missed": 7})
    assert "model_misreads" in fired(m)
    assert "model_misreads" not in fired(replace(m, failures={"model": 2, "retrieval_missed": 8}))
    assert "model_misreads" not in fired(replace(m, model_given=False, model_alone=None))


def test_errors_about_access_and_workflow_versus_accuracy() -> None:
    access = replace(PLAIN, failures={"not_in_kb": 2, "model": 3, "retrieval_missed": 1}, restricted_failures=1)
    assert "access_workflow" in fired(access) and "accuracy" not in fired(access)
    assert "not about accuracy" not in verdict(access).text and "access and workflow" in verdict(access).text
    accuracy = replace(access, restricted_failures=0)
    assert "accuracy" in fired(accuracy) and "access_workflow" not in fired(accuracy)
    none = replace(PLAIN, failures={})
    assert not {"accuracy", "access_workflow"} & set(fired(none))
    assert "No question failed." in verdict(none).text


def test_fine_tuning_only_when_every_condition_holds() -> None:
    strong = replace(
        PLAIN,
        items=100,
        failures={"model": 20, "retrieval_missed": 2},
        documents=5000,
        stable_share=0.9,
        validated_items=100,
        best_variant_gain=0.0,
    )
    v = verdict(strong)
    assert "fine_tuning" in v.rules_fired and "does not support" not in v.text
    for weaker, reason in (
        (replace(strong, documents=200), "the knowledge base is small"),
        (replace(strong, stable_share=0.3), "not stable"),
        (replace(strong, validated_items=10), "not validated"),
        (replace(strong, failures={"model": 5, "retrieval_missed": 2}), "few errors remain"),
        (replace(strong, best_variant="top-k:3", best_variant_gain=0.05), "a setting already does better"),
        (replace(strong, model_given=False, model_alone=None), "no model was measured"),
    ):
        v = verdict(weaker)
        assert "fine_tuning" not in v.rules_fired
        assert "The evidence does not support fine-tuning" in v.text and reason in v.text


def test_every_rule_is_stated_for_the_report() -> None:
    table = rule_table(PLAIN)
    assert [r[0] for r in table] == [r.id for r in RULES]
    assert all(statement for _, statement, _ in table)
    assert [rid for rid, _, on in table if on] == fired(PLAIN)


def test_the_docs_state_every_rule_exactly() -> None:
    from docket.evals.check import CAUSE_RULES
    from tests.conftest import REPO

    text = (REPO / "docs" / "evals.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"- `{rule.id}`: {rule.statement}" in text, rule.id
    for cause, statement in CAUSE_RULES:
        assert f"(`{cause}`) | {statement}" in text, cause
