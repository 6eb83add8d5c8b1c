"""Answers on the server, for every surface (the API, the OpenAI-compatible endpoint, the website
widget): the workspace's answering options within its budget, who asked which answer and owns
which conversation, and who may see which logged answer and unanswered question.

The routes parse a request, call one method of :class:`Answering` (built once by
:func:`~docket.server.deps.build_state`) and format what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from docket.accounts import Accounts
from docket.accounts.principal import Principal
from docket.answer.conversation import Turn, standalone_question
from docket.errors import ForbiddenError, NotFoundError, UserError
from docket.evals.gaps import find_gaps
from docket.kb import ChatReply, KnowledgeBase
from docket.types import Access, Answer, Filters, Usage

__all__ = ["Answering", "Completion"]

Stream = Callable[[str], None] | None
_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Completion:
    """An answer to an OpenAI-style request: the answer, the standalone question it answered and
    the tokens both steps used."""

    answer: Answer
    query: str
    usage: Usage


class Answering:
    def __init__(self, kb: KnowledgeBase, accounts: Accounts) -> None:
        self.kb, self.accounts = kb, accounts

    # ------------------------------------------------------------------ options
    def options(self, workspace: str | None) -> dict[str, Any]:
        """``model`` and ``instructions`` for answers in ``workspace`` (its settings), after checking
        its daily budget; an empty dict outside a workspace (the server's settings apply)."""
        if workspace is None:
            return {}
        self.accounts.budgets.check(workspace, self.kb.ledger)
        settings = self.accounts.workspaces.settings(workspace)
        return {"model": settings.model, "instructions": settings.prompt}

    def _record(self, caller: Principal, answer: Answer, workspace: str | None, surface: str) -> dict[str, Any]:
        if answer.log_id is not None:
            scope = [workspace] if workspace else (None if caller.workspaces is None else list(caller.workspaces))
            self.accounts.answers.record(answer.log_id, caller.user_id, scope, surface)
        return answer.to_dict()

    # ------------------------------------------------------------------ the API
    def ask(
        self,
        caller: Principal,
        question: str,
        workspace: str | None,
        *,
        filters: Filters = Filters(),
        surface: str = "api",
    ) -> Callable[[Stream], dict[str, Any]]:
        """Check the caller may ask in ``workspace`` (and its budget); the returned function answers
        (streaming its text to the function it is given) and records who asked, on which surface
        (``api``, ``mcp``)."""
        access = caller.access(workspace)
        options = self.options(workspace)

        def run(stream: Stream) -> dict[str, Any]:
            answer = self.kb.ask(question, filters=filters, access=access, stream=stream, **options)
            return self._record(caller, answer, workspace, surface)

        return run

    def chat(
        self, caller: Principal, message: str, conversation: str | None, workspace: str | None
    ) -> Callable[[Stream], dict[str, Any]]:
        """Like :meth:`ask`, for the next turn of one of the caller's conversations (a new one
        without ``conversation``; someone else's is a 404)."""
        access = caller.access(workspace)
        if conversation is not None:
            self._own_conversation(caller, conversation)
        options = self.options(workspace)

        def run(stream: Stream) -> dict[str, Any]:
            reply = self.kb.chat(message, conversation=conversation, access=access, stream=stream, **options)
            self.accounts.answers.claim_conversation(reply.conversation, caller.user_id, workspace)
            answer = self._record(caller, reply.answer, workspace, "chat")
            return {"conversation": reply.conversation, "message": reply.message, "query": reply.query, **answer}

        return run

    def _own_conversation(self, caller: Principal, conversation: str) -> tuple[int | None, str | None]:
        owner = self.accounts.answers.conversation_owner(conversation)
        if owner is None or owner[0] != caller.user_id:
            raise NotFoundError(f"no conversation '{conversation}'")
        return owner

    def conversations(self, caller: Principal) -> list[dict[str, Any]]:
        mine = set(self.accounts.answers.conversations_of(caller.user_id))
        return [conv for conv in self.kb.ledger.conversations(limit=500) if conv["id"] in mine]

    def conversation(self, caller: Principal, conversation: str) -> dict[str, Any]:
        owner = self._own_conversation(caller, conversation)
        return {"id": conversation, "workspace": owner[1], "turns": self.kb.ledger.conversation(conversation)}

    # ------------------------------------------------------------------ the answer log
    def log(self, caller: Principal, log_id: int) -> dict[str, Any]:
        """A logged answer the caller may see: their own, or any for the owner and admins."""
        record = self.kb.ledger.answer_log(log_id)
        if caller.is_server_admin:
            return record
        owner = self.accounts.answers.owner(log_id)
        if owner is None or not caller.owns_answer(owner):
            raise NotFoundError(f"no logged answer with id {log_id}")
        return record

    def logs(self, caller: Principal, limit: int, offset: int) -> list[dict[str, Any]]:
        """Logged answers, newest first: all of them for admins, the caller's own otherwise."""
        if caller.is_server_admin:
            return list(self.kb.ledger.answer_logs(limit=limit, offset=offset))
        ids = self.accounts.answers.of(caller.user_id)
        if caller.workspaces is not None:
            owners = self.accounts.answers.owners(ids)
            ids = [i for i in ids if caller.owns_answer(owners.get(i, (None, None)))]
        return [self.kb.ledger.answer_log(i) for i in ids[offset : offset + limit]]

    def feedback(self, caller: Principal, log_id: int, rating: int, comment: str) -> int:
        """Record a rating (1 or -1) of an answer the caller may see; the feedback's id."""
        if rating not in (1, -1):
            raise UserError("rating must be 1 (helpful) or -1 (not helpful)")
        self.log(caller, log_id)
        return self.accounts.answers.add_feedback(caller.user_id, log_id, rating, comment)

    def unanswered(self, caller: Principal, workspace: str | None) -> list[dict[str, Any]]:
        """The recent questions Docket abstained on: the caller's own, every one for admins, or
        those asked in ``workspace`` (for its admins)."""
        if workspace is not None:
            caller.require_role(workspace, "admin")
        questions = []
        abstained = [r for r in self.kb.ledger.answer_logs(limit=500) if r["abstained"]]
        owners = self.accounts.answers.owners(r["id"] for r in abstained)
        for record in abstained:
            owner = owners.get(record["id"])
            scope = owner[1] if owner else None
            if workspace is not None and (scope is None or workspace not in scope):
                continue
            mine = owner is not None and owner[0] == caller.user_id
            if workspace is None and not caller.is_server_admin and not mine:
                continue
            questions.append({"log_id": record["id"], "question": record["question"], "at": record["at"]})
        return questions

    def gaps(
        self, caller: Principal, workspace: str | None, since: float | None, min_confidence: float, threshold: float
    ) -> dict[str, Any]:
        """The knowledge-gap report (:func:`docket.evals.gaps.find_gaps`) over the questions the
        caller may see (:meth:`gaps_filter`)."""
        keep = self.gaps_filter(caller, workspace)
        return find_gaps(
            self.kb, accounts=self.accounts, since=since, min_confidence=min_confidence, threshold=threshold, keep=keep
        )

    def gaps_filter(self, caller: Principal, workspace: str | None) -> Callable[[Mapping[str, Any]], bool]:
        """Which logged questions the caller's knowledge-gap report may include: all for server
        admins, else those asked in ``workspace`` or in the workspaces they administer (403 for
        someone who administers none)."""
        mine: set[str] | None
        if workspace is not None:
            caller.require_role(workspace, "admin")
            mine = {workspace}
        elif caller.is_server_admin:
            mine = None
        else:
            mine = {w for w in (caller.workspaces or ()) if caller.role_in(w) == "admin"}
            if not mine:
                raise ForbiddenError("the knowledge gaps need the admin role in a workspace")

        def keep(record: Mapping[str, Any]) -> bool:
            if mine is None:
                return True
            owner = self.accounts.answers.owner(int(record["id"]))
            scope = owner[1] if owner else None
            return scope is not None and bool(mine & set(scope))

        return keep

    # ------------------------------------------------------------------ the OpenAI-compatible endpoint
    def workspaces(self, caller: Principal) -> list[dict[str, Any]]:
        """The workspaces the caller may ask."""
        names = self.accounts.workspaces.names()
        if caller.workspaces is not None:
            names = [n for n in names if n in caller.workspaces]
        return [self.accounts.workspaces.get(n) for n in names]

    def complete(
        self, caller: Principal, workspace: str, question: str, history: list[Turn], stream: Stream
    ) -> Completion:
        """Rewrite ``question`` with the history, answer it from ``workspace`` (one 404 for a
        workspace that is missing and one the caller may not use) and record who asked."""
        try:
            self.accounts.workspaces.get(workspace)
            access = caller.access(workspace)
        except NotFoundError:
            raise NotFoundError(f"no workspace '{workspace}'") from None
        options = self.options(workspace)  # the workspace's model and prompt; 402 past its budget
        kb = self.kb
        chat = kb.answering_model(options.get("model"))
        query, rewrite = standalone_question(question, history, chat, kb.prompt_guard(chat, None))
        answer = kb.ask(query, access=access, model=chat, stream=stream, instructions=options.get("instructions", ""))
        if answer.log_id is not None:
            self.accounts.answers.record(answer.log_id, caller.user_id, [workspace], "openai")
        used = answer.usage or Usage()
        usage = Usage(used.prompt_tokens + rewrite.prompt_tokens, used.completion_tokens + rewrite.completion_tokens)
        return Completion(answer, query, usage)

    # ------------------------------------------------------------------ the website widget
    def public_settings(self, workspace: str) -> dict[str, Any]:
        """The settings of a public workspace; the same 404 for a private one and a missing one."""
        try:
            info = self.accounts.workspaces.get(workspace)
        except NotFoundError:
            info = None
        if info is None or not info["public"]:
            raise NotFoundError(f"no public workspace '{workspace}'")
        settings: dict[str, Any] = info["settings"]
        return settings

    @staticmethod
    def origin_allowed(settings: Mapping[str, Any], origin: str, own: str) -> bool:
        """May a page from ``origin`` use the widget of a workspace with these settings? Pages of
        its own server (``own``) always may."""
        wanted = _normal_origin(origin)
        if wanted == own.lower():
            return True
        allowed = settings.get("allowed_origins") or []
        if isinstance(allowed, str):
            allowed = [allowed]
        return any(a == "*" or _normal_origin(str(a)) == wanted for a in allowed)

    def widget_chat(self, workspace: str, question: str, conversation: str | None) -> ChatReply:
        """An anonymous visitor's question to a public workspace: retrieval sees only its documents
        without an access list; a conversation that is not this widget's starts a new one
        (revealing nothing); the answer is recorded with the surface ``widget`` and no user."""
        if conversation is not None and (
            not _CONVERSATION_ID.match(conversation)
            or self.accounts.answers.conversation_owner(conversation) != (None, workspace)
        ):
            conversation = None
        reply = self.kb.chat(
            question,
            conversation=conversation,
            access=Access(workspaces=(workspace,), principals=()),
            **self.options(workspace),  # the workspace's model and prompt, within its budget
        )
        self.accounts.answers.claim_conversation(reply.conversation, None, workspace)
        if reply.answer.log_id is not None:
            self.accounts.answers.record(reply.answer.log_id, None, [workspace], "widget")
        return reply


def _normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()
