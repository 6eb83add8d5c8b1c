"""Who is calling, and what they may read.

A request is authenticated by an API key (``Authorization: Bearer dk_...``) or by the web app's
session cookie; a cookie-authenticated request that changes something must echo the session's
CSRF token in the ``X-CSRF-Token`` header. The result is a :class:`Caller`, and
:meth:`Caller.access` is the :class:`~docket.types.Access` every retrieval receives — permissions
are applied inside the store's queries, never to results afterwards.

Roles: the server-wide ``owner`` and ``admin`` see and manage every workspace; ``editor`` may add
and remove documents in the workspaces they belong to; ``member`` may search and ask there.
Inside a workspace a membership role (``member`` / ``editor`` / ``admin``) can raise that.
A document's access list (``user:EMAIL``, ``group:NAME``) narrows it further for everyone but the
owner and admins. An API key limited to some workspaces is limited on every route: its owner or
admin acts as an admin of those workspaces only, and server-wide actions (users, groups, the
audit log, creating workspaces) need an unscoped key or a signed-in session.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from docket.errors import AuthError, ForbiddenError, NotFoundError
from docket.server.accounts import Accounts, User
from docket.types import Access

__all__ = ["Caller", "RateLimiter", "caller_for_key", "caller_for_user"]

_RANK = {"member": 1, "editor": 2, "admin": 3}


@dataclass(frozen=True)
class Caller:
    user: User | None
    workspaces: tuple[str, ...] | None  # None: every workspace (owner and admins)
    roles: tuple[tuple[str, str], ...] = ()  # (workspace, role) memberships
    groups: tuple[str, ...] = ()
    via: str = "anonymous"  # "session", "key" or "anonymous"
    csrf: str | None = None
    key_id: int | None = None

    @property
    def name(self) -> str:
        return self.user.email if self.user else "anonymous"

    @property
    def is_admin(self) -> bool:
        """An owner or admin account, whatever its key's scope (see :attr:`is_server_admin`)."""
        return self.user is not None and self.user.role in ("owner", "admin")

    @property
    def is_server_admin(self) -> bool:
        """An owner or admin acting server-wide: signed in, or with a key not limited to workspaces."""
        return self.is_admin and self.workspaces is None

    def access(self, workspace: str | None = None) -> Access:
        """What this caller may read, optionally narrowed to one workspace (404 if not theirs)."""
        principals = (f"user:{self.user.email}", *(f"group:{g}" for g in self.groups)) if self.user else ()
        if workspace is not None:
            self.require_workspace(workspace)
            return Access(workspaces=(workspace,), principals=principals, all_documents=self.is_admin)
        if self.is_server_admin:
            return Access.owner()
        return Access(workspaces=self.workspaces or (), principals=principals, all_documents=self.is_admin)

    def require_workspace(self, workspace: str) -> None:
        """404 — not 403 — for a workspace the caller may not see: its existence stays private."""
        if self.workspaces is not None and workspace not in self.workspaces:
            raise NotFoundError(f"no workspace '{workspace}'")

    def role_in(self, workspace: str) -> str | None:
        if self.is_admin and (self.workspaces is None or workspace in self.workspaces):
            return "admin"
        if self.workspaces is not None and workspace not in self.workspaces:
            return None
        role = dict(self.roles).get(workspace)
        if role is None:
            return None
        if self.user is not None and self.user.role == "editor" and _RANK[role] < _RANK["editor"]:
            return "editor"
        return role

    def require_role(self, workspace: str, role: str) -> None:
        have = self.role_in(workspace)
        if have is None:
            raise NotFoundError(f"no workspace '{workspace}'")
        if _RANK[have] < _RANK[role]:
            raise ForbiddenError(f"this needs the {role} role in the workspace '{workspace}'")

    def require_admin(self) -> None:
        """A server-wide action (users, groups, audit, creating workspaces): an owner or admin whose
        key is not limited to some workspaces."""
        if not self.is_admin:
            raise ForbiddenError("this needs an owner or admin account")
        self._require_unscoped()

    def require_owner(self) -> None:
        if self.user is None or self.user.role != "owner":
            raise ForbiddenError("this needs the owner account")
        self._require_unscoped()

    def _require_unscoped(self) -> None:
        if self.workspaces is not None:
            raise ForbiddenError(
                "this API key is limited to the workspaces "
                f"{', '.join(self.workspaces) or '(none)'}; a server-wide action needs a key without --workspace"
            )


def caller_for_user(
    accounts: Accounts, user: User, scope: tuple[str, ...] | None = None, via: str = "session", **extra: object
) -> Caller:
    memberships = accounts.memberships(user.id)
    if user.role in ("owner", "admin"):
        workspaces = scope  # None: all of them
        roles = tuple((w, "admin") for w in (scope or accounts.workspace_names()))
    else:
        mine = tuple(memberships)
        workspaces = mine if scope is None else tuple(w for w in mine if w in scope)
        roles = tuple((w, r) for w, r in memberships.items() if w in workspaces)
    return Caller(user, workspaces, roles, accounts.groups_of(user.id), via, **extra)  # type: ignore[arg-type]


def caller_for_key(accounts: Accounts, key: str) -> Caller:
    found = accounts.key_owner(key)
    if found is None:
        raise AuthError("this API key is not valid or was revoked; create a new one with `docket keys create`")
    user, scope, key_id = found
    return caller_for_user(accounts, user, scope, via="key", key_id=key_id)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key (an email, a visitor's address)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Record an event; False when the key is over its limit (the event is not recorded)."""
        now = time.monotonic()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def blocked(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            events = self._events.get(key) or deque()
            return len([t for t in events if t > now - self.window]) >= self.limit

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
