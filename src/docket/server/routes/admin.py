"""Users, groups, workspaces and their members, API keys, usage and the audit log.

Server-wide changes need the owner or an admin; a workspace's settings and members can also be
managed by that workspace's admins. Every change is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from docket.accounts import WorkspaceSettings
from docket.errors import ForbiddenError, NotFoundError
from docket.server.deps import CallerDep, model_providers, state

router = APIRouter(prefix="/api", tags=["admin"])


class NewUser(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(min_length=8, max_length=1024)
    role: str = "member"
    name: str = ""


class UserChange(BaseModel):
    role: str | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)


class NewGroup(BaseModel):
    name: str = Field(max_length=64)


class Member(BaseModel):
    email: str
    role: str = "member"


class NewWorkspace(BaseModel):
    name: str = Field(max_length=64)
    public: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)


class WorkspaceChange(BaseModel):
    public: bool | None = None
    settings: dict[str, Any] | None = Field(
        None,
        description="model (a --model spec), prompt (instructions added to the answer prompt), "
        "daily_budget (USD), allowed_origins (for the widget)",
    )


class NewKey(BaseModel):
    workspaces: list[str] | None = None
    name: str = ""
    user: str | None = Field(None, description="Email of the key's user (admins only; default: yourself)")


# ------------------------------------------------------------------ users and groups
@router.get("/users", summary="Every user (admins)")
def users(request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    return {
        "users": [{**u.to_dict(), "workspaces": accounts.workspaces.memberships(u.id)} for u in accounts.users.all()]
    }


@router.post("/users", status_code=201, summary="Create a user (admins; only the owner creates admins)")
def create_user(body: NewUser, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    if body.role in ("owner", "admin"):
        c.require_owner()
    accounts = state(request).accounts
    user = accounts.users.create(body.email, body.password, body.role, body.name)
    accounts.audit.record(c.name, "created user", user.email, role=user.role)
    return user.to_dict()


@router.patch("/users/{user_id}", summary="Change a user's role, disable them, or set a password (admins)")
def update_user(user_id: int, body: UserChange, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    target = accounts.users.get(user_id)
    if target.role == "owner" or body.role in ("owner", "admin"):
        c.require_owner()
    if body.password is not None:
        accounts.users.set_password(user_id, body.password)
    user = accounts.users.update(user_id, role=body.role, disabled=body.disabled)
    accounts.audit.record(c.name, "changed user", user.email, role=body.role, disabled=body.disabled)
    return user.to_dict()


@router.get("/groups", summary="Groups and their members (admins)")
def groups(request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    return {"groups": [{"name": n, "members": m} for n, m in state(request).accounts.groups.all().items()]}


@router.post("/groups", status_code=201, summary="Create a group (admins)")
def create_group(body: NewGroup, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    accounts.groups.create(body.name)
    accounts.audit.record(c.name, "created group", body.name)
    return {"name": body.name}


@router.post("/groups/{name}/members", summary="Add a user to a group (admins)")
def add_to_group(name: str, body: Member, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    accounts.groups.add(name, accounts.users.by_email(body.email).id)
    accounts.audit.record(c.name, "added to group", name, email=body.email)
    return {"group": name, "members": accounts.groups.all().get(name, [])}


@router.delete("/groups/{name}/members/{email}", summary="Remove a user from a group (admins)")
def remove_from_group(name: str, email: str, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    accounts.groups.remove(name, accounts.users.by_email(email).id)
    accounts.audit.record(c.name, "removed from group", name, email=email)
    return {"group": name, "members": accounts.groups.all().get(name, [])}


# ------------------------------------------------------------------ workspaces
@router.get("/workspaces", summary="The workspaces the caller may use")
def workspaces(request: Request, c: CallerDep) -> dict[str, Any]:
    accounts = state(request).accounts
    names = (
        accounts.workspaces.names()
        if c.workspaces is None
        else [w for w in accounts.workspaces.names() if w in c.workspaces]
    )
    out = []
    for name in names:
        info = accounts.workspaces.get(name)
        if c.role_in(name) != "admin":
            info = {k: v for k, v in info.items() if k not in ("members", "settings")}
        out.append({**info, "role": c.role_in(name)})
    return {"workspaces": out}


@router.post("/workspaces", status_code=201, summary="Create a workspace (admins)")
def create_workspace(body: NewWorkspace, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    accounts.workspaces.create(body.name, body.public, body.settings)
    accounts.audit.record(c.name, "created workspace", body.name, public=body.public)
    return accounts.workspaces.get(body.name)


@router.get("/workspaces/{name}", summary="A workspace: members, settings and the widget snippet (its admins)")
def workspace(name: str, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_role(name, "admin")
    info = state(request).accounts.workspaces.get(name)
    from docket.server.routes.public import widget_snippet

    server = str(request.base_url).rstrip("/")
    return {**info, "widget_snippet": widget_snippet(server, name) if info["public"] else None}


@router.patch("/workspaces/{name}", summary="Change a workspace's settings or public flag (its admins)")
def update_workspace(name: str, body: WorkspaceChange, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_role(name, "admin")
    accounts = state(request).accounts
    if body.settings is not None:
        WorkspaceSettings.check(body.settings, model_providers())
    accounts.workspaces.update(name, public=body.public, settings=body.settings)
    accounts.audit.record(c.name, "changed workspace", name, public=body.public, settings=body.settings)
    return accounts.workspaces.get(name)


@router.delete("/workspaces/{name}", summary="Delete a workspace's accounts record (admins)")
def delete_workspace(name: str, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    accounts = state(request).accounts
    accounts.workspaces.delete(name)
    accounts.audit.record(c.name, "deleted workspace", name)
    return {"deleted": name}


@router.post("/workspaces/{name}/members", summary="Add a member, or change their role (workspace admins)")
def add_member(name: str, body: Member, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_role(name, "admin")
    accounts = state(request).accounts
    accounts.workspaces.add_member(name, accounts.users.by_email(body.email).id, body.role)
    accounts.audit.record(c.name, "added member", name, email=body.email, role=body.role)
    return accounts.workspaces.get(name)


@router.delete("/workspaces/{name}/members/{email}", summary="Remove a member (workspace admins)")
def remove_member(name: str, email: str, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_role(name, "admin")
    accounts = state(request).accounts
    accounts.workspaces.remove_member(name, accounts.users.by_email(email).id)
    accounts.audit.record(c.name, "removed member", name, email=email)
    return accounts.workspaces.get(name)


# ------------------------------------------------------------------ API keys
@router.get("/keys", summary="API keys: the caller's own, or every key for admins")
def keys(request: Request, c: CallerDep) -> dict[str, Any]:
    accounts = state(request).accounts
    return {"keys": accounts.keys.all(None if c.is_server_admin else (c.user.id if c.user else -1))}


@router.post("/keys", status_code=201, summary="Create an API key; the key is shown once")
def create_key(body: NewKey, request: Request, c: CallerDep) -> dict[str, Any]:
    accounts = state(request).accounts
    if (
        c.via == "key"
        and c.workspaces is not None
        and (body.workspaces is None or not set(body.workspaces) <= set(c.workspaces))
    ):  # a scoped key only makes keys within its own scope
        raise ForbiddenError(f"this key may only create keys for its workspaces: {', '.join(c.workspaces)}")
    user = c.user
    if body.user is not None and (user is None or body.user.lower() != user.email.lower()):
        c.require_admin()
        user = accounts.users.by_email(body.user)
    if user is None:
        raise ForbiddenError("sign in to create API keys")
    for w in body.workspaces or ():
        if not c.is_server_admin:
            c.require_workspace(w)
    key_id, key = accounts.keys.create(user.id, body.workspaces, body.name)
    accounts.audit.record(c.name, "created API key", user.email, key_id=key_id, workspaces=body.workspaces)
    return {"id": key_id, "key": key, "user": user.email, "workspaces": body.workspaces}


@router.delete("/keys/{key_id}", summary="Revoke an API key")
def revoke_key(key_id: int, request: Request, c: CallerDep) -> dict[str, Any]:
    accounts = state(request).accounts
    owner = accounts.keys.user_of(key_id)
    if not c.is_server_admin and (c.user is None or c.user.id != owner):
        raise NotFoundError(f"no API key {key_id}")
    accounts.keys.revoke(key_id)
    accounts.audit.record(c.name, "revoked API key", str(key_id))
    return {"revoked": key_id}


# ------------------------------------------------------------------ usage and audit
@router.get("/usage", summary="Answers, tokens and cost per workspace (admins: all; others: their workspaces)")
def usage(request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    per = st.accounts.budgets.usage(st.kb.ledger, lambda ws: c.is_server_admin or c.role_in(ws) == "admin")
    return {"workspaces": [{"workspace": w, **v} for w, v in sorted(per.items())]}


@router.get("/audit", summary="Sign-ins, admin actions, document and permission changes (admins)")
def audit(request: Request, c: CallerDep, limit: int = 200) -> dict[str, Any]:
    c.require_admin()
    return {"events": state(request).accounts.audit.log(min(max(limit, 1), 1000))}
