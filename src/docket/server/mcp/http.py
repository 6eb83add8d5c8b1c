"""``/mcp`` in ``docket serve``: the MCP server over streamable HTTP, authenticated with the same
API keys as the REST API.

:class:`MCPEndpoint` is a plain ASGI endpoint. It authenticates a request from its headers alone
(``Authorization: Bearer dk_...``; a wrong key is a 401 and counts towards the address's
``server.key_attempts`` like any wrong key) before any of the body is read, keeps the caller in
the request's state for the tools (:func:`request_caller`), and hands the request to the SDK's
session manager. The server is stateless and answers in JSON (no session to find again, so any
server process can answer any request). Without ``pip install 'docket[mcp]'`` it answers 400 naming
that command.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from docket.accounts.principal import Principal
from docket.errors import AuthError, DocketError
from docket.server.deps import CALLER_KEY, ServerState, caller

__all__ = ["MCP_PATH", "MCPEndpoint", "mcp_installed", "request_caller"]

MCP_PATH = "/mcp"
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def mcp_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("mcp") is not None


def request_caller(ctx: Any) -> Principal:
    """Who an MCP request over HTTP is: the caller :class:`MCPEndpoint` authenticated."""
    request = getattr(getattr(ctx, "request_context", None), "request", None)
    found = None if request is None else request.scope.get("state", {}).get(CALLER_KEY)
    if not isinstance(found, Principal):
        raise AuthError("send an API key as 'Authorization: Bearer dk_...' (docket keys create)")
    return found


async def _send_error(send: Send, exc: DocketError) -> None:
    body = json.dumps(exc.to_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="docket"'))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class MCPEndpoint:
    """The ASGI endpoint described in the module docstring; :meth:`running` spans the server's life."""

    def __init__(self, st: ServerState) -> None:
        self.st = st
        self.server: Any = None
        if mcp_installed():
            from docket.server.mcp.server import build_server

            self.server = build_server(st, request_caller, streamable_http_path=MCP_PATH)
            self.server.streamable_http_app()  # creates its session manager, run by :meth:`running`

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if self.server is None:
            yield
            return
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.server is None:
            from docket.errors import MissingExtraError

            await _send_error(send, MissingExtraError("mcp", "mcp", "The MCP server"))
            return
        try:
            found = await self._authenticate(scope)
        except DocketError as exc:
            await _send_error(send, exc)
            return
        scope.setdefault("state", {})[CALLER_KEY] = found
        await self.server.session_manager.handle_request(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        from anyio import to_thread
        from starlette.requests import Request

        request = Request(scope)  # headers only: the body is read by the SDK, once the key is good
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            raise AuthError("send an API key as 'Authorization: Bearer dk_...' (docket keys create)")
        return await to_thread.run_sync(caller, request)
