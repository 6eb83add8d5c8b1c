"""The reality check's verdict: plain-language conclusions drawn by fixed rules from the measurements.

No model is asked for its opinion. Each rule in :data:`RULES` has an id, the sentence the report
prints (with its threshold) and a test over :class:`Measurements`; :func:`verdict` runs them all
and writes the text and next steps of the rules that fired. The thresholds are module constants,
so the report, the docs and the tests state the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["CAUSES", "RULES", "Measurements", "Rule", "Verdict", "verdict"]

# Failure causes, in the order a failed question is tested against them (see docket.evals.check).
CAUSES = {
    "not_in_kb": "the source isn't in the knowledge base",
    "retrieval_missed": "retrieval missed the source",
    "ambiguous": "the question is ambiguous",
    "model": "the model ignored or misread the source",
    "unknown": "no source named, so the cause can't be told",
}

MODEL_ALONE_ENOUGH = 0.8  # accuracy of the model alone that already "does the job"...
SMALL_GAIN = 0.05  # ...when retrieval adds less than this
WORTH_IT_GAIN = 0.10  # retrieval + model beats the model alone by at least this
MOSTLY = 0.5  # share of the failures that makes a cause "most" of them
RETRIEVAL_MISSED = 0.30  # share of questions (with their source indexed) whose source was not retrieved
MODEL_MISREADS = 0.30  # share of the failures where the right source was retrieved and the answer still wrong
BETTER_VARIANT = 0.02  # a variant must beat the baseline by this to be recommended when retrieval misses
SETTINGS_GAIN = 0.05  # a variant beating the baseline by this is recommended whatever the cause
SMALL_SET = 30  # fewer questions than this: one question moves accuracy by more than 3 points
# fine-tuning: every one of these must hold
LARGE_DATA_DOCUMENTS = 1000
STABLE_SHARE = 0.8  # share of documents unchanged for 90 days
VALIDATED_ITEMS = 50  # questions written by people (not generated)
PERSISTENT_ERRORS = 0.15  # share of the questions wrong although their source was retrieved


@dataclass(frozen=True)
class Measurements:
    """What the reality check measured, reduced to the figures the rules read.

    Accuracies are shares of the scored questions (0..1); None when not measured (no model: the
    model alone cannot run). ``failures`` counts the baseline's failed questions by cause (keys of
    :data:`CAUSES`); ``in_kb`` is the number of questions whose source is indexed.
    """

    items: int
    model_alone: float | None = None
    docket: float | None = None
    docket_label: str = "Docket"
    failures: Mapping[str, int] = field(default_factory=dict)
    in_kb: int = 0
    missed: int = 0  # of those, questions whose source was not among the top k results
    missing_topics: tuple[str, ...] = ()
    restricted_failures: int = 0  # failures whose source is an access-restricted document
    best_variant: str | None = None
    best_variant_gain: float = 0.0  # accuracy (or recall without a model) over the baseline
    best_variant_metric: str = "accuracy"
    best_variant_setting: str | None = None  # the setting to change for it, e.g. search.mode = "keyword"
    documents: int = 0
    stable_share: float | None = None
    validated_items: int = 0
    model_given: bool = True

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def share(self, cause: str) -> float:
        return self.failures.get(cause, 0) / self.failed if self.failed else 0.0

    @property
    def retrieval_missed_rate(self) -> float:
        return self.missed / self.in_kb if self.in_kb else 0.0

    @property
    def access_workflow(self) -> int:
        """Failures no better model fixes: the answer isn't written down in what Docket may read."""
        return self.failures.get("not_in_kb", 0) + self.restricted_failures


@dataclass(frozen=True)
class Verdict:
    text: str
    rules_fired: list[str]
    next_steps: list[str]

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "rules_fired": list(self.rules_fired), "next_steps": list(self.next_steps)}


@dataclass(frozen=True)
class Rule:
    id: str
    statement: str  # the rule as the report and docs state it
    fires: Callable[[Measurements], bool]
    says: Callable[[Measurements], str]
    steps: Callable[[Measurements], list[str]] = lambda m: []


def _pts(x: float) -> str:
    return f"{x * 100:+.0f} points"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.0f}%"


def _gain(m: Measurements) -> float | None:
    if m.model_alone is None or m.docket is None:
        return None
    return round(m.docket - m.model_alone, 6)  # 0.5 - 0.4 is 10 points, not 9.99...


def _fine_tuning_missing(m: Measurements) -> list[str]:
    missing = []
    if m.documents < LARGE_DATA_DOCUMENTS:
        missing.append(f"the knowledge base is small ({m.documents} documents, fewer than {LARGE_DATA_DOCUMENTS})")
    if m.stable_share is None or m.stable_share < STABLE_SHARE:
        missing.append(
            f"the documents are not stable ({_pct(m.stable_share)} unchanged for 90 days, under {_pct(STABLE_SHARE)})"
        )
    if m.validated_items < VALIDATED_ITEMS:
        missing.append(
            f"the use case is not validated ({m.validated_items} questions written by people, "
            f"fewer than {VALIDATED_ITEMS})"
        )
    persistent = m.failures.get("model", 0) / m.items if m.items else 0.0
    if not m.model_given:
        missing.append("no model was measured")
    elif persistent < PERSISTENT_ERRORS:
        missing.append(
            f"few errors remain with the right source retrieved ({_pct(persistent)} of the questions, "
            f"under {_pct(PERSISTENT_ERRORS)})"
        )
    if m.model_given and m.best_variant and m.best_variant_gain >= BETTER_VARIANT:
        missing.append(f"a setting already does better (the variant '{m.best_variant}', {_pts(m.best_variant_gain)})")
    return missing


def _try_variant(m: Measurements) -> str:
    setting = f": {m.best_variant_setting}" if m.best_variant_setting else ""
    return (
        f"Try the settings of the variant '{m.best_variant}' ({_pts(m.best_variant_gain)} {m.best_variant_metric} "
        f"over the baseline){setting}."
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "no_model",
        "No model given → the model alone cannot be measured; Docket answers extractively and only "
        "retrieval and extractive answers are compared.",
        lambda m: not m.model_given,
        lambda m: (
            "No model was given, so the model alone was not measured; the comparison covers "
            "retrieval and Docket's extractive answers."
        ),
        lambda m: ["Run `docket check` again with --model SPEC to compare against the model alone."],
    ),
    Rule(
        "model_alone_enough",
        f"Model alone ≥ {_pct(MODEL_ALONE_ENOUGH)} accurate and retrieval adds < {SMALL_GAIN * 100:.0f} points "
        "→ the model alone does the job on this set.",
        lambda m: m.model_alone is not None and m.model_alone >= MODEL_ALONE_ENOUGH and (_gain(m) or 0.0) < SMALL_GAIN,
        lambda m: (
            f"The model alone already answers {_pct(m.model_alone)} correctly and Docket's retrieval adds "
            f"{_pts(_gain(m) or 0.0)}: on these questions the model alone does the job. Docket still gives "
            "citations and follows your documents when they change."
        ),
        lambda m: ["Test with questions only your documents can answer (prices, policies, names) before deciding."],
    ),
    Rule(
        "retrieval_worth_it",
        f"Retrieval + model beats the model alone by ≥ {WORTH_IT_GAIN * 100:.0f} points → Docket's retrieval "
        "is worth it.",
        lambda m: (_gain(m) or 0.0) >= WORTH_IT_GAIN,
        lambda m: (
            f"{m.docket_label} answers {_pct(m.docket)} correctly against {_pct(m.model_alone)} for the "
            f"model alone ({_pts(_gain(m) or 0.0)}): Docket's retrieval is worth it."
        ),
    ),
    Rule(
        "write_documents",
        f"At least {_pct(MOSTLY)} of the failures are 'the source isn't in the knowledge base' → write or add "
        "documents on those topics (listed).",
        lambda m: m.failed > 0 and m.share("not_in_kb") >= MOSTLY,
        lambda m: (
            f"{m.failures.get('not_in_kb', 0)} of {m.failed} failures ask about documents the "
            "knowledge base does not hold."
        ),
        lambda m: [
            "Add documents on these topics: " + "; ".join(m.missing_topics[:10])
            if m.missing_topics
            else "Add the documents these questions need."
        ],
    ),
    Rule(
        "retrieval_settings",
        f"Retrieval missed the source for ≥ {_pct(RETRIEVAL_MISSED)} of the questions whose source is indexed → "
        f"try the best variant's settings (when it beats the baseline by ≥ {BETTER_VARIANT * 100:.0f} points).",
        lambda m: m.in_kb > 0 and m.retrieval_missed_rate >= RETRIEVAL_MISSED,
        lambda m: (
            f"Retrieval missed the source for {_pct(m.retrieval_missed_rate)} of the questions whose source is indexed."
        ),
        lambda m: [
            _try_variant(m)
            if m.best_variant and m.best_variant_gain >= BETTER_VARIANT
            else "No variant tried did better: give documents clearer titles and headings, use the words "
            "people ask with, or try other variants (--variants)."
        ],
    ),
    Rule(
        "better_variant",
        f"A variant beats the baseline by ≥ {SETTINGS_GAIN * 100:.0f} points → change these settings (the best "
        "variant's).",
        lambda m: m.best_variant is not None and m.best_variant_gain >= SETTINGS_GAIN,
        lambda m: (
            f"The variant '{m.best_variant}' did better than the baseline ({_pts(m.best_variant_gain)} "
            f"{m.best_variant_metric})."
        ),
        lambda m: [_try_variant(m)],
    ),
    Rule(
        "model_misreads",
        f"A model was given and at least {_pct(MODEL_MISREADS)} of the failures are 'the model ignored or misread "
        "the source' → try a stronger model, or fewer passages per answer.",
        lambda m: m.model_given and m.failed > 0 and m.share("model") >= MODEL_MISREADS,
        lambda m: (
            f"In {m.failures.get('model', 0)} of {m.failed} failures the right source was retrieved and "
            "the answer was still wrong or missing."
        ),
        lambda m: ["Try a stronger model, or fewer passages per answer (a top-k variant), and read those answers."],
    ),
    Rule(
        "access_workflow",
        f"At least {_pct(MOSTLY)} of the failures are sources missing from the knowledge base, or abstentions on "
        "questions whose source is an access-restricted document → the remaining errors are about access and "
        "workflow, not accuracy.",
        lambda m: m.failed > 0 and m.access_workflow / m.failed >= MOSTLY,
        lambda m: (
            f"{m.access_workflow} of {m.failed} remaining errors are about access and workflow: the answer "
            "is not in documents Docket can read. A better model or other settings will not fix them."
        ),
        lambda m: ["Decide who writes and owns these documents, and who may read them."],
    ),
    Rule(
        "accuracy",
        f"Failures remain and under {_pct(MOSTLY)} of them are about access and workflow → the remaining errors "
        "are about accuracy.",
        lambda m: m.failed > 0 and m.access_workflow / m.failed < MOSTLY,
        lambda m: (
            f"{m.failed - m.access_workflow} of {m.failed} remaining errors are about accuracy: the answer "
            "is in the documents but was not found or not used."
        ),
    ),
    Rule(
        "fine_tuning",
        f"Fine-tuning is worth considering only if all hold: ≥ {LARGE_DATA_DOCUMENTS} documents, ≥ "
        f"{_pct(STABLE_SHARE)} unchanged for 90 days, ≥ {VALIDATED_ITEMS} questions written by people, and "
        f"≥ {_pct(PERSISTENT_ERRORS)} of the questions wrong with the right source retrieved, with no variant "
        f"gaining ≥ {BETTER_VARIANT * 100:.0f} points. Otherwise the report says the evidence does not support it.",
        lambda m: not _fine_tuning_missing(m),
        lambda m: (
            "Fine-tuning may be worth considering: the data is large and stable, the use case is validated, "
            "and errors persist with the right source retrieved."
        ),
        lambda m: ["Consider fine-tuning on the validated questions, and keep this check as its benchmark."],
    ),
    Rule(
        "small_set",
        f"Fewer than {SMALL_SET} questions → each question moves accuracy by more than "
        f"{100 / SMALL_SET:.0f} points: treat differences of a question or two as noise.",
        lambda m: 0 < m.items < SMALL_SET,
        lambda m: (
            f"With {m.items} questions each one moves accuracy by {100 / m.items:.0f} points: treat "
            "differences of a question or two as noise."
        ),
        lambda m: [f"Add questions (at least {SMALL_SET}, ideally real ones) before acting on small differences."],
    ),
)


def verdict(m: Measurements) -> Verdict:
    """Run every rule; the verdict's text is the sentences of the rules that fired, in order."""
    fired = [rule for rule in RULES if rule.fires(m)]
    sentences = [rule.says(m) for rule in fired]
    steps = list(dict.fromkeys(step for rule in fired for step in rule.steps(m)))  # two rules may advise the same
    if m.failed == 0 and m.items:
        sentences.append("No question failed.")
    if not any(rule.id == "fine_tuning" for rule in fired):
        sentences.append("The evidence does not support fine-tuning: " + "; ".join(_fine_tuning_missing(m)) + ".")
    return Verdict(" ".join(sentences), [rule.id for rule in fired], steps)


def rule_table(m: Measurements) -> list[tuple[str, str, bool]]:
    """(id, statement, fired) for every rule, for the report."""
    return [(rule.id, rule.statement, rule.fires(m)) for rule in RULES]
