"""The variants of the reality check (``docket check``): each one way of answering the test set, and
how it is made to answer (a view of the knowledge base with other settings, a temporary
re-chunked knowledge base, or the model alone with :func:`model_alone_prompt`).

The questions asked here are not written to the knowledge base's answer log
(:class:`UnloggedStore`), so a check never shows up as knowledge gaps or usage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from docket.errors import UserError
from docket.evals.results import EvalReport
from docket.models.prompts import ABSTAIN_TEXT, Prompt
from docket.types import Answer, Hit, Usage

if TYPE_CHECKING:
    from docket.kb import KnowledgeBase
    from docket.protocols import ChatModel

__all__ = [
    "BASELINE",
    "DEFAULT_VARIANTS",
    "LARGE_INDEX",
    "MODEL_ALONE",
    "MODEL_ALONE_SYSTEM",
    "ModelAlone",
    "UnloggedStore",
    "Variant",
    "VariantResult",
    "figures",
    "kb_view",
    "model_alone_prompt",
    "parse_variants",
    "rechunked_kb",
    "settings_for",
    "variant_setting",
]

MODEL_ALONE_SYSTEM = f"""You answer questions for a business. You are given no documents: answer from what you know.
Answer briefly, in the language of the question. If you do not know the answer, reply exactly: {ABSTAIN_TEXT}"""

# The variants run when --variants is not given (chunks:auto is 512 tokens, or 128 when the
# knowledge base already uses 512 or more; it is skipped on a knowledge base over LARGE_INDEX chunks).
DEFAULT_VARIANTS = ("keyword", "semantic", "rerank", "top-k:3", "chunks:auto")
LARGE_INDEX = 20_000


def model_alone_prompt(question: str) -> Prompt:
    """Exactly what the model alone is sent: the question, no sources."""
    return Prompt(system=MODEL_ALONE_SYSTEM, user=f"Question: {question.strip()}")


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


def variant_setting(variant: Variant) -> str | None:
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


# ---------------------------------------------------------------------------------------- answering
class UnloggedStore:
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


class ModelAlone:
    """Stands in for a knowledge base so :func:`run_eval` scores the model alone like any variant:
    ``ask`` sends :func:`model_alone_prompt` (no sources); ``search`` finds nothing."""

    def __init__(self, kb: KnowledgeBase, chat: ChatModel, store: UnloggedStore) -> None:
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


def kb_view(kb: KnowledgeBase, store: Any, settings: Any) -> KnowledgeBase:
    """A knowledge base over ``kb``'s index with other (search or answer) settings."""
    from docket.kb import KnowledgeBase

    return KnowledgeBase(settings, store=cast(Any, store), embedder=kb.embedder)


def rechunked_kb(kb: KnowledgeBase, tokens: int, workdir: Path) -> tuple[KnowledgeBase, list[str]]:
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
            path = Path(cfg.path or "")
            if not path.exists():
                notes.append(f"source '{name}' is gone from {path}; not in this variant")
                continue
            temp.ingest(
                [str(path)],
                workspace=cfg.workspace,
                tags=cfg.tags,
                access=cfg.access,
            )
    except BaseException:
        temp.close()
        raise
    return temp, notes


def settings_for(settings: Any, variant: Variant) -> Any:
    if variant.kind == "search":
        return settings.model_copy(update={"search": settings.search.model_copy(update={"mode": variant.value})})
    if variant.kind == "top-k":
        return settings.model_copy(update={"answer": settings.answer.model_copy(update={"top_k": variant.value})})
    return settings
