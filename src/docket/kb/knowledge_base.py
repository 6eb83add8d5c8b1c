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
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from docket.answer.extractive import extractive_answer
from docket.answer.numbering import NumberedStream
from docket.answer.scope import Catalog, Entry, Scope, resolve_where, scope_question
from docket.config import Settings
from docket.errors import IndexMismatchError, NotFoundError
from docket.index import open_store
from docket.index.search import Mode, search
from docket.ingest.chunking import estimate_tokens
from docket.ingest.profiles import profile_of
from docket.ingest.sync import FileDone, FolderSource, Progress, source_for_path
from docket.kb import answers as kb_answers
from docket.kb import documents as kb_documents
from docket.kb import sources as kb_sources
from docket.ledger import Ledger, Store
from docket.models.embedders import embedder_from_settings, embedder_spec, recorded_settings, same_embedder
from docket.protocols import ChatModel, Embedder, Reembedding
from docket.types import Access, Answer, Document, Filters, Hit, Profile, SyncReport, Usage

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
        self.ledger: Ledger = self.store.ledger  # sources, failures, the answer log, conversations
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
            wanted = recorded_settings(configured, info[0], self._embedder_spec())
        embedder = self._own(embedder_from_settings(wanted))
        self.store.bind_embedder(embedder.name, embedder.dim)
        return embedder

    def switch_pending(self) -> bool:
        """Do the settings name another embedder than the one the index was built with (so
        searches use the index's own until ``docket reindex`` switches it)? Loads no model."""
        info = self.store.embedder_info()
        if info is None:
            return False
        configured, spec = self.settings.embedder, self._embedder_spec()
        return not (same_embedder(configured, spec) if spec else _legacy_match(configured, info[0]))

    def _embedder_spec(self) -> dict[str, Any] | None:
        """The settings the index's embedder was built from, where the index records them."""
        return self.store.embedder_spec() if isinstance(self.store, Reembedding) else None

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
        size = self.settings.search.query_cache
        if size:  # a question's vector is reused: an answer embeds its question twice, offices ask alike
            from docket.models.query_cache import QueryCache

            embedder = QueryCache(embedder, size)
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

    def parse_options(self) -> dict[str, Any]:
        """How ingest parses files: in sandboxed workers (ingest.sandbox) and under the ingest limits."""
        from docket.ingest.sandbox import limits_from_settings, sandbox_from_settings

        if self._sandbox is None:
            self._sandbox = sandbox_from_settings(self.settings.ingest)
        return {"sandbox": self._sandbox, "limits": limits_from_settings(self.settings.ingest)}

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        paths: Sequence[str],
        *,
        workspace: str = "default",
        tags: Sequence[str] = (),
        access: Sequence[str] = (),
        progress: Progress | None = None,
        retry_failed: bool = False,
        only: Collection[str] | None = None,
        on_file: FileDone | None = None,
        rehash: bool = False,
    ) -> SyncReport:
        """Add folders or files (registering them as sources) and index what changed: all their
        files, or ``only`` these paths of them (an upload's own files); ``on_file`` hears each outcome.

        Files that failed to parse and have not changed since are not parsed again (they are
        reported in ``failed_before``) unless ``retry_failed``. Files whose size and modification
        time match the index are not read unless ``rehash``."""
        sources = [source_for_path(p, workspace, tags, access) for p in paths]  # validate all first
        report = SyncReport()
        for source in sources:
            report.merge(kb_sources.sync_folder(self, source, progress, retry_failed, only, on_file, rehash))
        kb_sources.after_sync(self, report)
        return report

    def sync(
        self,
        names: Iterable[str] | None = None,
        progress: Progress | None = None,
        retry_failed: bool = False,
        rehash: bool = False,
    ) -> SyncReport:
        """Re-sync registered sources (all by default): only what changed is processed (files that
        failed before are tried again only if they changed, or with ``retry_failed``; files whose
        size and modification time are unchanged are not read unless ``rehash``)."""
        known = self.ledger.sources()
        wanted = list(names) if names else list(known)
        report = SyncReport()
        for name in wanted:
            if name not in known:
                raise NotFoundError(f"no source named '{name}'. Sources: {', '.join(known) or 'none yet'}")
            if known[name].is_local:
                source = FolderSource.from_config(name, known[name])
                report.merge(kb_sources.sync_folder(self, source, progress, retry_failed, rehash=rehash))
            else:  # a website, mailbox or database: through its connector (docket.ingest.sources)
                report.merge(kb_sources.sync_remote_source(self, name, known[name], progress, retry_failed))
        kb_sources.after_sync(self, report)
        return report

    def remove_source(self, name: str) -> None:
        """Forget source ``name``: its documents leave the index, then the source and its failures."""
        known = self.ledger.sources()
        if name not in known:
            raise NotFoundError(f"no source named '{name}'. Sources: {', '.join(known) or 'none'}")
        report = SyncReport()
        for doc in self.store.documents(name):
            self.store.delete_document(doc.id)
            report.deleted += 1
        self.ledger.remove_source(name)
        kb_sources.after_sync(self, report)

    # ------------------------------------------------------------------ profiles and scoping
    def profile_missing(self) -> int:
        """Give a profile to every document indexed before profiles existed (read from its stored
        text); returns how many were profiled. Documents ingested since have one already."""
        return kb_documents.profile_missing(self)

    def set_profile(self, doc_id: str, **fields: Any) -> Profile:
        """Correct a document's profile by hand (an admin's edit): ``fields`` are Profile fields
        (``organizations``, ``doc_type``, ``date``, ``period_start``, ``period_end``, ``fiscal_year``,
        ``fiscal_quarter``, ``title``); a value of None clears the edit of that field, which goes back
        to what the rules read. Edited fields survive every re-ingest of the document."""
        return kb_documents.set_profile(self, doc_id, **fields)

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
            coverage=cfg.coverage,
            sentences=cfg.sentences,
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
        return kb_answers.chat_model_for(self.settings, spec)

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
        chat = self.answering_model(model)
        if chat is None and tables:
            chat = self.chat_model()  # raises the "no model configured" error, which says how to set one
        guard = self.prompt_guard(chat, on_prompt)

        def seen(prompt: Any) -> None:
            prompts.append(prompt)
            guard(prompt)

        scope = self.scope(question, access) if cfg.scope else Scope()
        filters = self._resolved(filters, access, scope)
        # a figure to compute needs to know which year's tables (the plan needs a year), and whose:
        # the organisation the question names, else one document must give every figure
        calculated = kb_answers.calculated(self, question, filters, access, scope) or kb_answers.compared(
            self, question, filters, access
        )
        if calculated is not None:
            answer = kb_answers.labelled(self, calculated, access, scope)
            return replace(answer, log_id=self.log_answer(answer, None, (time.perf_counter() - started) * 1000))
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
            answer = self.priced(kb_answers.labelled(self, from_tables, access, scope))
            sql = from_tables.table.sql if from_tables.table is not None else ""
            logged = replace(answer, text=f"{answer.text}\n\nSQL:\n{sql}")  # the log keeps the query too
            sent = "\n\n".join(p.render() for p in prompts)
            return replace(answer, log_id=self.log_answer(logged, sent, (time.perf_counter() - started) * 1000))

        hits = self.search(question, k=cfg.top_k, filters=filters, access=access)
        hits = kb_answers.more_of_the_first(self, question, hits, filters, access, 0 if chat else cfg.document_passages)
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
                stream=stream,
            )
        else:
            from docket.answer.grounded import grounded_answer

            numbered = NumberedStream(stream) if stream is not None else None  # the numbers the answer will have

            answer = grounded_answer(
                question,
                hits,
                chat,
                self.embedder,
                min_relevance=cfg.min_relevance,
                min_support=self.settings.model.min_support,
                stream=numbered,
                on_prompt=seen,
                instructions=instructions,
                on_reply=replies.append,
                store=self.store,
                documents=labels,
                context_tokens=cfg.context_tokens,
                count_tokens=getattr(self.embedder, "count_tokens", None) or estimate_tokens,
            )
            if numbered is not None:
                numbered.flush()
        if from_tables is not None:  # the table path was tried and gave up: say so, count its tokens
            spent, more = answer.usage or Usage(), from_tables.usage or Usage()
            usage = Usage(spent.prompt_tokens + more.prompt_tokens, spent.completion_tokens + more.completion_tokens)
            answer = replace(
                answer, notes=(*answer.notes, *from_tables.notes), usage=usage, model=answer.model or from_tables.model
            )
        answer = self.priced(kb_answers.labelled(self, answer, access, scope))
        # the log keeps every prompt and the model's raw replies, also those a fallback replaced
        record = [p.render() for p in prompts] + [f"[model reply]\n{r}" for r in replies]
        prompt_text = "\n\n".join(record) if record else None
        return replace(answer, log_id=self.log_answer(answer, prompt_text, (time.perf_counter() - started) * 1000))

    def _may_have_tables(self) -> bool:
        if self._tables is not None:
            return True
        from docket.index.tables import TableStore

        return TableStore.present(self.settings)

    def log_answer(self, answer: Answer, prompt: str | None, latency_ms: float) -> int:
        """Keep ``answer`` in the answer log with the prompt sent and the time taken; its log id."""
        return self.ledger.log_answer(kb_answers.log_record(answer, prompt, latency_ms))

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
            history = [Turn(t["question"], t["query"], t["answer"]) for t in self.ledger.conversation(conversation)]
        conversation = conversation or uuid.uuid4().hex[:12]
        chat = self.answering_model(model)
        query, rewrite_usage = standalone_question(message, history, chat, self.prompt_guard(chat, on_prompt))
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
        self.ledger.add_turn(
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
        return kb_documents.document_hits(self, files, access)

    def find_document(self, name: str) -> Document:
        """The indexed document ``name`` gives: its path (or the end of it, or source/path), or a
        file on disk that is indexed. NotFoundError when none is; UserError when several match."""
        return kb_documents.find_document(self, name)

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
        return kb_documents.document_task(self, None, files, access, model, stream, on_prompt, progress)

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
        return kb_documents.document_task(self, question, files, access, model, stream, on_prompt, progress)

    # ------------------------------------------------------------------ model plumbing
    def answering_model(self, model: str | ChatModel | None) -> ChatModel | None:
        """The model to answer with: the one given, else ``model.name``; None means extractive."""
        if model is None and self.settings.model.name is None:
            return None
        return model if model is not None and not isinstance(model, str) else self.chat_model(model)

    def prompt_guard(self, chat: ChatModel | None, on_prompt: Callable[[Any], None] | None) -> Callable[[Any], None]:
        """A prompt hook that shows the prompt, then refuses the call if it would pass a budget."""
        from docket.models.costs import check_budget, estimate_tokens, usage_cost

        mcfg = self.settings.model
        price = mcfg.prices.get(getattr(chat, "primary", chat).name) if chat is not None else None

        def hook(prompt: Any) -> None:
            if on_prompt is not None:
                on_prompt(prompt)
            estimate = usage_cost(Usage(estimate_tokens(prompt.render()), mcfg.max_tokens), price)
            check_budget(self.ledger, estimate, mcfg.daily_budget, mcfg.monthly_budget)

        return hook

    def priced(self, answer: Answer) -> Answer:
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
