"""The OpenAI-compatible endpoint: any OpenAI client can ask a workspace.

``POST /v1/chat/completions`` takes the workspace's name as ``model`` and a Docket API key as the
bearer token (``docket keys create``). The last ``user`` message is the question; the earlier user
and assistant messages are the conversation, used only to rewrite a follow-up into a standalone
question (:func:`~docket.answer.conversation.standalone_question`). ``system`` and ``developer``
messages are ignored: Docket's prompt is its own, so a client cannot talk it out of answering only
from the documents.

The reply is a standard ``chat.completion`` whose text carries the ``[n]`` markers, plus a top-level
``citations`` list, one per number (``citations[n - 1]`` is ``[n]``: ``n``, ``path``, ``location``,
``quote``, ``quotes`` — every quote of that source —, ``supported``) and ``docket`` extras
(``abstained``, ``log_id``, ``query``). With ``stream: true`` it is a stream of
``chat.completion.chunk`` events; the last one (``finish_reason: "stop"``) carries the citations.
``GET /v1/models`` lists the workspaces the key may use. Errors keep Docket's one shape,
``{"error": {"code", "message", "status"}}``, which OpenAI SDKs read as their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from docket.answer.conversation import Turn
from docket.answer.numbering import by_number
from docket.errors import DocketError, NotFoundError, UserError
from docket.server.answering import Completion
from docket.server.auth import Caller
from docket.server.deps import CallerDep, ServerState, state
from docket.types import Usage

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])


MAX_QUESTION_CHARS = 4000


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class CompletionRequest(BaseModel):
    """The fields Docket reads; every other OpenAI parameter (temperature, max_tokens, ...) is ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200, description="The workspace to answer from.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------- requests
def _text(message: ChatMessage) -> str:
    """A message's text: a string, or the ``text`` parts of a list of content parts."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text":
            raise UserError(f"only text content is supported, not '{part.get('type')}' parts")
        parts.append(str(part.get("text") or ""))
    return "\n".join(parts)


def _check_supported(body: CompletionRequest) -> None:
    if body.n is not None and body.n != 1:
        raise UserError("n must be 1: Docket gives one answer per question")
    calls_tools = body.tool_choice not in (None, "none") or body.function_call not in (None, "none")
    if body.tools or body.functions or calls_tools:
        raise UserError("tools and function calling are not supported: Docket answers from documents only")
    if body.response_format is not None and body.response_format.get("type", "text") != "text":
        raise UserError("response_format must be text: Docket answers in prose with [n] citations")


def _question_and_history(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The last user message, and the earlier user/assistant exchanges as conversation turns."""
    for m in messages:
        if m.role not in ("system", "developer", "user", "assistant"):
            raise UserError(f"unsupported message role '{m.role}'; use user and assistant (system is ignored)")
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise UserError("the last message must be the user's question")
    *earlier, last = turns
    question = _text(last).strip()
    if not question:
        raise UserError("the question (the last user message) is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(f"the question is longer than {MAX_QUESTION_CHARS} characters; ask something shorter")
    history: list[Turn] = []
    pending: str | None = None
    for m in earlier:
        text = _text(m).strip()
        if m.role == "user":
            if pending is not None:  # two user messages in a row: the first went unanswered
                history.append(Turn(pending, pending, ""))
            pending = text
        elif pending is not None:  # an assistant message before any question (a greeting) is skipped
            history.append(Turn(pending, pending, text))
            pending = None
    if pending is not None:
        history.append(Turn(pending, pending, ""))
    return question, history


def _answer(st: ServerState, c: Caller, body: CompletionRequest, stream: Callable[[str], None] | None) -> Completion:
    """Answer the last question, rewritten with the history, and record who asked (runs in a thread)."""
    question, history = _question_and_history(body.messages)
    return st.answering.complete(c, body.model, question, history, stream)


# ---------------------------------------------------------------------------------------- responses
def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _extras(result: Completion) -> dict[str, Any]:
    answer = result.answer
    return {
        # OpenAI-style: citations[n - 1] is [n], one per number, with every quote it stands for
        "citations": [{**c.to_dict(), "quotes": quotes} for c, quotes in by_number(answer)],
        "docket": {"abstained": answer.abstained, "log_id": answer.log_id, "query": result.query},
    }


def _completion(completion_id: str, created: int, workspace: str, result: Completion) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": workspace,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(result.usage),
        **_extras(result),
    }


def _chunk(
    completion_id: str, created: int, workspace: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": workspace,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _pieces(text: str) -> list[str]:
    """``text`` cut into words, each with the space before the next one (they join back exactly)."""
    return [p for p in re.split(r"(?<=\s)(?=\S)", text) if p]


def _rest(streamed: str, final: str) -> str:
    """What to send after ``streamed`` so the client ends with ``final``.

    Docket's checks may change the model's reply after it was streamed (a citation to a source it
    was not given removed; a reply that cited nothing replaced by the extractive answer). A stream
    cannot take text back, so the corrected answer then follows in full after a blank line.
    """
    if final.startswith(streamed):
        return final[len(streamed) :]
    if not streamed.strip():
        return final
    return "\n\n" + final


def _sse(data: Any) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/chat/completions", summary="A cited answer from a workspace, OpenAI-style", response_model=None)
async def chat_completions(body: CompletionRequest, request: Request, c: CallerDep) -> JSONResponse | StreamingResponse:
    _check_supported(body)
    st = state(request)
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())
    workspace = body.model

    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(kind: str, data: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the server stopped while answering: nobody to tell
            loop.call_soon_threadsafe(events.put_nowait, (kind, data))

    def work() -> None:  # in a worker thread: the model's tokens come from here
        try:
            put("done", _answer(st, c, body, (lambda piece: put("token", piece)) if body.stream else None))
        except Exception as exc:  # handed to the request, which raises or reports it
            put("error", exc)

    # in the server's bounded thread pool, like every other request (not a thread of its own)
    answering = asyncio.ensure_future(to_thread.run_sync(work))
    kind, data = await events.get()
    if kind == "error":  # before any text: an ordinary HTTP error (404, 401, 402, 502...)
        raise data
    if not body.stream:
        return JSONResponse(_completion(completion_id, created, workspace, data))

    include_usage = bool((body.stream_options or {}).get("include_usage"))

    async def stream() -> AsyncIterator[str]:
        streamed = ""
        item: tuple[str, Any] = (kind, data)
        yield _sse(_chunk(completion_id, created, workspace, {"role": "assistant", "content": ""}, None))
        while True:
            what, value = item
            if what == "token":
                streamed += value
                yield _sse(_chunk(completion_id, created, workspace, {"content": value}, None))
            elif what == "error":
                error = value if isinstance(value, DocketError) else DocketError(type(value).__name__)
                yield _sse(error.to_dict())
                return
            else:
                result: Completion = value
                for piece in _pieces(_rest(streamed, result.answer.text)):
                    yield _sse(_chunk(completion_id, created, workspace, {"content": piece}, None))
                last = _chunk(completion_id, created, workspace, {}, "stop") | _extras(result)
                last["docket"]["text"] = result.answer.text
                yield _sse(last)
                if include_usage:
                    usage_chunk = _chunk(completion_id, created, workspace, {}, None)
                    yield _sse(usage_chunk | {"choices": [], "usage": _usage(result.usage)})
                yield "data: [DONE]\n\n"
                await answering
                return
            item = await events.get()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# ---------------------------------------------------------------------------------------- models
def _model(info: dict[str, Any]) -> dict[str, Any]:
    return {"id": info["name"], "object": "model", "created": int(info["created"]), "owned_by": "docket"}


@router.get("/models", summary="The workspaces this key may ask, as OpenAI models")
def models(request: Request, c: CallerDep) -> dict[str, Any]:
    return {"object": "list", "data": [_model(w) for w in state(request).answering.workspaces(c)]}


@router.get("/models/{workspace}", summary="One workspace, as an OpenAI model")
def model(workspace: str, request: Request, c: CallerDep) -> dict[str, Any]:
    for info in state(request).answering.workspaces(c):
        if info["name"] == workspace:
            return _model(info)
    raise NotFoundError(f"no workspace '{workspace}'")
