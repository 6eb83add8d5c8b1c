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

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.answer.extractive import cite, extractive_answer
from docket.answer.scope import Catalog, Entry, Scope, resolve_where, scope_question
from docket.config import Settings
from docket.errors import IndexMismatchError, NotFoundError, UserError
from docket.index import open_store
from docket.index.search import Mode, search
from docket.ingest.chunking import estimate_tokens
from docket.ingest.profiles import PROFILE_KEY, extract_profile, profile_of
from docket.ingest.sync import FolderSource, Progress, source_for_path, sync_source
from docket.models.embedders import embedder_from_settings, embedder_spec, recorded_settings, same_embedder
from docket.protocols import ChatModel, Embedder, Store
from docket.types import Access, Answer, Block, Document, Filters, Hit, ParsedDocument, Profile, SyncReport, Usage

if TYPE_CHECKING:
    from docket.index.tables import TableStore
    from docket.ingest.sandbox import Sandbox

__all__ = ["ChatReply", "KnowledgeBase"]


@dataclass(frozen=True)
class ChatReply:
    """One turn of a conversation: the message as typed, the standalone question it was
    rewritten into, and the answer."""

    conversation: str
    message: str
    query: str
    answer: Answer


class KnowledgeBase:
    def __init__(self, settings: Settings, store: Store | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store: Store = store or open_store(settings)
        self._embedder = embedder
        self._embedder_owned = False  # built here (and closed here), not given by the caller
        self._bound = False
        self._tables: TableStore | None = None
        self._sandbox: Sandbox | None = None  # parse workers (ingest.sandbox), started on first parse
        self._chat_models: dict[str, ChatModel] = {}  # one client (or loaded local model) per spec
        self._chat_lock = threading.Lock()
        self._catalogs: dict[Access, tuple[int, Catalog]] = {}  # profiles per caller, by store generation

    @property
    def embedder(self) -> Embedder:
        """The embedder the index was built with, loaded on first use (listing or deleting
        documents never loads a model).

        When ``embedder`` in the settings names another one, the index keeps being searched with
        its own until ``docket reindex`` has re-embedded it and swapped it in — never a
        dimension mismatch (:meth:`switch_pending` says so). A long-running process notices the
        swap and loads the new embedder on its next call.
        """
        info = self.store.embedder_info()
        if self._embedder is not None and not self._embedder_owned:  # given by the caller: must fit
            if info is None or info[0] != self._embedder.name or not self._bound:
                self.store.bind_embedder(self._embedder.name, self._embedder.dim)
                self._bound = True
            return self._embedder
        if self._embedder is not None and info is not None and info[0] == self._embedder.name:
            return self._embedder
        configured = self.settings.embedder
        if info is None:
            embedder = self._own(embedder_from_settings(configured))
            self.store.bind_embedder(embedder.name, embedder.dim, embedder_spec(configured))
            return embedder
        wanted = configured
        if self.switch_pending():
            wanted = recorded_settings(configured, info[0], self.store.embedder_spec())
        embedder = self._own(embedder_from_settings(wanted))
        self.store.bind_embedder(embedder.name, embedder.dim)
        return embedder

    def switch_pending(self) -> bool:
        """Do the settings name another embedder than the one the index was built with (so
        searches use the index's own until ``docket reindex`` switches it)? Loads no model."""
        info = self.store.embedder_info()
        if info is None:
            return False
        configured, spec = self.settings.embedder, self.store.embedder_spec()
        return not (same_embedder(configured, spec) if spec else _legacy_match(configured, info[0]))

    def reindex(
        self, embedder: str | None = None, progress: Callable[[int, int, str], None] | None = None
    ) -> dict[str, Any]:
        """Re-embed the index with the configured embedder (or ``embedder``) and swap it in; this
        knowledge base keeps searching with the old one until the swap, then uses the new one.
        Safe to run in a thread while the knowledge base serves searches."""
        from docket.index.reindex import reindex

        settings = self.settings
        if embedder is not None:
            settings = settings.model_copy(update={"embedder": settings.embedder.model_copy(update={"name": embedder})})
        result = reindex(settings, progress=progress)
        self.settings = settings
        return result

    def _own(self, embedder: Embedder) -> Embedder:
        """Hold ``embedder`` as the current one, closing the one it replaces."""
        close = getattr(self._embedder, "close", None)
        if close is not None and self._embedder_owned:
            close()
        self._embedder, self._embedder_owned = embedder, True
        return embedder

    @property
    def tables(self) -> TableStore:
        """Spreadsheets loaded as SQL tables (``tables.db`` in the home, or in PostgreSQL with
        ``store.url``), opened on first use."""
        if self._tables is None:
            from docket.index.tables import TableStore

            self._tables = TableStore.open(self.settings)
        return self._tables

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()
        close_embedder = getattr(self._embedder, "close", None)
        if close_embedder is not None and self._embedder_owned:  # e.g. a server embedder's connections
            close_embedder()
        if self._tables is not None:
            self._tables.close()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        with self._chat_lock:
            models, self._chat_models = list(self._chat_models.values()), {}
        for chat in models:
            close_chat = getattr(chat, "close", None)
            if close_chat is not None:
                close_chat()

    def _parse_options(self) -> dict[str, Any]:
        """How ingest parses files: in sandboxed workers (ingest.sandbox) and under the ingest limits."""
        from docket.ingest.sandbox import limits_from_settings, sandbox_from_settings

        if self._sandbox is None:
            self._sandbox = sandbox_from_settings(self.settings.ingest)
        return {"sandbox": self._sandbox, "limits": limits_from_settings(self.settings.ingest)}

    # ------------------------------------------------------------------ ingest
    def _sync(self, source: FolderSource, progress: Progress | None, retry_failed: bool = False) -> SyncReport:
        self.profile_missing()
        self.tables.prune(  # tables left by an interrupted sync or a removed source
            {doc.id for doc in self.store.documents()}, sources=self.store.sources()
        )
        return sync_source(
            self.store,
            self.embedder,
            source,
            max_tokens=self.settings.chunking.max_tokens,
            overlap_tokens=self.settings.chunking.overlap_tokens,
            max_file_bytes=int(self.settings.ingest.max_file_mb * 1024 * 1024),
            ignore=self.settings.ingest.ignore,
            progress=progress,
            tables=self.tables,
            retry_failed=retry_failed,
            **self._parse_options(),
        )

    def ingest(
        self,
        paths: Sequence[str],
        *,
        workspace: str = "default",
        tags: Sequence[str] = (),
        access: Sequence[str] = (),
        progress: Progress | None = None,
        retry_failed: bool = False,
    ) -> SyncReport:
        """Add folders or files (registering them as sources) and index what changed.

        Files that failed to parse and have not changed since are not parsed again (they are
        reported in ``failed_before``) unless ``retry_failed``."""
        sources = [source_for_path(p, workspace, tags, access) for p in paths]  # validate all first
        report = SyncReport()
        for source in sources:
            report.merge(self._sync(source, progress, retry_failed))
        return report

    def sync(
        self, names: Iterable[str] | None = None, progress: Progress | None = None, retry_failed: bool = False
    ) -> SyncReport:
        """Re-sync registered sources (all by default): only what changed is processed (files that
        failed before are tried again only if they changed, or with ``retry_failed``)."""
        known = self.store.sources()
        wanted = list(names) if names else list(known)
        report = SyncReport()
        for name in wanted:
            if name not in known:
                raise NotFoundError(f"no source named '{name}'. Sources: {', '.join(known) or 'none yet'}")
            if known[name].get("type", "folder") in ("folder", "file"):
                report.merge(self._sync(FolderSource.from_config(name, known[name]), progress, retry_failed))
            else:  # a website, mailbox or database: through its connector (docket.ingest.sources)
                report.merge(self._sync_remote(name, known[name], progress, retry_failed))
        return report

    def _sync_remote(
        self, name: str, config: dict[str, Any], progress: Progress | None, retry_failed: bool = False
    ) -> SyncReport:
        from docket.ingest.sources.sync import sync_remote

        self.profile_missing()
        self.tables.prune({doc.id for doc in self.store.documents()}, sources=self.store.sources())
        return sync_remote(
            self.store,
            self.embedder,
            name,
            None,
            config,
            max_tokens=self.settings.chunking.max_tokens,
            overlap_tokens=self.settings.chunking.overlap_tokens,
            max_item_bytes=int(self.settings.ingest.max_file_mb * 1024 * 1024),
            progress=progress,
            tables=self.tables,
            max_table_rows=self.settings.ingest.table_max_rows,
            retry_failed=retry_failed,
            **self._parse_options(),
        )

    # ------------------------------------------------------------------ profiles and scoping
    def profile_missing(self) -> int:
        """Give a profile to every document indexed before profiles existed (read from its stored
        text); returns how many were profiled. Documents ingested since have one already."""
        done = 0
        for doc in self.store.documents():
            if PROFILE_KEY in doc.metadata:
                continue
            parsed = ParsedDocument(blocks=(Block(self.store.document_text(doc.id)),), metadata=doc.metadata)
            profile = extract_profile(parsed, doc.title, doc.path)
            self.store.update_document(doc.id, metadata={**doc.metadata, PROFILE_KEY: profile.to_dict()})
            done += 1
        return done

    def set_profile(self, doc_id: str, **fields: Any) -> Profile:
        """Correct a document's profile by hand (an admin's edit): ``fields`` are Profile fields
        (``organizations``, ``doc_type``, ``date``, ``period_start``, ``period_end``, ``fiscal_year``,
        ``fiscal_quarter``, ``title``); a value of None clears the edit of that field, which goes back
        to what the rules read. Edited fields survive every re-ingest of the document."""
        doc = next((d for d in self.store.documents() if d.id == doc_id), None)
        if doc is None:
            raise NotFoundError(f"no document {doc_id}")
        editable = set(Profile.__dataclass_fields__) - {"edited"}
        unknown = set(fields) - editable
        if unknown:
            raise UserError(f"unknown profile field(s) {sorted(unknown)}; use: {', '.join(sorted(editable))}")
        current = profile_of(doc.metadata)
        cleared = {k for k, v in fields.items() if v is None}
        if cleared:  # back to what the rules read from the document's own text
            parsed = ParsedDocument(blocks=(Block(self.store.document_text(doc.id)),), metadata=doc.metadata)
            extracted = extract_profile(parsed, doc.title, doc.path)
            current = replace(current, **{k: getattr(extracted, k) for k in cleared})
        values: dict[str, Any] = {
            k: (tuple(v) if k == "organizations" else v) for k, v in fields.items() if v is not None
        }
        edited = tuple(sorted((set(current.edited) | set(values)) - cleared))
        profile = replace(current, **values, edited=edited)
        self.store.update_document(doc.id, metadata={**doc.metadata, PROFILE_KEY: profile.to_dict()})
        return profile

    def catalog(self, access: Access = Access.owner()) -> Catalog:
        """The profiles of the documents ``access`` may read, cached until the index changes."""
        generation = self.store.generation()
        cached = self._catalogs.get(access)
        if cached is not None and cached[0] == generation:
            return cached[1]
        catalog = Catalog(
            tuple(Entry(d.id, d.path, d.title, profile_of(d.metadata)) for d in self.store.documents(access=access))
        )
        if len(self._catalogs) > 64:  # one entry per distinct caller; a server has a bounded set
            self._catalogs.clear()
        self._catalogs[access] = (generation, catalog)
        return catalog

    def scope(self, question: str, access: Access = Access.owner()) -> Scope:
        """The documents ``question`` is about, by their profiles (:mod:`docket.answer.scope`)."""
        return scope_question(question, self.catalog(access))

    def _resolved(self, filters: Filters, access: Access, scope: Scope | None = None) -> Filters:
        """``filters`` with profile conditions and a question's scope turned into document ids."""
        documents = filters.documents
        if filters.where:
            matching = resolve_where(filters.where, self.catalog(access))
            documents = matching if documents is None else tuple(d for d in documents if d in set(matching))
        if scope is not None and scope.documents is not None:
            allowed = set(scope.documents)
            documents = scope.documents if documents is None else tuple(d for d in documents if d in allowed)
        if documents == filters.documents and not filters.where:
            return filters
        return replace(filters, documents=documents, where=())

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
            filters=self._resolved(filters, access),
            access=access,
        )

    def chat_model(self, spec: str | None = None) -> ChatModel:
        """The model named by ``spec`` (or ``model.name``), with ``model.fallback`` behind it if set.

        One instance per spec for the life of the knowledge base — its HTTP connections are reused
        and a local model is loaded once — closed by :meth:`close`."""
        from docket.models.chat import FallbackChat

        key = spec or self.settings.model.name
        with self._chat_lock:
            cached = self._chat_models.get(key) if key else None
            if cached is not None:
                return cached
            primary = self._chat_model(key)
            fallback = self.settings.model.fallback
            chat: ChatModel = FallbackChat(primary, self._chat_model(fallback)) if fallback else primary
            self._chat_models[str(key)] = chat
            return chat

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
            options = {
                **common,
                "models_dir": str(self.settings.model.local_models_dir()),
                # where versions before the shared folder assembled it: used in place, not copied again
                "earlier_models_dirs": [str(self.settings.home / "models")],
            }
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
        tables: bool | None = None,
        instructions: str = "",
    ) -> Answer:
        """A cited answer from the documents, or an abstention with the closest sources.

        With a model (``model``, or ``model.name`` in the settings) the answer is generated and its
        citations checked; without one it is extractive and needs no model at all. With a model, a
        question asking for a figure (how many, total, average...) about a spreadsheet is first
        answered by SQL over its table (:mod:`docket.answer.tables`): ``tables=True`` always tries
        that (a model is then required), ``tables=False`` never does, None decides from the question.
        ``instructions`` are added to a generated answer's prompt (a workspace's prompt additions).
        """
        started = time.perf_counter()
        cfg = self.settings.answer
        prompts: list[Any] = []
        replies: list[str] = []
        chat = self._answering_model(model)
        if chat is None and tables:
            chat = self.chat_model()  # raises the "no model configured" error, which says how to set one
        guard = self._guarded(chat, on_prompt)

        def seen(prompt: Any) -> None:
            prompts.append(prompt)
            guard(prompt)

        scope = self.scope(question, access) if cfg.scope else Scope()
        filters = self._resolved(filters, access, scope)
        # a figure to compute needs to know which year's tables (the plan needs a year), and whose:
        # the organisation the question names, else one document must give every figure
        calculated = self._calculated(question, filters, access, scope) or self._compared(question, filters, access)
        if calculated is not None:
            answer = self._labelled(calculated, access, scope)
            return replace(answer, log_id=self._log(answer, None, (time.perf_counter() - started) * 1000))
        from_tables: Answer | None = None
        if chat is not None and tables is not False and (tables or self._may_have_tables()):
            from docket.answer.tables import answer_from_tables

            from_tables = answer_from_tables(
                question,
                self.tables,
                chat,
                documents=self.store.documents(),
                access=access,
                filters=filters,
                force=bool(tables),
                on_prompt=seen,
            )
        if from_tables is not None and not from_tables.abstained:
            answer = self._priced(self._labelled(from_tables, access, scope))
            sql = from_tables.table.sql if from_tables.table is not None else ""
            logged = replace(answer, text=f"{answer.text}\n\nSQL:\n{sql}")  # the log keeps the query too
            sent = "\n\n".join(p.render() for p in prompts)
            return replace(answer, log_id=self._log(logged, sent, (time.perf_counter() - started) * 1000))

        hits = self.search(question, k=cfg.top_k, filters=filters, access=access)
        entries = self.catalog(access).by_id()
        labels = [entries[h.doc_id].label if h.doc_id in entries else h.title for h in hits]
        if chat is None:
            answer = extractive_answer(
                question,
                hits,
                self.embedder,
                max_sentences=cfg.max_sentences,
                min_relevance=cfg.min_relevance,
                store=self.store,
                labels=labels,
            )
        else:
            from docket.answer.grounded import grounded_answer

            answer = grounded_answer(
                question,
                hits,
                chat,
                self.embedder,
                min_relevance=cfg.min_relevance,
                min_support=self.settings.model.min_support,
                stream=stream,
                on_prompt=seen,
                instructions=instructions,
                on_reply=replies.append,
                store=self.store,
                documents=labels,
                context_tokens=cfg.context_tokens,
                count_tokens=getattr(self.embedder, "count_tokens", None) or estimate_tokens,
            )
        if from_tables is not None:  # the table path was tried and gave up: say so, count its tokens
            spent, more = answer.usage or Usage(), from_tables.usage or Usage()
            usage = Usage(spent.prompt_tokens + more.prompt_tokens, spent.completion_tokens + more.completion_tokens)
            answer = replace(
                answer, notes=(*answer.notes, *from_tables.notes), usage=usage, model=answer.model or from_tables.model
            )
        answer = self._priced(self._labelled(answer, access, scope))
        # the log keeps every prompt and the model's raw replies, also those a fallback replaced
        record = [p.render() for p in prompts] + [f"[model reply]\n{r}" for r in replies]
        prompt_text = "\n\n".join(record) if record else None
        return replace(answer, log_id=self._log(answer, prompt_text, (time.perf_counter() - started) * 1000))

    def _calculated(self, question: str, filters: Filters, access: Access, scope: Scope) -> Answer | None:
        """A figure the question asks to compute from the scoped documents' tables
        (:mod:`docket.answer.calculate`), or None when it asks for none or a figure is missing."""
        from docket.answer.calculate import LINE_ITEMS, answer_text, compute, lookup, plan

        planned = plan(question)
        if planned is None:
            return None
        passages: dict[str, list[Hit]] = {}
        used: list[Hit] = []

        def find(item: str, year: int) -> Any:
            aliases = LINE_ITEMS.get(item, (item,))
            figure = None
            same = {h.doc_id for h in used}
            # a line item goes by several names ("revenue" is "net sales" at 3M): search by three
            # of them at a time until a statement row is found
            for first in range(0, len(aliases), 3):
                key = f"{item}#{first}"
                if key not in passages:
                    names = " ".join(aliases[first : first + 3])
                    passages[key] = self.search(f"{names} {year}", k=20, filters=filters, access=access)
                hits = passages[key]
                if same and not scope.organizations:  # the other figures' document first
                    figure = lookup(item, year, [h if h.doc_id in same else replace(h, text="") for h in hits])
                figure = figure or lookup(item, year, hits)
                if figure is not None:
                    item = key
                    break
            if figure is None:
                return None
            hit = passages[item][figure.hit]
            if hit not in used:
                used.append(hit)
            return replace(figure, hit=used.index(hit))

        result = compute(planned, find)
        if result is None or result.missing:
            return None
        if not scope.organizations and len({h.doc_id for h in used}) > 1:
            return None  # figures of different documents, and no organisation named to say they belong together
        numbers = [f.hit + 1 for f in result.figures]
        citations = tuple(
            cite(n, used[f.hit], f.start, f.end, used[f.hit].text[f.start : f.end])
            for n, f in zip(numbers, result.figures, strict=True)
        )
        note = "computed in code from the cited figures; check the rows and columns it used"
        return Answer(
            question, answer_text(result, numbers), False, citations, tuple(used), "calculated", 1.0, notes=(note,)
        )

    def _compared(self, question: str, filters: Filters, access: Access) -> Answer | None:
        """ "In which year was X higher?" answered from X's row in every year column of its table
        (:func:`docket.answer.calculate.compare_years`), or None."""
        from docket.answer.calculate import LINE_ITEMS, compare_years, comparison_text, which_year

        asked = which_year(question)
        if asked is None:
            return None
        item, highest = asked
        hits = self.search(" ".join(LINE_ITEMS.get(item, (item,))[:3]), k=20, filters=filters, access=access)
        result = compare_years(item, highest, hits)
        if result is None:
            return None
        hit, row = hits[result.figures[0].hit], result.figures[0]
        citation = cite(1, hit, row.start, row.end, hit.text[row.start : row.end])
        note = "compared in code from the cited row; check the row and columns it used"
        return Answer(
            question, comparison_text(result, 1), False, (citation,), (hit,), "calculated", 1.0, notes=(note,)
        )

    def _labelled(self, answer: Answer, access: Access, scope: Scope) -> Answer:
        """``answer`` with each citation's document label and the documents the question was scoped to."""
        entries = self.catalog(access).by_id()

        def label(doc_id: str, fallback: str) -> str:
            entry = entries.get(doc_id)
            return entry.label if entry is not None else fallback

        citations = tuple(
            replace(
                c, document=label(answer.sources[c.n - 1].doc_id, c.path) if 0 < c.n <= len(answer.sources) else c.path
            )
            for c in answer.citations
        )
        scoped = tuple(label(d, d) for d in scope.documents or ())
        notes = (*answer.notes, scope.note) if scope.note else answer.notes
        return replace(answer, citations=citations, scope=scoped, notes=notes)

    def _may_have_tables(self) -> bool:
        if self._tables is not None:
            return True
        from docket.index.tables import TableStore

        return TableStore.present(self.settings)

    def _log(self, answer: Answer, prompt: str | None, latency_ms: float) -> int:
        usage = answer.usage
        return self.store.log_answer(
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
                "confidence": answer.confidence,
            }
        )

    # ------------------------------------------------------------------ chat
    def chat(
        self,
        message: str,
        *,
        conversation: str | None = None,
        filters: Filters = Filters(),
        access: Access = Access.owner(),
        model: str | ChatModel | None = None,
        stream: Callable[[str], None] | None = None,
        on_prompt: Callable[[Any], None] | None = None,
        instructions: str = "",
    ) -> ChatReply:
        """Answer ``message`` as the next turn of ``conversation`` (a new one when None).

        A follow-up is rewritten into a standalone question first (see
        :mod:`docket.answer.conversation`); retrieval and the answer use that question, and the
        turn is stored so the conversation can be resumed.
        """
        from docket.answer.conversation import Turn, standalone_question

        history = []
        if conversation is not None:
            history = [Turn(t["question"], t["query"], t["answer"]) for t in self.store.conversation(conversation)]
        conversation = conversation or uuid.uuid4().hex[:12]
        chat = self._answering_model(model)
        query, rewrite_usage = standalone_question(message, history, chat, self._guarded(chat, on_prompt))
        answer = self.ask(
            query,
            filters=filters,
            access=access,
            model=chat,
            stream=stream,
            on_prompt=on_prompt,
            instructions=instructions,
        )
        if rewrite_usage.prompt_tokens or rewrite_usage.completion_tokens:
            used = answer.usage or Usage()
            answer = replace(
                answer,
                usage=Usage(
                    used.prompt_tokens + rewrite_usage.prompt_tokens,
                    used.completion_tokens + rewrite_usage.completion_tokens,
                    used.cost,
                ),
            )
        self.store.add_turn(
            conversation, {"question": message, "query": query, "answer": answer.text, "log_id": answer.log_id}
        )
        return ChatReply(conversation, message, query, answer)

    # ------------------------------------------------------------------ whole documents
    def document_hits(self, files: Sequence[str], access: Access = Access.owner()) -> list[list[Hit]]:
        """Every chunk of each named document, in order.

        A name is an indexed document's path (``policies/leave.md``, or its end, ``leave.md``; the
        source's name in front, ``hr/leave.md``, tells apart equal paths of two sources) or
        a file on disk: inside a source it is the indexed version; elsewhere (the local owner
        only) it is read and cut into chunks on the fly, without being indexed.
        """
        out = []
        for name in files:
            doc = self._find_document(name)
            if doc is not None:
                hits = self.store.document_hits(doc.id, access)
                if not hits:
                    raise NotFoundError(f"no document '{name}' that you may read")
                out.append(hits)
            elif access.unrestricted and Path(name).is_file():
                out.append(self._read_file(Path(name)))
            else:
                raise NotFoundError(
                    f"no document '{name}': give an indexed path (see `docket search`) or an existing file"
                )
        return out

    def find_document(self, name: str) -> Document:
        """The indexed document ``name`` gives: its path (or the end of it, or source/path), or a
        file on disk that is indexed. NotFoundError when none is; UserError when several match."""
        found = self._find_document(name)
        if found is None:
            raise NotFoundError(f"no indexed document '{name}'; `docket documents` lists them")
        return found

    def _find_document(self, name: str) -> Document | None:
        path = Path(name)
        if path.is_file():
            full = path.resolve()
            for source, cfg in self.store.sources().items():
                root = Path(str(cfg.get("path", ""))).resolve()
                if full.is_relative_to(root) and full != root:
                    found = self.store.get_document(source, full.relative_to(root).as_posix())
                    if found is not None:
                        return found
                elif full == root:  # a source that is a single file
                    found = self.store.get_document(source, full.name)
                    if found is not None:
                        return found
            return None
        wanted = name.strip("/")
        matches = []
        for d in self.store.documents():
            qualified = f"{d.source}/{d.path}"  # the source's name disambiguates equal paths
            if d.path == wanted or qualified == wanted or qualified.endswith("/" + wanted):
                matches.append(d)
        exact = [d for d in matches if wanted in (d.path, f"{d.source}/{d.path}")]
        if len(exact) == 1 or len(matches) == 1:
            return (exact or matches)[0]
        if matches:
            shown = ", ".join(d.path for d in matches[:5])
            raise UserError(f"'{name}' matches {len(matches)} documents ({shown}); give more of the path")
        return None

    def _read_file(self, path: Path) -> list[Hit]:
        from docket.ingest.chunking import chunk_document
        from docket.ingest.parsers import parse_bytes

        parsed = parse_bytes(path.read_bytes(), path.name)
        title = parsed.title or path.stem
        cfg = self.settings.chunking
        chunks = chunk_document(parsed, title, cfg.max_tokens, cfg.overlap_tokens)
        shown = str(path)
        return [Hit(-1 - i, "", "", shown, title, c.text, c.location, 0.0) for i, c in enumerate(chunks)]

    def summarize(
        self,
        files: Sequence[str],
        *,
        access: Access = Access.owner(),
        model: str | ChatModel | None = None,
        stream: Callable[[str], None] | None = None,
        on_prompt: Callable[[Any], None] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> Answer:
        """A cited summary of whole documents (map-reduce with a model, extractive without)."""
        return self._document_task(None, files, access, model, stream, on_prompt, progress)

    def ask_documents(
        self,
        question: str,
        files: Sequence[str],
        *,
        access: Access = Access.owner(),
        model: str | ChatModel | None = None,
        stream: Callable[[str], None] | None = None,
        on_prompt: Callable[[Any], None] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> Answer:
        """Answer ``question`` from every part of the named documents ("compare these contracts")."""
        return self._document_task(question, files, access, model, stream, on_prompt, progress)

    def _document_task(
        self,
        question: str | None,
        files: Sequence[str],
        access: Access,
        model: str | ChatModel | None,
        stream: Callable[[str], None] | None,
        on_prompt: Callable[[Any], None] | None,
        progress: Callable[[int, int, str], None] | None,
    ) -> Answer:
        from docket.answer.documents import document_answer

        if not files:
            raise UserError("name at least one document")
        started = time.perf_counter()
        documents = self.document_hits(files, access)
        chat = self._answering_model(model)
        prompts: list[Any] = []

        def seen(prompt: Any) -> None:
            prompts.append(prompt)
            self._guarded(chat, on_prompt)(prompt)

        cfg = self.settings.answer
        answer = document_answer(
            question,
            documents,
            chat,
            self.embedder,
            budget_tokens=cfg.document_tokens,
            max_sentences=cfg.summary_sentences,
            min_support=self.settings.model.min_support,
            stream=stream,
            on_prompt=seen,
            progress=progress,
        )
        answer = self._priced(answer)
        prompt_text = "\n\n".join(p.render() for p in prompts) if prompts else None
        return replace(answer, log_id=self._log(answer, prompt_text, (time.perf_counter() - started) * 1000))

    # ------------------------------------------------------------------ model plumbing
    def _answering_model(self, model: str | ChatModel | None) -> ChatModel | None:
        """The model to answer with: the one given, else ``model.name``; None means extractive."""
        if model is None and self.settings.model.name is None:
            return None
        return model if model is not None and not isinstance(model, str) else self.chat_model(model)

    def _guarded(self, chat: ChatModel | None, on_prompt: Callable[[Any], None] | None) -> Callable[[Any], None]:
        """A prompt hook that shows the prompt, then refuses the call if it would pass a budget."""
        from docket.models.costs import check_budget, estimate_tokens, usage_cost

        mcfg = self.settings.model
        price = mcfg.prices.get(getattr(chat, "primary", chat).name) if chat is not None else None

        def hook(prompt: Any) -> None:
            if on_prompt is not None:
                on_prompt(prompt)
            estimate = usage_cost(Usage(estimate_tokens(prompt.render()), mcfg.max_tokens), price)
            check_budget(self.store, estimate, mcfg.daily_budget, mcfg.monthly_budget)

        return hook

    def _priced(self, answer: Answer) -> Answer:
        """``answer`` with the cost of its tokens at the price of the model that actually answered."""
        from docket.models.costs import usage_cost

        price = self.settings.model.prices.get(answer.model or "")
        if answer.usage is None or not price:
            return answer
        return replace(answer, usage=replace(answer.usage, cost=usage_cost(answer.usage, price)))


def _legacy_match(configured: Any, recorded_name: str) -> bool:
    """For an index that recorded only its embedder's name: does the configuration build it?"""
    try:
        return recorded_settings(configured, recorded_name, None).name == configured.name and (
            configured.name != "openai" or recorded_name == f"openai:{configured.model}"
        )
    except IndexMismatchError:
        return False


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
