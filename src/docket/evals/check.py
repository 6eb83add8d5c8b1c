"""The reality check (``docket check``): is Docket worth it on these questions, and what next?

One test set runs through several *variants*, each scored by :func:`docket.evals.runner.run_eval`:

- ``model-alone``: the model with no documents — :func:`model_alone_prompt` is exactly what it is
  sent; its answers have no citations. Needs a model (it is listed as not run without one).
- ``docket``: Docket as configured (retrieval + the model; extractive answers without a model).
- ``hybrid`` / ``keyword`` / ``semantic``: the same with another search mode.
- ``rerank``: reranking the hits — listed as not available: Docket has no reranker yet.
- ``chunks:N``: the documents re-chunked at N tokens, in a temporary knowledge base built by
  ingesting the same sources (under the output folder, removed afterwards).
- ``top-k:N``: N passages per answer (``answer.top_k``).

The baseline's failed questions are then sorted by cause (:func:`failure_cause`, rules in
:data:`CAUSE_RULES`) and :func:`docket.evals.verdict.verdict` turns the measurements into the
verdict. The questions asked here are not written to the knowledge base's answer log, so a
check never shows up as knowledge gaps or usage.

The variants and how each answers are in :mod:`docket.evals.variants`; the causes of failures in
:mod:`docket.evals.causes`. This module runs them and gathers the result.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from docket.evals.causes import CAUSE_RULES, Failure, failure_cause, failures_of
from docket.evals.datasets import TestSet
from docket.evals.results import EvalReport
from docket.evals.runner import run_eval
from docket.evals.variants import (
    BASELINE,
    DEFAULT_VARIANTS,
    LARGE_INDEX,
    MODEL_ALONE,
    MODEL_ALONE_SYSTEM,
    ModelAlone,
    UnloggedStore,
    Variant,
    VariantResult,
    figures,
    kb_view,
    model_alone_prompt,
    parse_variants,
    rechunked_kb,
    settings_for,
    variant_setting,
)
from docket.evals.verdict import CAUSES, Measurements, Verdict, verdict
from docket.types import Document

if TYPE_CHECKING:
    from docket.kb import KnowledgeBase
    from docket.protocols import ChatModel

__all__ = [
    "CAUSE_RULES",
    "DEFAULT_VARIANTS",
    "MODEL_ALONE_SYSTEM",
    "CheckResult",
    "Failure",
    "Variant",
    "VariantResult",
    "failure_cause",
    "model_alone_prompt",
    "parse_variants",
    "run_check",
]


# ---------------------------------------------------------------------------------------- the check
@dataclass
class CheckResult:
    """Everything the report shows."""

    test_set: TestSet
    model: str | None
    k: int
    results: list[VariantResult]
    failures: list[Failure]
    measurements: Measurements
    verdict: Verdict
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def result(self, name: str) -> VariantResult | None:
        return next((r for r in self.results if r.variant.name == name), None)

    def causes(self) -> dict[str, int]:
        counts = dict.fromkeys(CAUSES, 0)
        for f in self.failures:
            counts[f.cause] += 1
        return counts

    def calibration(self) -> list[dict[str, Any]]:
        """The baseline's answer rate against accuracy at each abstention threshold (extractive
        answers only: :func:`docket.evals.runner.calibration`)."""
        base = self.result("docket")
        return list(base.report.calibration) if base is not None and base.report is not None else []

    def summary(self, report_path: Path | None = None) -> dict[str, Any]:
        """The JSON contract of ``docket check --json``."""
        return {
            "report": None if report_path is None else str(report_path),
            "set": self.test_set.name,
            "questions": len(self.test_set.items),
            "model": self.model,
            "k": self.k,
            "variants": [r.summary() for r in self.results],
            "failures": self.causes(),
            "verdict": self.verdict.text,
            "rules_fired": list(self.verdict.rules_fired),
            "next_steps": list(self.verdict.next_steps),
            "notes": list(self.notes),
            "calibration": self.calibration(),
        }


def _comparable(base: VariantResult, other: VariantResult) -> tuple[str, float] | None:
    """(metric, gain) of ``other`` over ``base``: accuracy when both have one, else recall@10."""
    a, b = base.figures.get("accuracy"), other.figures.get("accuracy")
    if a is not None and b is not None:
        return "accuracy", b - a
    ra, rb = base.figures.get("retrieval") or {}, other.figures.get("retrieval") or {}
    if ra.get("recall@10") is not None and rb.get("recall@10") is not None:
        return "recall@10", rb["recall@10"] - ra["recall@10"]
    return None


def _missing_topics(failures: Sequence[Failure]) -> tuple[str, ...]:
    """The documents the 'not in the knowledge base' failures name, each with the questions asked."""
    topics: dict[str, list[str]] = {}
    for f in failures:
        if f.cause != "not_in_kb":
            continue
        names = [re.sub(r"\.[A-Za-z0-9]{1,5}$", "", s.path.rsplit("/", 1)[-1]) for s in f.item.sources]
        topics.setdefault(", ".join(names) or f.item.question, []).append(f"“{f.item.question}”")
    return tuple(f"{topic} (asked: {', '.join(asked)})" for topic, asked in topics.items())


def measurements(
    test_set: TestSet, results: Sequence[VariantResult], failures: Sequence[Failure], documents: Sequence[Document]
) -> Measurements:
    """Reduce the run to the figures the verdict rules read."""
    by_name = {r.variant.name: r for r in results}
    alone, base = by_name.get("model-alone"), by_name["docket"]
    best: tuple[Variant, float, str] | None = None
    for r in results:
        if r.status != "ran" or r.variant.kind in ("model-alone", "docket"):
            continue
        compared = _comparable(base, r)
        if compared is not None and (best is None or compared[1] > best[1]):
            best = (r.variant, round(compared[1], 6), compared[0])
    causes = dict(Counter(f.cause for f in failures))
    now = time.time()
    stable = sum(1 for d in documents if now - d.mtime >= 90 * 86400)
    in_kb = [r for r in (base.report.items if base.report else []) if r.sources_in_kb and not r.item.unanswerable]
    return Measurements(
        items=len(test_set.items),
        model_alone=alone.figures.get("accuracy") if alone is not None and alone.status == "ran" else None,
        docket=base.figures.get("accuracy"),
        docket_label="Docket (retrieval + model)" if alone is not None and alone.status == "ran" else "Docket",
        failures=causes,
        in_kb=len(in_kb),
        missed=sum(1 for r in in_kb if r.retrieved_relevant is False),
        missing_topics=_missing_topics(failures),
        restricted_failures=sum(1 for f in failures if f.restricted and f.cause != "not_in_kb"),
        best_variant=best[0].name if best else None,
        best_variant_setting=variant_setting(best[0]) if best else None,
        best_variant_gain=best[1] if best else 0.0,
        best_variant_metric=best[2] if best else "accuracy",
        documents=len(documents),
        stable_share=stable / len(documents) if documents else None,
        validated_items=sum(1 for i in test_set.items if not i.generated),
        model_given=alone is not None and alone.status == "ran",
    )


def run_check(
    kb: KnowledgeBase,
    test_set: TestSet,
    *,
    model: str | ChatModel | None = None,
    variants: Sequence[Variant] | None = None,
    k: int = 10,
    workdir: Path | None = None,
    progress: Callable[[str, int, int, str], None] | None = None,
    on_prompt: Callable[[Any], None] | None = None,
) -> CheckResult:
    """Run ``test_set`` through the model alone, Docket, and ``variants`` (default
    :data:`DEFAULT_VARIANTS`); sort the failures by cause and draw the verdict.

    ``model``: a spec or a ChatModel; None uses ``model.name`` when set, else no model (the model
    alone is not run and answers are extractive). ``workdir`` holds the temporary knowledge bases
    of chunk-size variants (a system temporary folder when None). ``progress(variant, done,
    total, question)`` follows the run.
    """
    chosen = list(parse_variants(None) if variants is None else variants)
    chat: ChatModel | None = None
    if model is not None:
        chat = kb.chat_model(model) if isinstance(model, str) else model
    elif kb.settings.model.name:
        chat = kb.chat_model()
    store = UnloggedStore(kb.store)
    base_settings = kb.settings
    documents = list(kb.store.documents())
    chunks = int(kb.store.stats().get("chunks") or 0)
    notes: list[str] = []

    def step(name: str) -> Callable[[int, int, str], None] | None:
        if progress is None:
            return None
        report = progress
        return lambda done, total, text: report(name, done, total, text)

    def evaluate(target: Any, name: str) -> EvalReport:
        return run_eval(
            cast(Any, target), test_set, model=chat, k=k, progress=step(name), label=name, on_prompt=on_prompt
        )

    results: list[VariantResult] = []
    alone = VariantResult(MODEL_ALONE, MODEL_ALONE.describe(base_settings))
    if chat is None:
        alone.status, alone.note = "not run", "no model given: the model alone needs one (--model SPEC)"
    else:
        alone.report = evaluate(ModelAlone(kb, chat, store), MODEL_ALONE.name)
        alone.figures = figures(alone.report, retrieval=False)
    results.append(alone)

    baseline_kb = kb_view(kb, store, base_settings)
    base = VariantResult(BASELINE, BASELINE.describe(base_settings))
    try:
        base.report = base_report = evaluate(baseline_kb, BASELINE.name)
    finally:
        baseline_kb.close()
    base.figures = figures(base_report)
    if chat is None:
        base.note = "no model: extractive answers"
    results.append(base)

    for variant in chosen:
        result = VariantResult(variant, variant.describe(base_settings))
        results.append(result)
        if variant.kind == "rerank":
            result.status, result.note = "not available", "Docket has no reranker yet"
            continue
        if variant.kind == "search" and variant.value == base_settings.search.mode:
            result.status, result.note = "skipped", "the same as the baseline (search.mode)"
            continue
        if variant.kind == "top-k" and variant.value == base_settings.answer.top_k:
            result.status, result.note = "skipped", "the same as the baseline (answer.top_k)"
            continue
        if variant.kind == "chunks":
            tokens = variant.value
            if tokens == "auto":
                if chunks > LARGE_INDEX:
                    result.status = "skipped"
                    result.note = f"{chunks} chunks to re-index; ask for it with --variants chunks:512"
                    continue
                tokens = 512 if base_settings.chunking.max_tokens < 512 else 128
                result.variant = Variant(f"chunks:{tokens}", "chunks", tokens)
                result.description = result.variant.describe(base_settings)
            if tokens == base_settings.chunking.max_tokens:
                result.status, result.note = "skipped", "the same as the baseline (chunking.max_tokens)"
                continue
            if not kb.ledger.sources():
                result.status, result.note = "skipped", "no registered sources to re-chunk"
                continue
            folder = Path(tempfile.mkdtemp(prefix="docket-check-", dir=workdir))
            try:
                if progress is not None:
                    progress(result.variant.name, 0, 0, "re-indexing the documents")
                temp, skipped = rechunked_kb(kb, int(cast(int, tokens)), folder)
                try:
                    result.note = "; ".join(skipped)
                    result.report = evaluate(temp, result.variant.name)
                finally:
                    temp.close()
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            view = kb_view(kb, store, settings_for(base_settings, variant))
            try:
                result.report = evaluate(view, variant.name)
            finally:
                view.close()
        result.figures = figures(result.report)

    failures = failures_of(base_report, documents)
    measured = measurements(test_set, results, failures, documents)
    if base_report.missing_sources:
        notes.append(
            f"{len(base_report.missing_sources)} source(s) named by the test set are not in the knowledge base"
        )
    notes.extend(base_report.not_measured)
    return CheckResult(
        test_set=test_set,
        model=None if chat is None else chat.name,
        k=k,
        results=results,
        failures=failures,
        measurements=measured,
        verdict=verdict(measured),
        settings=dict(base_report.settings),
        notes=notes,
    )
