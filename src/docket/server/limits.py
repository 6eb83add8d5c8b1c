"""Requests refused before they cost anything: too many at once, then credentials, then body size.

:class:`QueueLimit` is the outermost ASGI middleware: a server process holds at most
``server.max_requests`` requests to ``/api`` and ``/v1`` at once (running in the thread pool or
waiting for it); one more is answered at once with 503 (:class:`~docket.errors.BusyError`) and a
``Retry-After`` of ``server.retry_after_seconds``, so under a burst latency stays bounded and a
client learns when to come back, instead of every request waiting longer and longer. The web app's
pages and ``/healthz`` are never refused.

Request bodies are refused before they are read: credentials first, then size.

:class:`RequestGuard` is ASGI middleware in front of every route. For a route that needs a
signed-in caller (every route under ``/api`` and ``/v1`` but the few in :data:`PUBLIC_ROUTES`) it authenticates
the request from its headers alone — no byte of the body is read — and answers 401 (or 429 for
a throttled address, 403 for a missing CSRF token) at once; the caller it found is kept for the
route, so credentials are checked once. Then the body's size: a ``Content-Length`` above the
route's limit is a 413 before anything is read, and a body without one (chunked) is counted as it
streams and cut off with a 413 the moment it passes the limit. Nothing is parsed (JSON, forms)
before both checks, so memory stays flat whatever a client sends.

Limits: a multipart upload (``POST /api/workspaces/{name}/documents``) is at most
``server.max_upload_request_mb`` in all, with at most ``server.max_upload_files`` files of at most
``server.max_upload_mb`` each (each file counted as it streams, :class:`LimitedMultiPartParser`); a
workflow run's input file at most ``server.max_upload_mb``; every other body — JSON — at most
``server.max_json_kb``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser

from docket.errors import BusyError, DocketError, TooLargeError
from docket.server.deps import CALLER_KEY, caller

__all__ = [
    "CALLER_KEY",
    "PUBLIC_ROUTES",
    "LimitedMultiPartParser",
    "QueueLimit",
    "RequestGuard",
    "body_limit",
    "needs_caller",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Routes under /api and /v1 that need no signed-in caller; every other one does (a test checks
# this list against the routes' own dependencies, so a new public route cannot slip past it).
PUBLIC_ROUTES = (
    ("POST", re.compile(r"/api/session")),  # signing in
    ("POST", re.compile(r"/api/setup")),  # the first owner, with the one-time setup token
    (None, re.compile(r"/api/public/[^/]+/ask")),  # the website widget (and its CORS preflight)
)
UPLOAD_ROUTES = (
    (re.compile(r"/api/workspaces/[^/]+/documents"), "files"),  # several files
    (re.compile(r"/api/workflows/[^/]+/runs"), "file"),  # one input file
)
FORM_OVERHEAD = 1024 * 1024  # boundaries, part headers and the form's small fields


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (an HTTPException, so the
    framework's body readers let it through untouched)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


def needs_caller(method: str, path: str) -> bool:
    """Whether a request must be authenticated before its body is read (see PUBLIC_ROUTES)."""
    if not path.startswith(("/api/", "/v1/")):
        return False  # the web app, the widget script, webhooks (their token is checked by the route)
    return not any((m is None or m == method) and pattern.fullmatch(path) for m, pattern in PUBLIC_ROUTES)


def body_limit(settings: Any, method: str, path: str, content_type: str) -> tuple[int, str]:
    """(bytes, what to tell the client) for a request's body."""
    server = settings.server
    if method == "POST" and content_type.lower().startswith("multipart/form-data"):
        for pattern, field in UPLOAD_ROUTES:
            if pattern.fullmatch(path):
                if field == "files":
                    size = int(server.max_upload_request_mb * 1024 * 1024) + FORM_OVERHEAD
                    mb = server.max_upload_request_mb
                    what = f"an upload request is at most {mb:g} MB (server.max_upload_request_mb)"
                else:
                    size = int(server.max_upload_mb * 1024 * 1024) + FORM_OVERHEAD
                    what = f"the file is at most {server.max_upload_mb:g} MB (server.max_upload_mb)"
                return size, what
    return server.max_json_kb * 1024, f"a request body is at most {server.max_json_kb} KB (server.max_json_kb)"


async def _send_error(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class QueueLimit:
    """At most ``server.max_requests`` requests to /api and /v1 in this process at once; the next
    is a 503 with Retry-After (see the module docstring). The count lives on the event loop's
    thread, so it needs no lock; a streamed response counts until its last byte is sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.active = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        st = getattr(getattr(scope.get("app"), "state", None), "docket", None)
        if scope["type"] != "http" or st is None or not scope["path"].startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        server = st.settings.server
        if self.active >= server.max_requests:
            self.refused += 1
            error = BusyError(
                f"the server is busy: it holds {server.max_requests} requests at once (server.max_requests); "
                f"try again in {server.retry_after_seconds} s"
            )
            headers = {"Retry-After": str(server.retry_after_seconds)}
            await _send_error(send, error.status, error.code, str(error), headers)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class RequestGuard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        application: Any = scope.get("app")
        st = getattr(getattr(application, "state", None), "docket", None)
        if st is None:  # not the Docket app (mounted elsewhere): nothing to guard with
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if needs_caller(method, path):
            failure = await self._authenticate(scope)
            if failure is not None:
                await _send_error(send, failure.status, failure.code, str(failure))
                return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        limit, what = body_limit(st.settings, method, path, headers.get("content-type", ""))
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _send_error(send, 400, "invalid_request", "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _send_error(send, 413, "too_large", f"the request body is too large: {what}")
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"the request body is too large: {what}")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _send_error(send, 413, "too_large", str(exc.detail))

    async def _authenticate(self, scope: Scope) -> DocketError | None:
        """None when the request's credentials are good (the caller is kept in the scope's state),
        else the error to answer with. Only headers are read."""
        from anyio import to_thread
        from starlette.requests import Request

        request = Request(scope)  # no receive: reading the body here would fail loudly
        try:
            found = await to_thread.run_sync(caller, request)
        except DocketError as exc:
            return exc
        scope.setdefault("state", {})[CALLER_KEY] = found
        return None


class LimitedMultiPartParser(MultiPartParser):
    """Starlette's multipart parser with a size limit on each file, counted as the file streams:
    a file above ``max_file_size`` is refused (413) the moment it passes it, not once the whole
    upload has been spooled to disk."""

    def __init__(self, *args: Any, max_file_size: int, describe: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_file_size = max_file_size
        self.describe = describe
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file_size:
                name = self._current_part.file.filename or "a file"
                raise TooLargeError(f"{name} is larger than {self.describe}")
        super().on_part_data(data, start, end)


async def read_upload_form(request: Any, settings: Any, *, max_files: int) -> Any:
    """The multipart form of an upload request, each file refused (413) as soon as it passes
    ``server.max_upload_mb`` while it streams; a body that is no form is a 400 naming the fix."""
    from starlette.formparsers import MultiPartException

    from docket.errors import UserError

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UserError("send the files as multipart/form-data (the field 'files')")
    limit_mb = settings.server.max_upload_mb
    parser = LimitedMultiPartParser(
        request.headers,
        request.stream(),
        max_files=max_files,
        max_fields=20,
        max_file_size=int(limit_mb * 1024 * 1024),
        describe=f"the upload limit of {limit_mb:g} MB (server.max_upload_mb)",
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise UserError(f"the upload is not a valid form: {exc.message}") from None
