"""Signing in and out of the web app, first-run setup, and who am I."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from docket.accounts import User
from docket.errors import AuthError, ForbiddenError, RateLimitedError
from docket.server.auth import Caller
from docket.server.deps import CSRF_COOKIE, SESSION_COOKIE, caller, state

router = APIRouter(prefix="/api", tags=["session"])

WRONG = "wrong email or password"


class Credentials(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class Setup(Credentials):
    token: str
    name: str = ""


def me_dict(c: Caller, public: list[str]) -> dict[str, Any]:
    """The caller and the workspaces they may use, with their role in each."""
    names = (sorted({*dict(c.roles), *public}) if c.is_server_admin else list(c.workspaces or ())) if c.user else []
    return {
        "user": c.user.to_dict() if c.user else None,
        "workspaces": [{"name": w, "role": c.role_in(w), "public": w in public} for w in names],
        "csrf": c.csrf,
    }


def _start_session(request: Request, response: Response, user: User) -> dict[str, Any]:
    st = state(request)
    token, csrf = st.accounts.users.create_session(user.id)
    secure, age = st.settings.server.secure_cookies, int(st.accounts.users.session_seconds)
    response.set_cookie(SESSION_COOKIE, token, max_age=age, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="lax", secure=secure, path="/")
    return me_dict(Caller.of(st.accounts.principal(user, via="session"), csrf=csrf), st.accounts.workspaces.public())


@router.post("/session", summary="Sign in (sets the session cookie)")
def sign_in(body: Credentials, request: Request, response: Response) -> dict[str, Any]:
    st = state(request)
    key = body.email.strip().lower()
    address = request.client.host if request.client else "?"
    if st.logins.blocked(key):
        raise RateLimitedError("too many failed sign-ins for this email; wait five minutes and try again")
    if st.login_addresses is not None and st.login_addresses.blocked(address):
        raise RateLimitedError("too many failed sign-ins from this address; wait five minutes and try again")
    user = st.accounts.users.verify_password(body.email.strip(), body.password)
    if user is None:
        st.logins.hit(key)
        if st.login_addresses is not None:
            st.login_addresses.hit(address)
        st.accounts.audit.record(body.email.strip() or "?", "sign-in failed")
        raise AuthError(WRONG)
    st.logins.reset(key)
    st.accounts.audit.record(user.email, "signed in")
    return _start_session(request, response, user)


@router.delete("/session", summary="Sign out")
def sign_out(request: Request, response: Response, c: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        state(request).accounts.users.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    state(request).accounts.audit.record(c.name, "signed out")
    return {"signed_out": True}


@router.get("/me", summary="The signed-in user and their workspaces")
def me(request: Request, c: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    return me_dict(c, state(request).accounts.workspaces.public())


@router.post("/setup", summary="Create the owner account on a server with no users yet")
def setup(body: Setup, request: Request, response: Response) -> dict[str, Any]:
    st = state(request)
    if st.setup_token is None or st.accounts.users.count() > 0:
        raise ForbiddenError("this server has an owner already; sign in instead")
    if not secrets.compare_digest(body.token, st.setup_token):
        raise AuthError("the setup link is not valid; use the one `docket serve` printed")
    user = st.accounts.users.create(body.email, body.password, role="owner", name=body.name)
    st.setup_token = None
    st.accounts.audit.record(user.email, "created the owner account")
    return _start_session(request, response, user)
