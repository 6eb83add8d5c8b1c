"""The Docket server: ``create_app(settings)`` builds the FastAPI application.

One process serves the REST API under ``/api``, the OpenAI-compatible endpoint under ``/v1``,
the web app at ``/`` and the website widget. Its services — one :class:`~docket.kb.KnowledgeBase`
(its store behind a lock, so request threads never interleave transactions; model calls run
outside the lock), the :class:`~docket.accounts.Accounts` and the background workers — are built
once by :func:`docket.server.deps.build_state`; routes reach them through :mod:`docket.server.deps`.
Uploads are ingested by a background worker whose job queue lives in the accounts database, so it
survives a restart. With the store in PostgreSQL the accounts live there too, and any number of
servers act as one.

Every error leaves as one JSON shape: ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from docket.config import Settings
from docket.errors import DocketError
from docket.server.deps import ServerState, build_state
from docket.server.limits import QueueLimit, RequestGuard
from docket.server.mcp.http import MCP_PATH, MCPEndpoint
from docket.server.routes import admin, answers, documents, gaps, openai_api, public, session, web
from docket.server.routes import reviews as review_routes
from docket.server.routes import sources as source_routes
from docket.server.routes import workflows as workflow_routes

__all__ = ["ServerState", "create_app"]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=status)


def create_app(
    settings: Settings,
    *,
    start_jobs: bool = True,
    on_ready: Callable[[str | None], None] | None = None,
    setup_token: str | None = None,
) -> FastAPI:
    """The application for the knowledge base in ``settings.home``.

    ``on_ready`` receives the one-time setup token when the server has no users yet (``docket
    serve`` prints the link to create the owner), else None. ``start_jobs``: run the background
    work (upload jobs, workflow runs, schedules) in this process — one process of several does
    (:mod:`docket.server.processes`). ``setup_token``: that token, when given (the same in every
    process).
    """
    st = build_state(settings, setup_token)
    kb, accounts, jobs = st.kb, st.accounts, st.jobs
    setup_token = st.setup_token
    mcp = MCPEndpoint(st)  # the MCP server over streamable HTTP (docs/agents.md)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        import os

        from anyio import to_thread

        # Requests are CPU-bound (embedding, scoring): more threads than this only add memory.
        to_thread.current_default_thread_limiter().total_tokens = max(4, 2 * (os.cpu_count() or 2))
        _ = kb.embedder  # load the model before the first request, not during it
        if start_jobs:
            jobs.start()
            st.runs.start()
            st.scheduler.start()
        if on_ready is not None:
            on_ready(setup_token)
        try:
            async with mcp.running():
                yield
        finally:
            st.scheduler.stop()
            st.runs.stop()
            jobs.stop()
            kb.close()
            accounts.close()

    app = FastAPI(
        title="Docket",
        summary="Answers from your own documents, with citations.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # /docs is served from the package's own copy of Swagger UI (routes/web.py), no CDN
        redoc_url=None,
    )
    app.state.docket = st
    app.add_middleware(RequestGuard)  # credentials and body size, before any body is read
    app.add_middleware(QueueLimit)  # outermost: a request beyond server.max_requests costs nothing

    @app.exception_handler(DocketError)
    async def docket_error(_: Request, exc: DocketError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _error(400, "invalid_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "too_large"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "documents": kb.store.stats()["documents"]}

    for module in (
        session, answers, gaps, documents, admin, openai_api, public, workflow_routes, review_routes, source_routes, web
    ):  # fmt: skip
        app.include_router(module.router)
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("docket")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        return "0"
