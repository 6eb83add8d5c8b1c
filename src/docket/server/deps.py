"""The server's services, built once by :func:`build_state` for :func:`~docket.server.app.create_app`,
and what routes ask for in their dependencies: the :class:`ServerState` and the :func:`caller`.

Routes import from here, never from :mod:`docket.server.app`: the app includes the routes, the
routes use the services.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from docket.accounts import Accounts
from docket.config import Settings
from docket.errors import AuthError, ForbiddenError, RateLimitedError
from docket.kb import KnowledgeBase
from docket.server.answering import Answering
from docket.server.auth import Caller, RateLimiter
from docket.server.jobs import JobRunner
from docket.server.reviewing import Reviewing
from docket.server.runs import WorkflowRunner
from docket.server.scheduler import Scheduler

__all__ = [
    "CALLER_KEY",
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "CallerDep",
    "ServerState",
    "build_state",
    "caller",
    "model_providers",
    "state",
]

SESSION_COOKIE = "docket_session"
CSRF_COOKIE = "docket_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CALLER_KEY = "docket_caller"  # where the authenticated Caller waits in scope["state"] (RequestGuard)


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
    """One server's services: the knowledge base, the accounts, the background workers and the
    sign-in limits."""

    settings: Settings
    kb: KnowledgeBase
    accounts: Accounts
    jobs: JobRunner  # ingestion jobs (uploads, sources added by path)
    runs: WorkflowRunner
    scheduler: Scheduler
    logins: RateLimiter  # failed sign-ins per email
    login_addresses: RateLimiter  # failed sign-ins per address, whatever the email
    bad_keys: RateLimiter  # requests with a wrong API key per address
    visitors: RateLimiter  # widget questions per visitor
    hooks: RateLimiter  # incoming webhook calls per sending address
    answering: Answering  # answers, conversations and the answer log, for every surface
    reviews: Reviewing  # the review queue, as each caller may see it
    setup_token: str | None = None  # until the owner exists: the one-time link `docket serve` prints


def build_state(settings: Settings, setup_token: str | None = None) -> ServerState:
    """The services of the server for ``settings``, each built once. ``setup_token``: the one-time
    setup link's token while there are no users (one is made when not given; the processes of
    ``docket serve --workers N`` are given the same one)."""
    kb = KnowledgeBase(settings)
    kb.store = LockedStore(kb.store)
    accounts = Accounts.open(settings)  # accounts.db, or the PostgreSQL store's database (store.url)
    runs = WorkflowRunner(kb, accounts, settings)
    scheduler = Scheduler(accounts, runs.submit_schedule, every=settings.server.schedule_check_seconds)
    from docket.kb.sources import sync_due_job

    # each remote source keeps its own cron schedule; this checks every minute which are due
    scheduler.add_periodic("sources", "* * * * *", sync_due_job(kb))
    server = settings.server
    st = ServerState(
        settings,
        kb,
        accounts,
        JobRunner(kb, accounts, settings),
        runs,
        scheduler,
        logins=RateLimiter(server.login_attempts, 300.0),
        login_addresses=RateLimiter(server.login_attempts_per_address, 300.0),
        bad_keys=RateLimiter(server.key_attempts, 300.0),
        visitors=RateLimiter(server.widget_requests_per_minute, 60.0),
        hooks=RateLimiter(server.hook_requests_per_minute, 60.0),
        answering=Answering(kb, accounts),
        reviews=Reviewing(kb, accounts, settings),
        setup_token=(setup_token or secrets.token_urlsafe(16)) if accounts.users.count() == 0 else None,
    )
    return st


def model_providers() -> set[str]:
    """The model providers a workspace's ``model`` setting may name."""
    from docket.models.base import CHAT_MODELS

    return {"openai", "anthropic", "local", *CHAT_MODELS.names()}


def state(request: Request) -> ServerState:
    return request.app.state.docket


def caller(request: Request) -> Caller:
    """The authenticated caller, or a 401 saying how to authenticate.

    :class:`~docket.server.limits.RequestGuard` calls this before a route's body is read and keeps
    the result in the request's state, so a route's own dependency finds it there."""
    kept: Caller | None = request.scope.get("state", {}).get(CALLER_KEY)
    if kept is not None:
        return kept
    st = state(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            return Caller.of(st.accounts.principal_for_key(header[7:].strip()))
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
        found = st.accounts.users.session(token)
        if found is None:
            raise AuthError("your session has expired; sign in again")
        user, csrf = found
        if request.method not in SAFE_METHODS and not secrets.compare_digest(
            request.headers.get("x-csrf-token", ""), csrf
        ):
            raise ForbiddenError("missing or wrong X-CSRF-Token header; reload the page and try again")
        return Caller.of(st.accounts.principal(user, via="session"), csrf=csrf)
    raise AuthError("sign in, or send an API key as 'Authorization: Bearer dk_...' (docket keys create)")


CallerDep = Annotated[Caller, Depends(caller)]  # a route's authenticated caller
