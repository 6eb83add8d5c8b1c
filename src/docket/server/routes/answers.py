"""Search, ask, chat, cited passages, feedback, the answer log and unanswered questions.

Every route builds the caller's :class:`~docket.types.Access` and hands it to the knowledge base,
whose store applies it inside its queries; a workspace the caller may not use is a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from docket.errors import DocketError, NotFoundError
from docket.server.deps import CallerDep, state

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
    """Run ``run(stream)`` in the server's thread pool; send its text as ``token`` events, then the
    result as one ``answer`` event (or an ``error`` event with Docket's error shape).

    The answer is worked out in the same bounded pool as every other request (anyio's default
    limiter, sized in :func:`~docket.server.app.create_app`), never in a thread of its own, so a
    burst of streamed questions cannot run more answers at once than the pool allows; the stream
    waits for its events on the event loop and holds no thread while it does."""

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(kind: str, data: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the server stopped while answering: nobody to tell
                loop.call_soon_threadsafe(events.put_nowait, (kind, data))

        def work() -> None:
            try:
                put("answer", run(lambda piece: put("token", {"text": piece})))
            except DocketError as exc:
                put("error", exc.to_dict())
            except Exception as exc:  # the stream must end with a well-formed event
                error = {"code": "docket_error", "message": type(exc).__name__, "status": 500}
                put("error", {"error": error})

        answering = asyncio.ensure_future(to_thread.run_sync(work))  # finishes even if the client leaves
        while True:
            kind, data = await events.get()
            yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            if kind != "token":
                await answering
                return

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/search", summary="Hybrid search over the documents the caller may read")
def search(
    request: Request,
    c: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    workspace: str | None = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Passages that contain the query's words or are close in meaning; when none do, ``hits`` is
    empty, ``message`` says "No documents match" and ``suggestions`` holds queries to try (made
    only of the query's words and words of documents the caller may read)."""
    from docket.kb.suggestions import search_or_suggest

    found = search_or_suggest(state(request).kb, q, k=k, access=c.access(workspace))
    return {
        "query": q,
        "hits": [h.to_dict() for h in found.hits],
        "message": found.message,
        "suggestions": found.suggestions,
    }


@router.post("/ask", summary="A cited answer (JSON, or server-sent events with stream=true)", response_model=None)
def ask(body: AskBody, request: Request, c: CallerDep) -> dict[str, Any] | StreamingResponse:
    run = state(request).answering.ask(c, body.question, body.workspace)
    return _sse(run) if body.stream else run(None)


@router.post("/chat", summary="The next turn of a conversation", response_model=None)
def chat(body: ChatBody, request: Request, c: CallerDep) -> dict[str, Any] | StreamingResponse:
    run = state(request).answering.chat(c, body.message, body.conversation, body.workspace)
    return _sse(run) if body.stream else run(None)


@router.get("/chat", summary="The caller's conversations")
def conversations(request: Request, c: CallerDep) -> dict[str, Any]:
    return {"conversations": state(request).answering.conversations(c)}


@router.get("/chat/{conversation}", summary="One conversation's turns")
def conversation(conversation: str, request: Request, c: CallerDep) -> dict[str, Any]:
    return state(request).answering.conversation(c, conversation)


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
    feedback_id = state(request).answering.feedback(c, body.log_id, body.rating, body.comment)
    return {"id": feedback_id, "log_id": body.log_id, "rating": body.rating}


@router.get("/logs", summary="Logged answers: all for admins, the caller's own otherwise")
def logs(
    request: Request, c: CallerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: int = 0
) -> dict[str, Any]:
    return {"logs": [_summary(r) for r in state(request).answering.logs(c, limit, offset)]}


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "at", "question", "answer", "abstained", "method", "model", "prompt_tokens", "completion_tokens")
    return {k: record[k] for k in keep if k in record} | {
        "cost": record.get("cost"),
        "latency_ms": record["latency_ms"],
    }


@router.get("/logs/{log_id}", summary="One logged answer in full, with its prompt")
def log(log_id: int, request: Request, c: CallerDep) -> dict[str, Any]:
    return state(request).answering.log(c, log_id)


@router.get("/unanswered", summary="Questions Docket could not answer from the documents")
def unanswered(request: Request, c: CallerDep, workspace: str | None = None) -> dict[str, Any]:
    return {"questions": state(request).answering.unanswered(c, workspace)}
