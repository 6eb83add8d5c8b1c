"""Search, ask, chat, cited passages, feedback, the answer log and unanswered questions.

Every route builds the caller's :class:`~docket.types.Access` and hands it to the knowledge base,
whose store applies it inside its queries; a workspace the caller may not use is a 404.
"""

from __future__ import annotations

import datetime
import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from docket.errors import BudgetExceededError, DocketError, NotFoundError
from docket.server.app import ServerState, caller, state
from docket.server.auth import Caller
from docket.types import Answer

router = APIRouter(prefix="/api", tags=["answers"])

CallerDep = Annotated[Caller, Depends(caller)]


class AskBody(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    workspace: str | None = None
    stream: bool = False


class ChatBody(BaseModel):
    message: str = Field(min_length=1, max_length=4000)
    conversation: str | None = Field(None, max_length=64)
    workspace: str | None = None
    stream: bool = False


class FeedbackBody(BaseModel):
    log_id: int
    rating: int = Field(description="1 (helpful) or -1 (not helpful)")
    comment: str = Field("", max_length=4000)


def answer_options(st: ServerState, workspace: str | None) -> dict[str, Any]:
    """``model`` and ``instructions`` for answers in ``workspace`` (its settings), after checking
    its daily budget; an empty dict outside a workspace (the server's settings apply)."""
    if workspace is None:
        return {}
    settings = st.accounts.workspace(workspace)["settings"]
    budget = settings.get("daily_budget")
    if budget is not None:
        since = datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        spent = 0.0
        for record in st.kb.ledger.answer_logs(limit=100_000):
            if record["at"] < since:
                break
            owner = st.accounts.answer_owner(record["id"])
            if owner is not None and owner[1] and workspace in owner[1]:
                spent += record["cost"] or 0.0
        if spent >= float(budget):
            raise BudgetExceededError(
                f"the workspace '{workspace}' has spent its daily model budget of ${float(budget):.2f}; "
                "an admin can raise daily_budget in the workspace settings"
            )
    return {"model": settings.get("model") or None, "instructions": str(settings.get("prompt") or "")}


def _sse(run: Callable[[Callable[[str], None]], dict[str, Any]]) -> StreamingResponse:
    """Run ``run(stream)`` in a worker thread; send its text as ``token`` events, then the result
    as one ``answer`` event (or an ``error`` event with Docket's error shape)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            events.put(("answer", run(lambda piece: events.put(("token", {"text": piece})))))
        except DocketError as exc:
            events.put(("error", exc.to_dict()))
        except Exception as exc:  # the stream must end with a well-formed event
            error = {"code": "docket_error", "message": type(exc).__name__, "status": 500}
            events.put(("error", {"error": error}))

    threading.Thread(target=work, daemon=True).start()

    def stream() -> Iterator[str]:  # Starlette iterates a plain generator in its thread pool
        while True:
            kind, data = events.get()
            yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            if kind != "token":
                return

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def _answer_dict(st: ServerState, c: Caller, answer: Answer, workspace: str | None, surface: str) -> dict[str, Any]:
    if answer.log_id is not None:
        scope = [workspace] if workspace else (None if c.workspaces is None else list(c.workspaces))
        st.accounts.record_answer(answer.log_id, c.user.id if c.user else None, scope, surface)
    return answer.to_dict()


@router.get("/search", summary="Hybrid search over the documents the caller may read")
def search(
    request: Request,
    c: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    workspace: str | None = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    hits = state(request).kb.search(q, k=k, access=c.access(workspace))
    return {"query": q, "hits": [h.to_dict() for h in hits]}


@router.post("/ask", summary="A cited answer (JSON, or server-sent events with stream=true)", response_model=None)
def ask(body: AskBody, request: Request, c: CallerDep) -> dict[str, Any] | StreamingResponse:
    st = state(request)
    access = c.access(body.workspace)
    options = answer_options(st, body.workspace)

    def run(stream: Callable[[str], None] | None) -> dict[str, Any]:
        answer = st.kb.ask(body.question, access=access, stream=stream, **options)
        return _answer_dict(st, c, answer, body.workspace, "api")

    return _sse(run) if body.stream else run(None)


@router.post("/chat", summary="The next turn of a conversation", response_model=None)
def chat(body: ChatBody, request: Request, c: CallerDep) -> dict[str, Any] | StreamingResponse:
    st = state(request)
    access = c.access(body.workspace)
    user_id = c.user.id if c.user else None
    if body.conversation is not None:
        owner = st.accounts.conversation_owner(body.conversation)
        if owner is None or owner[0] != user_id:
            raise NotFoundError(f"no conversation '{body.conversation}'")
    options = answer_options(st, body.workspace)

    def run(stream: Callable[[str], None] | None) -> dict[str, Any]:
        reply = st.kb.chat(body.message, conversation=body.conversation, access=access, stream=stream, **options)
        st.accounts.claim_conversation(reply.conversation, user_id, body.workspace)
        answer = _answer_dict(st, c, reply.answer, body.workspace, "chat")
        return {"conversation": reply.conversation, "message": reply.message, "query": reply.query, **answer}

    return _sse(run) if body.stream else run(None)


@router.get("/chat", summary="The caller's conversations")
def conversations(request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    mine = set(st.accounts.conversations_of(c.user.id if c.user else None))
    listed = [conv for conv in st.kb.ledger.conversations(limit=500) if conv["id"] in mine]
    return {"conversations": listed}


@router.get("/chat/{conversation}", summary="One conversation's turns")
def conversation(conversation: str, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    owner = st.accounts.conversation_owner(conversation)
    if owner is None or owner[0] != (c.user.id if c.user else None):
        raise NotFoundError(f"no conversation '{conversation}'")
    return {"id": conversation, "workspace": owner[1], "turns": st.kb.ledger.conversation(conversation)}


@router.get("/passages/{chunk_id}", summary="A cited passage, for showing a citation")
def passage(chunk_id: int, request: Request, c: CallerDep) -> dict[str, Any]:
    hits = state(request).kb.store.hits([(chunk_id, 0.0)], c.access())
    if not hits:
        raise NotFoundError(f"no passage {chunk_id}")
    hit = hits[0]
    return {
        **hit.to_dict(),
        "document_url": f"/api/documents/{hit.doc_id}/download",
    }


@router.post("/feedback", summary="Thumbs up or down, with a comment, on an answer")
def feedback(body: FeedbackBody, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    if body.rating not in (1, -1):
        raise_invalid("rating must be 1 (helpful) or -1 (not helpful)")
    _visible_log(st, c, body.log_id)
    feedback_id = st.accounts.add_feedback(c.user.id if c.user else None, body.log_id, body.rating, body.comment)
    return {"id": feedback_id, "log_id": body.log_id, "rating": body.rating}


def raise_invalid(message: str) -> None:
    from docket.errors import UserError

    raise UserError(message)


def _visible_log(st: ServerState, c: Caller, log_id: int) -> dict[str, Any]:
    """A logged answer the caller may see: their own, or any for the owner and admins."""
    record = st.kb.ledger.answer_log(log_id)
    if c.is_server_admin:
        return record
    owner = st.accounts.answer_owner(log_id)
    if owner is None or not _own_answer(c, owner):
        raise NotFoundError(f"no logged answer with id {log_id}")
    return record


def _own_answer(c: Caller, owner: tuple[int | None, list[str] | None]) -> bool:
    """The caller's own answer, asked within the workspaces their key is limited to (if it is)."""
    if owner[0] != (c.user.id if c.user else None):
        return False
    return c.workspaces is None or (owner[1] is not None and set(owner[1]) <= set(c.workspaces))


@router.get("/logs", summary="Logged answers: all for admins, the caller's own otherwise")
def logs(
    request: Request, c: CallerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: int = 0
) -> dict[str, Any]:
    st = state(request)
    if c.is_server_admin:
        records = st.kb.ledger.answer_logs(limit=limit, offset=offset)
    else:
        ids = st.accounts.answers_of(c.user.id if c.user else None)
        if c.workspaces is not None:
            ids = [i for i in ids if _own_answer(c, st.accounts.answer_owner(i) or (None, None))]
        records = [st.kb.ledger.answer_log(i) for i in ids[offset : offset + limit]]
    return {"logs": [_summary(r) for r in records]}


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "at", "question", "answer", "abstained", "method", "model", "prompt_tokens", "completion_tokens")
    return {k: record[k] for k in keep if k in record} | {
        "cost": record.get("cost"),
        "latency_ms": record["latency_ms"],
    }


@router.get("/logs/{log_id}", summary="One logged answer in full, with its prompt")
def log(log_id: int, request: Request, c: CallerDep) -> dict[str, Any]:
    return _visible_log(state(request), c, log_id)


@router.get("/unanswered", summary="Questions Docket could not answer from the documents")
def unanswered(request: Request, c: CallerDep, workspace: str | None = None) -> dict[str, Any]:
    st = state(request)
    if workspace is not None:
        c.require_role(workspace, "admin")
    questions = []
    for record in st.kb.ledger.answer_logs(limit=500):
        if not record["abstained"]:
            continue
        owner = st.accounts.answer_owner(record["id"])
        scope = owner[1] if owner else None
        if workspace is not None and (scope is None or workspace not in scope):
            continue
        mine = owner is not None and owner[0] == (c.user.id if c.user else None)
        if workspace is None and not c.is_server_admin and not mine:
            continue
        questions.append({"log_id": record["id"], "question": record["question"], "at": record["at"]})
    return {"questions": questions}
