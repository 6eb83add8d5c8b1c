"""The Docket server: ``create_app(settings)`` builds the FastAPI application.

One process serves the REST API under ``/api``, the OpenAI-compatible endpoint under ``/v1``,
the web app at ``/`` and the website widget. It holds one :class:`~docket.kb.KnowledgeBase`
(its store behind a lock, so request threads never interleave transactions; model calls run
outside the lock) and the :class:`~docket.server.accounts.Accounts`. Uploads are ingested by a
background worker whose job queue lives in the accounts database, so it survives a restart. With
the store in PostgreSQL the accounts live there too, and any number of servers act as one.

Every error leaves as one JSON shape: ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from docket.config import Settings
from docket.errors import AuthError, DocketError, ForbiddenError, RateLimitedError
from docket.kb import KnowledgeBase
from docket.server.accounts import Accounts
from docket.server.auth import Caller, RateLimiter, caller_for_key, caller_for_user
from docket.server.jobs import JobRunner

__all__ = ["ServerState", "create_app"]

SESSION_COOKIE = "docket_session"
CSRF_COOKIE = "docket_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class LockedStore:
    """A store whose every call holds one lock, so threads never share a transaction."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                result = attr(*args, **kwargs)
                # generators (documents()) are consumed under the lock too
                return list(result) if hasattr(result, "__next__") else result

        return locked


@dataclass
class ServerState:
    settings: Settings
    kb: KnowledgeBase
    accounts: Accounts
    jobs: JobRunner
    logins: RateLimiter  # failed sign-ins per email
    visitors: RateLimiter
    setup_token: str | None = None
    runs: Any = None  # docket.server.runs.WorkflowRunner
    scheduler: Any = None  # docket.server.scheduler.Scheduler
    hooks: RateLimiter | None = None  # incoming webhook calls per sending address
    bad_keys: RateLimiter | None = None  # requests with a wrong API key per address
    login_addresses: RateLimiter | None = None  # failed sign-ins per address, whatever the email


def state(request: Request) -> ServerState:
    return request.app.state.docket


def caller(request: Request) -> Caller:
    """The authenticated caller, or a 401 saying how to authenticate.

    :class:`~docket.server.limits.RequestGuard` calls this before a route's body is read and keeps
    the result in the request's state, so a route's own dependency finds it there."""
    from docket.server.limits import CALLER_KEY

    kept: Caller | None = request.scope.get("state", {}).get(CALLER_KEY)
    if kept is not None:
        return kept
    st = state(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            return caller_for_key(st.accounts, header[7:].strip())
        except AuthError:
            # Guessing keys costs a pause, but only wrong keys wait it out: a valid key from the
            # same address (an office behind one NAT) is never refused because of someone else.
            address = request.client.host if request.client else "?"
            if st.bad_keys is not None and not st.bad_keys.hit(address):
                raise RateLimitedError(
                    "too many requests with a wrong API key from this address; wait 5 minutes"
                ) from None
            raise
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = st.accounts.session(token)
        if found is None:
            raise AuthError("your session has expired; sign in again")
        user, csrf = found
        if request.method not in SAFE_METHODS and not secrets.compare_digest(
            request.headers.get("x-csrf-token", ""), csrf
        ):
            raise ForbiddenError("missing or wrong X-CSRF-Token header; reload the page and try again")
        return caller_for_user(st.accounts, user, via="session", csrf=csrf)
    raise AuthError("sign in, or send an API key as 'Authorization: Bearer dk_...' (docket keys create)")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=status)


def create_app(
    settings: Settings, *, start_jobs: bool = True, on_ready: Callable[[str | None], None] | None = None
) -> FastAPI:
    """The application for the knowledge base in ``settings.home``.

    ``on_ready`` receives the one-time setup token when the server has no users yet (``docket
    serve`` prints the link to create the owner), else None.
    """
    kb = KnowledgeBase(settings)
    kb.store = LockedStore(kb.store)
    accounts = Accounts.open(settings)  # accounts.db, or the PostgreSQL store's database (store.url)
    jobs = JobRunner(kb, accounts, settings)
    setup_token = secrets.token_urlsafe(16) if accounts.user_count() == 0 else None
    st = ServerState(
        settings,
        kb,
        accounts,
        jobs,
        logins=RateLimiter(settings.server.login_attempts, 300.0),
        visitors=RateLimiter(settings.server.widget_requests_per_minute, 60.0),
        setup_token=setup_token,
    )
    from docket.server.runs import WorkflowRunner
    from docket.server.scheduler import Scheduler

    st.runs = WorkflowRunner(kb, accounts, settings)
    st.scheduler = Scheduler(accounts, st.runs.submit_schedule, every=settings.server.schedule_check_seconds)
    from docket.kb.sources import sync_due_job

    # each remote source keeps its own cron schedule; this checks every minute which are due
    st.scheduler.add_periodic("sources", "* * * * *", sync_due_job(kb))
    st.hooks = RateLimiter(settings.server.hook_requests_per_minute, 60.0)
    st.bad_keys = RateLimiter(settings.server.key_attempts, 300.0)
    st.login_addresses = RateLimiter(settings.server.login_attempts_per_address, 300.0)

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
    from docket.server.limits import RequestGuard

    app.add_middleware(RequestGuard)  # credentials and body size, before any body is read

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

    from docket.server.routes import admin, answers, documents, gaps, openai_api, public, session, web
    from docket.server.routes import reviews as review_routes
    from docket.server.routes import sources as source_routes
    from docket.server.routes import workflows as workflow_routes

    for module in (
        session, answers, gaps, documents, admin, openai_api, public, workflow_routes, review_routes, source_routes, web
    ):  # fmt: skip
        app.include_router(module.router)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("docket")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        return "0"
