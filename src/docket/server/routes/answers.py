"""Search, ask, chat, cited passages, feedback, the answer log and unanswered questions.

Every route builds the caller's :class:`~docket.types.Access` and hands it to the knowledge base,
whose store applies it inside its queries; a workspace the caller may not use is a 404.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from docket.errors import DocketError, NotFoundError
from docket.server.auth import Caller
from docket.server.deps import CallerDep, ServerState, state
from docket.types import Answer

router = APIRouter(prefix="/api", tags=["answers"])


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
        st.accounts.answers.record(answer.log_id, c.user.id if c.user else None, scope, surface)
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
    options = st.answer_options(body.workspace)

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
        owner = st.accounts.answers.conversation_owner(body.conversation)
        if owner is None or owner[0] != user_id:
            raise NotFoundError(f"no conversation '{body.conversation}'")
    options = st.answer_options(body.workspace)

    def run(stream: Callable[[str], None] | None) -> dict[str, Any]:
        reply = st.kb.chat(body.message, conversation=body.conversation, access=access, stream=stream, **options)
        st.accounts.answers.claim_conversation(reply.conversation, user_id, body.workspace)
        answer = _answer_dict(st, c, reply.answer, body.workspace, "chat")
        return {"conversation": reply.conversation, "message": reply.message, "query": reply.query, **answer}

    return _sse(run) if body.stream else run(None)


@router.get("/chat", summary="The caller's conversations")
def conversations(request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    mine = set(st.accounts.answers.conversations_of(c.user.id if c.user else None))
    listed = [conv for conv in st.kb.ledger.conversations(limit=500) if conv["id"] in mine]
    return {"conversations": listed}


@router.get("/chat/{conversation}", summary="One conversation's turns")
def conversation(conversation: str, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    owner = st.accounts.answers.conversation_owner(conversation)
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
    feedback_id = st.accounts.answers.add_feedback(
        c.user.id if c.user else None, body.log_id, body.rating, body.comment
    )
    return {"id": feedback_id, "log_id": body.log_id, "rating": body.rating}


def raise_invalid(message: str) -> None:
    from docket.errors import UserError

    raise UserError(message)


def _visible_log(st: ServerState, c: Caller, log_id: int) -> dict[str, Any]:
    """A logged answer the caller may see: their own, or any for the owner and admins."""
    record = st.kb.ledger.answer_log(log_id)
    if c.is_server_admin:
        return record
    owner = st.accounts.answers.owner(log_id)
    if owner is None or not c.owns_answer(owner):
        raise NotFoundError(f"no logged answer with id {log_id}")
    return record


@router.get("/logs", summary="Logged answers: all for admins, the caller's own otherwise")
def logs(
    request: Request, c: CallerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: int = 0
) -> dict[str, Any]:
    st = state(request)
    if c.is_server_admin:
        records = st.kb.ledger.answer_logs(limit=limit, offset=offset)
    else:
        ids = st.accounts.answers.of(c.user.id if c.user else None)
        if c.workspaces is not None:
            owners = st.accounts.answers.owners(ids)
            ids = [i for i in ids if c.owns_answer(owners.get(i, (None, None)))]
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
    abstained = [r for r in st.kb.ledger.answer_logs(limit=500) if r["abstained"]]
    owners = st.accounts.answers.owners(r["id"] for r in abstained)
    for record in abstained:
        owner = owners.get(record["id"])
        scope = owner[1] if owner else None
        if workspace is not None and (scope is None or workspace not in scope):
            continue
        mine = owner is not None and owner[0] == (c.user.id if c.user else None)
        if workspace is None and not c.is_server_admin and not mine:
            continue
        questions.append({"log_id": record["id"], "question": record["question"], "at": record["at"]})
    return {"questions": questions}
