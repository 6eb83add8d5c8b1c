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
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from docket.answer.extractive import ABSTAIN_TEXT
from docket.errors import UserError
from docket.evals.datasets import EvalItem, SourceRef, TestSet
from docket.evals.metrics import normalize_answer
from docket.evals.runner import EvalReport, ItemResult, path_matches, run_eval, source_matches
from docket.evals.verdict import CAUSES, Measurements, Verdict, verdict
from docket.models.prompts import Prompt
from docket.types import Answer, Document, Hit, Usage

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

MODEL_ALONE_SYSTEM = f"""You answer questions for a business. You are given no documents: answer from what you know.
Answer briefly, in the language of the question. If you do not know the answer, reply exactly: {ABSTAIN_TEXT}"""

# The variants run when --variants is not given (chunks:auto is 512 tokens, or 128 when the
# knowledge base already uses 512 or more; it is skipped on a knowledge base over LARGE_INDEX chunks).
DEFAULT_VARIANTS = ("keyword", "semantic", "rerank", "top-k:3", "chunks:auto")
LARGE_INDEX = 20_000
CLOSE_SCORES = 0.05  # two documents' scores within 5% of each other are "close"
MIN_ANSWER_WORDS = 3  # a reference answer shorter than this is not searched for in passages

CAUSE_RULES = (
    ("not_in_kb", "None of the sources the question names matches an indexed document."),
    ("retrieval_missed", "A source is indexed, but none is among the top k results of the search."),
    (
        "ambiguous",
        "A source was retrieved, but among the two best results a different document scores within "
        f"{CLOSE_SCORES * 100:.0f}% of it, or the reference answer appears word for word in retrieved passages "
        "of two or more documents.",
    ),
    (
        "model",
        "A source was retrieved and the answer is still wrong or an abstention (or an unanswerable question "
        "was answered).",
    ),
    ("unknown", "The question names no source, so retrieval cannot be told apart from the model."),
)


def model_alone_prompt(question: str) -> Prompt:
    """Exactly what the model alone is sent: the question, no sources."""
    return Prompt(system=MODEL_ALONE_SYSTEM, user=f"Question: {question.strip()}")


# ---------------------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class Variant:
    """One way of answering the test set. ``kind``: model-alone, docket, search, rerank, chunks, top-k."""

    name: str
    kind: str
    value: str | int | None = None

    def describe(self, settings: Any) -> str:
        mode, top_k, tokens = settings.search.mode, settings.answer.top_k, settings.chunking.max_tokens
        if self.kind == "model-alone":
            return "The model alone, with no documents: only the question is sent (prompt below)."
        if self.kind == "docket":
            return f"Docket as configured: {mode} search, {top_k} passages per answer, chunks of {tokens} tokens."
        if self.kind == "search":
            what = {
                "hybrid": "keyword and semantic search fused",
                "keyword": "keyword search only (BM25)",
                "semantic": "semantic search only (embeddings)",
            }
            return f"As configured, with {what[str(self.value)]}."
        if self.kind == "rerank":
            return "Reranking the search results with a cross-encoder: not available, Docket has no reranker yet."
        if self.kind == "chunks":
            return f"As configured, with the documents re-chunked at {self.value} tokens (a temporary index)."
        return f"As configured, with {self.value} passages per answer instead of {top_k}."


def _setting(variant: Variant) -> str | None:
    """The docket.toml change that makes Docket answer like ``variant``."""
    if variant.kind == "search":
        return f'[search] mode = "{variant.value}"'
    if variant.kind == "top-k":
        return f"[answer] top_k = {variant.value}"
    if variant.kind == "chunks":
        return (
            f"[chunking] max_tokens = {variant.value}, then index the documents again "
            "(docket sources remove NAME, docket ingest PATH)"
        )
    return None


MODEL_ALONE = Variant("model-alone", "model-alone")
BASELINE = Variant("docket", "docket")


def parse_variants(spec: str | Sequence[str] | None) -> list[Variant]:
    """``keyword,semantic,rerank,chunks:512,top-k:3`` (or a list of such names) as variants;
    None gives :data:`DEFAULT_VARIANTS`. The model alone and the baseline always run."""
    if spec is None:
        names: list[str] = list(DEFAULT_VARIANTS)
    elif isinstance(spec, str):
        names = [n.strip() for n in spec.split(",") if n.strip()]
    else:
        names = [n.strip() for part in spec for n in part.split(",") if n.strip()]
    out: list[Variant] = []
    for name in names:
        key, _, value = name.lower().partition(":")
        variant: Variant | None = None
        if key in ("hybrid", "keyword", "semantic") and not value:
            variant = Variant(key, "search", key)
        elif key in ("rerank", "reranking") and not value:
            variant = Variant("rerank", "rerank")
        elif key in ("chunks", "top-k", "topk") and value:
            kind = "chunks" if key == "chunks" else "top-k"
            if kind == "chunks" and value == "auto":
                variant = Variant("chunks:auto", kind, "auto")
            elif value.isdigit():
                number = int(value)
                low, high = (32, 2048) if kind == "chunks" else (1, 50)
                if not low <= number <= high:
                    raise UserError(f"--variants: {name}: use a number from {low} to {high}")
                variant = Variant(f"{kind}:{number}", kind, number)
        elif key in ("model-alone", "docket"):
            continue  # always run
        if variant is None:
            raise UserError(
                f"--variants: unknown variant '{name}'; use hybrid, keyword, semantic, rerank, chunks:N "
                "(tokens per chunk) or top-k:N (passages per answer), separated by commas"
            )
        if variant not in out:
            out.append(variant)
    return out


@dataclass
class VariantResult:
    """A variant's outcome: ``status`` is ran, not run, not available or skipped (``note`` says why)."""

    variant: Variant
    description: str
    status: str = "ran"
    note: str = ""
    report: EvalReport | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The variant's entry in ``docket check --json``."""
        f = self.figures
        return {
            "name": self.variant.name,
            "status": self.status,
            "description": self.description,
            "note": self.note or None,
            "accuracy": f.get("accuracy"),
            "retrieval": f.get("retrieval"),
            "grounding": f.get("grounding"),
            "abstained": f.get("abstained"),
            "cost": f.get("cost"),
            "tokens": f.get("tokens"),
            "latency_ms": f.get("latency_ms"),
        }


def figures(report: EvalReport, *, retrieval: bool = True) -> dict[str, Any]:
    """The numbers the report compares across variants, from one run's report."""
    scored = [r.correct for r in report.items if r.correct is not None]
    answered = [r.answer for r in report.items if r.answer is not None]
    usages = [a.usage for a in answered if a.usage is not None and a.model]
    costs = [u.cost for u in usages if u.cost is not None]
    return {
        "accuracy": round(sum(scored) / len(scored), 4) if scored else None,
        "scored": len(scored),
        "retrieval": dict(report.metrics["retrieval"]) if retrieval and "retrieval" in report.metrics else None,
        "grounding": report.metrics.get("grounding", {}).get("supported") if answered else None,
        "abstained": round(sum(a.abstained for a in answered) / len(answered), 4) if answered else None,
        "cost": round(sum(costs), 6) if usages and len(costs) == len(usages) else (0.0 if not usages else None),
        "tokens": sum(u.prompt_tokens + u.completion_tokens for u in usages),
        "latency_ms": report.metrics.get("latency_ms"),
    }


# ---------------------------------------------------------------------------------------- failures
@dataclass(frozen=True)
class Failure:
    """A question the baseline got wrong, and why (a key of :data:`~docket.evals.verdict.CAUSES`)."""

    item: EvalItem
    cause: str
    detail: str
    answer: str = ""
    retrieved: tuple[str, ...] = ()
    restricted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "question": self.item.question,
            "reference": self.item.answer,
            "sources": [s.label() for s in self.item.sources],
            "cause": self.cause,
            "detail": self.detail,
            "answer": self.answer,
            "retrieved": list(self.retrieved),
            "restricted": self.restricted,
        }


def _matching(hit: Hit, refs: Sequence[SourceRef]) -> bool:
    return any(source_matches(ref, hit) for ref in refs)


def failure_cause(result: ItemResult) -> tuple[str, str]:
    """``(cause, detail)`` of a failed question, by the first rule of :data:`CAUSE_RULES` that holds."""
    item, answer = result.item, result.answer
    if item.unanswerable:
        return "model", "answered a question the documents cannot answer"
    if result.sources_in_kb is None:
        return "unknown", "the question names no source"
    if not result.sources_in_kb:
        return "not_in_kb", "not indexed: " + ", ".join(s.label() for s in result.missing_sources)
    if not result.retrieved_relevant:
        return "retrieval_missed", f"no source among the top {len(result.hits) or 'k'} results"
    refs = [s for s in item.sources if s not in result.missing_sources]
    top = result.hits[:2]
    if len(top) == 2 and any(_matching(h, refs) for h in top) and not all(_matching(h, refs) for h in top):
        high, low = max(h.score for h in top), min(h.score for h in top)
        if high > 0 and (high - low) / high <= CLOSE_SCORES:
            other = next(h for h in top if not _matching(h, refs))
            return "ambiguous", f"{other.path} scores within {CLOSE_SCORES * 100:.0f}% of the source"
    reference = normalize_answer(item.answer or "")
    if len(reference.split()) >= MIN_ANSWER_WORDS:
        holding = {h.path for h in result.hits if f" {reference} " in f" {normalize_answer(h.text)} "}
        if len(holding) >= 2:
            return "ambiguous", "the reference answer appears in " + ", ".join(sorted(holding))
    what = "abstained" if answer is not None and answer.abstained else "wrong answer"
    return "model", f"{what} with the source retrieved (rank {result.rank})"


def failures_of(report: EvalReport, documents: Sequence[Document] = ()) -> list[Failure]:
    """The baseline's failed questions with their causes. ``restricted``: the question's source is
    a document with an access list and the answer abstained (an access problem, not accuracy)."""
    out = []
    for r in report.items:
        if r.correct is not False:
            continue
        cause, detail = failure_cause(r)
        abstained = r.answer is not None and r.answer.abstained
        restricted = abstained and any(
            doc.access and path_matches(ref.path, doc.path, doc.source) for ref in r.item.sources for doc in documents
        )
        out.append(
            Failure(
                r.item,
                cause,
                detail,
                answer="" if r.answer is None else r.answer.text,
                retrieved=tuple(h.path for h in r.hits[:5]),
                restricted=restricted,
            )
        )
    return out


# ---------------------------------------------------------------------------------------- answering
class _Unlogged:
    """The checked knowledge base's store, its ledger minus the answer log: the check's questions
    are not recorded (they would show up as knowledge gaps and usage). Spending during the run
    still counts against the budgets."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.ledger = _UnloggedLedger(store.ledger)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        """The store belongs to the checked knowledge base, which closes it."""


class _UnloggedLedger:
    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger
        self._spent: list[tuple[float, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def log_answer(self, record: Mapping[str, Any]) -> int:
        self._spent.append((float(record.get("at") or time.time()), float(record.get("cost") or 0.0)))
        return 0

    def spent_since(self, timestamp: float) -> float:
        return float(self._ledger.spent_since(timestamp)) + sum(c for at, c in self._spent if at >= timestamp)


class _ModelAlone:
    """Stands in for a knowledge base so :func:`run_eval` scores the model alone like any variant:
    ``ask`` sends :func:`model_alone_prompt` (no sources); ``search`` finds nothing."""

    def __init__(self, kb: KnowledgeBase, chat: ChatModel, store: _Unlogged) -> None:
        self.settings, self.store, self.chat = kb.settings, store, chat
        self._kb = kb

    @property
    def embedder(self) -> Any:
        return self._kb.embedder

    def chat_model(self, spec: str | None = None) -> ChatModel:
        return self.chat

    def search(self, query: str, **_: Any) -> list[Hit]:
        return []

    def ask(
        self, question: str, *, model: Any = None, on_prompt: Callable[[Any], None] | None = None, **_: Any
    ) -> Answer:
        from docket.models.costs import check_budget, estimate_tokens, usage_cost

        chat = model if model is not None and not isinstance(model, str) else self.chat
        cfg = self.settings.model
        prompt = model_alone_prompt(question)
        if on_prompt is not None:
            on_prompt(prompt)
        price = cfg.prices.get(chat.name)
        estimate = usage_cost(Usage(estimate_tokens(prompt.render()), cfg.max_tokens), price)
        check_budget(cast(Any, self.store.ledger), estimate, cfg.daily_budget, cfg.monthly_budget)
        reply = chat.complete(prompt)
        text = reply.text.strip()
        usage = reply.usage or Usage()
        usage = replace(usage, cost=usage_cost(usage, cfg.prices.get(reply.model or chat.name)))
        self.store.ledger.log_answer({"at": time.time(), "cost": usage.cost})  # counted for the budget only
        abstained = not text or ABSTAIN_TEXT.lower().rstrip(".") in text.lower()
        return Answer(
            question,
            ABSTAIN_TEXT if abstained else text,
            abstained,
            method="model-alone",
            model=reply.model or chat.name,
            usage=usage,
        )


def _view(kb: KnowledgeBase, store: Any, settings: Any) -> KnowledgeBase:
    """A knowledge base over ``kb``'s index with other (search or answer) settings."""
    from docket.kb import KnowledgeBase

    return KnowledgeBase(settings, store=cast(Any, store), embedder=kb.embedder)


def _rechunked(kb: KnowledgeBase, tokens: int, workdir: Path) -> tuple[KnowledgeBase, list[str]]:
    """A temporary knowledge base in ``workdir`` with ``kb``'s sources chunked at ``tokens``."""
    from docket.kb import KnowledgeBase

    settings = kb.settings.model_copy(
        update={
            "store": kb.settings.store.model_copy(update={"url": None}),  # a scratch index, never the real one
            "home": workdir,
            "chunking": kb.settings.chunking.model_copy(
                update={"max_tokens": tokens, "overlap_tokens": min(kb.settings.chunking.overlap_tokens, tokens // 4)}
            ),
        }
    )
    temp = KnowledgeBase(settings, embedder=kb.embedder)
    notes = []
    try:
        for name, cfg in kb.ledger.sources().items():
            path = Path(str(cfg.get("path", "")))
            if not path.exists():
                notes.append(f"source '{name}' is gone from {path}; not in this variant")
                continue
            temp.ingest(
                [str(path)],
                workspace=cfg.get("workspace", "default"),
                tags=cfg.get("tags", ()),
                access=cfg.get("access", ()),
            )
    except BaseException:
        temp.close()
        raise
    return temp, notes


def _settings_for(settings: Any, variant: Variant) -> Any:
    if variant.kind == "search":
        return settings.model_copy(update={"search": settings.search.model_copy(update={"mode": variant.value})})
    if variant.kind == "top-k":
        return settings.model_copy(update={"answer": settings.answer.model_copy(update={"top_k": variant.value})})
    return settings


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
        best_variant_setting=_setting(best[0]) if best else None,
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
    store = _Unlogged(kb.store)
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
        alone.report = evaluate(_ModelAlone(kb, chat, store), MODEL_ALONE.name)
        alone.figures = figures(alone.report, retrieval=False)
    results.append(alone)

    baseline_kb = _view(kb, store, base_settings)
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
                temp, skipped = _rechunked(kb, int(cast(int, tokens)), folder)
                try:
                    result.note = "; ".join(skipped)
                    result.report = evaluate(temp, result.variant.name)
                finally:
                    temp.close()
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            view = _view(kb, store, _settings_for(base_settings, variant))
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
