"""The knowledge base: one settings object, one store, one embedder, and the operations on them.

This is the Python API the CLI (and later the server) calls::

    from docket import KnowledgeBase, load_settings
    with KnowledgeBase(load_settings(home="./kb")) as kb:
        kb.ingest(["./company-docs"])
        for hit in kb.search("parental leave"):
            print(hit.path, hit.location.label(), hit.score)
        print(kb.ask("How many weeks of parental leave do we offer?").text)

Each method is a plain function call into :mod:`docket.ingest.sync`, :mod:`docket.index.search`
and :mod:`docket.answer.extractive`; nothing happens in the background.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from docket.answer.extractive import extractive_answer
from docket.config import Settings
from docket.errors import NotFoundError
from docket.index import STORES
from docket.index.search import Mode, search
from docket.ingest.sync import FolderSource, Progress, source_for_path, sync_source
from docket.models.embedders import EMBEDDERS
from docket.protocols import ChatModel, Embedder, Store
from docket.types import Access, Answer, Filters, Hit, SyncReport, Usage

__all__ = ["KnowledgeBase"]


class KnowledgeBase:
    def __init__(self, settings: Settings, store: Store | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store: Store = store or STORES.create("sqlite", path=str(settings.db_path))
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use (listing or deleting documents never loads a model)."""
        if self._embedder is None:
            cfg = self.settings.embedder
            options: dict[str, Any] = {}
            if cfg.name == "minilm":
                options = {"threads": cfg.threads, "batch_size": cfg.batch_size}
            elif cfg.name == "e5-small" and cfg.threads:
                options = {"threads": cfg.threads}
            self._embedder = EMBEDDERS.create(cfg.name, **options)
            self.store.bind_embedder(self._embedder.name, self._embedder.dim)
        return self._embedder

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ ingest
    def _sync(self, source: FolderSource, progress: Progress | None) -> SyncReport:
        return sync_source(
            self.store,
            self.embedder,
            source,
            max_tokens=self.settings.chunking.max_tokens,
            overlap_tokens=self.settings.chunking.overlap_tokens,
            max_file_bytes=int(self.settings.ingest.max_file_mb * 1024 * 1024),
            ignore=self.settings.ingest.ignore,
            progress=progress,
        )

    def ingest(
        self,
        paths: Sequence[str],
        *,
        workspace: str = "default",
        tags: Sequence[str] = (),
        access: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> SyncReport:
        """Add folders or files (registering them as sources) and index what changed."""
        sources = [source_for_path(p, workspace, tags, access) for p in paths]  # validate all first
        report = SyncReport()
        for source in sources:
            report.merge(self._sync(source, progress))
        return report

    def sync(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> SyncReport:
        """Re-sync registered sources (all by default): only what changed is processed."""
        known = self.store.sources()
        wanted = list(names) if names else list(known)
        report = SyncReport()
        for name in wanted:
            if name not in known:
                raise NotFoundError(f"no source named '{name}'. Sources: {', '.join(known) or 'none yet'}")
            report.merge(self._sync(FolderSource.from_config(name, known[name]), progress))
        return report

    # ------------------------------------------------------------------ retrieval
    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        filters: Filters = Filters(),
        access: Access = Access.owner(),
    ) -> list[Hit]:
        cfg = self.settings.search
        return search(
            self.store,
            self.embedder,
            query,
            k=k or cfg.k,
            mode=mode or cfg.mode,
            alpha=cfg.alpha,
            candidates=cfg.candidates,
            fusion=cfg.fusion,
            filters=filters,
            access=access,
        )

    def chat_model(self, spec: str | None = None) -> ChatModel:
        """The model named by ``spec`` (or ``model.name``), with ``model.fallback`` behind it if set."""
        from docket.models.chat import FallbackChat

        primary = self._chat_model(spec or self.settings.model.name)
        fallback = self.settings.model.fallback
        return FallbackChat(primary, self._chat_model(fallback)) if fallback else primary

    def _chat_model(self, spec: str | None) -> ChatModel:
        from docket.models.chat import chat_model_from_spec

        cfg = self.settings.model
        common: dict[str, Any] = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}
        remote = {**common, "timeout": cfg.timeout, "max_retries": cfg.max_retries}
        provider = (spec or "").partition(":")[0]
        options: dict[str, Any] = {}
        if provider == "openai":
            options = {**remote, "base_url": cfg.base_url, "api_key": _secret(cfg.api_key)}
        elif provider == "anthropic":
            options = {**remote, "base_url": cfg.anthropic_base_url, "api_key": _secret(cfg.anthropic_api_key)}
        elif provider == "local":
            options = {**common, "models_dir": str(self.settings.home / "models")}
        return chat_model_from_spec(spec, options)

    def ask(
        self,
        question: str,
        *,
        filters: Filters = Filters(),
        access: Access = Access.owner(),
        model: str | ChatModel | None = None,
        stream: Callable[[str], None] | None = None,
        on_prompt: Callable[[Any], None] | None = None,
    ) -> Answer:
        """A cited answer from the documents, or an abstention with the closest sources.

        With a model (``model``, or ``model.name`` in the settings) the answer is generated and its
        citations checked; without one it is extractive and needs no model at all.
        """
        started = time.perf_counter()
        cfg = self.settings.answer
        hits = self.search(question, k=cfg.top_k, filters=filters, access=access)
        prompts: list[Any] = []
        if model is None and self.settings.model.name is None:
            answer = extractive_answer(
                question, hits, self.embedder, max_sentences=cfg.max_sentences, min_relevance=cfg.min_relevance
            )
        else:
            from docket.answer.grounded import grounded_answer
            from docket.models.costs import check_budget, estimate_tokens, usage_cost

            chat = model if model is not None and not isinstance(model, str) else self.chat_model(model)
            mcfg = self.settings.model
            price = mcfg.prices.get(getattr(chat, "primary", chat).name)  # estimate for the first choice

            def seen(prompt: Any) -> None:
                prompts.append(prompt)
                if on_prompt is not None:
                    on_prompt(prompt)
                estimate = usage_cost(Usage(estimate_tokens(prompt.render()), mcfg.max_tokens), price)
                check_budget(self.store, estimate, mcfg.daily_budget, mcfg.monthly_budget)

            answer = grounded_answer(
                question,
                hits,
                chat,
                self.embedder,
                min_relevance=cfg.min_relevance,
                min_support=self.settings.model.min_support,
                stream=stream,
                on_prompt=seen,
            )
            actual = mcfg.prices.get(answer.model or "")  # the model that actually answered
            if answer.usage is not None and actual:
                answer = replace(answer, usage=replace(answer.usage, cost=usage_cost(answer.usage, actual)))
        self._log(answer, prompts[0].render() if prompts else None, (time.perf_counter() - started) * 1000)
        return answer

    def _log(self, answer: Answer, prompt: str | None, latency_ms: float) -> None:
        usage = answer.usage
        self.store.log_answer(
            {
                "at": time.time(),
                "question": answer.question,
                "answer": answer.text,
                "abstained": answer.abstained,
                "method": answer.method,
                "model": answer.model,
                "prompt": prompt,
                "sources": [
                    {"path": h.path, "location": h.location.to_dict(), "score": h.score, "chunk_id": h.chunk_id}
                    for h in answer.sources
                ],
                "citations": [c.to_dict() for c in answer.citations],
                "notes": list(answer.notes),
                "prompt_tokens": usage.prompt_tokens if usage else 0,
                "completion_tokens": usage.completion_tokens if usage else 0,
                "cost": usage.cost if usage else None,
                "latency_ms": latency_ms,
            }
        )


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
