"""Who is asking, parsed once at the edge, and the one rule for what they may read.

A document's access list names who may read it inside its workspace: ``user:EMAIL`` and
``group:NAME`` (empty: everyone in the workspace). :class:`Principal` is a signed-in user or an
API key (its user, groups, workspaces and roles there); :meth:`Principal.access` is the
:class:`~docket.types.Access` every retrieval receives (the stores apply it inside their queries)
and :meth:`Principal.may_read` asks the same rule of anything that is not a document.

Roles: the server-wide ``owner`` and ``admin`` see and manage every workspace; ``editor`` may add
and remove documents in the workspaces they belong to; ``member`` may search and ask there.
Inside a workspace a membership role (``member`` / ``editor`` / ``admin``) can raise that. An
API key limited to some workspaces is limited everywhere: its owner or admin acts as an admin of
those workspaces only, and server-wide actions need an unscoped key or a signed-in session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from docket.accounts.users import User
from docket.errors import ForbiddenError, NotFoundError, UserError
from docket.types import Access

__all__ = ["ACCESS_KINDS", "Principal", "check_access_entry", "check_access_list", "principal_names"]

ACCESS_KINDS = ("user", "group")  # user:EMAIL, group:NAME
_RANK = {"member": 1, "editor": 2, "admin": 3}


def check_access_entry(entry: str, label: str) -> str:
    """``entry`` when it is ``user:EMAIL`` or ``group:NAME``, else a UserError starting with ``label``."""
    kind, _, name = entry.partition(":")
    if kind not in ACCESS_KINDS or not name:
        raise UserError(f"{label}: write user:EMAIL or group:NAME")
    return entry


def check_access_list(entries: Iterable[str] | None, flag: str = "--access") -> tuple[str, ...]:
    """An access list from the command line or a source's config, each entry checked."""
    return tuple(check_access_entry(e, f"{flag} {e}") for e in entries or ())


def principal_names(email: str | None, groups: Iterable[str] = ()) -> tuple[str, ...]:
    """The access-list entries that name a user with ``email`` in ``groups``."""
    return (f"user:{email}", *(f"group:{g}" for g in groups)) if email else ()


@dataclass(frozen=True)
class Principal:
    """A caller: a user (None: anonymous) with the workspaces they may use (None: every one, for
    the owner and admins) and their roles there; ``via`` says how they authenticated."""

    user: User | None
    workspaces: tuple[str, ...] | None  # None: every workspace (owner and admins)
    roles: tuple[tuple[str, str], ...] = ()  # (workspace, role) memberships
    groups: tuple[str, ...] = ()
    via: str = "anonymous"  # "session", "key" or "anonymous"
    key_id: int | None = None

    @property
    def name(self) -> str:
        return self.user.email if self.user else "anonymous"

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def is_admin(self) -> bool:
        """An owner or admin account, whatever its key's scope (see :attr:`is_server_admin`)."""
        return self.user is not None and self.user.role in ("owner", "admin")

    @property
    def is_server_admin(self) -> bool:
        """An owner or admin acting server-wide: signed in, or with a key not limited to workspaces."""
        return self.is_admin and self.workspaces is None

    @property
    def principals(self) -> tuple[str, ...]:
        """The access-list entries naming this caller: ``user:EMAIL`` and a ``group:NAME`` per group."""
        return principal_names(self.user.email if self.user else None, self.groups)

    def access(self, workspace: str | None = None) -> Access:
        """What this caller may read, optionally narrowed to one workspace (404 if not theirs)."""
        if workspace is not None:
            self.require_workspace(workspace)
            return Access(workspaces=(workspace,), principals=self.principals, all_documents=self.is_admin)
        if self.is_server_admin:
            return Access.owner()
        return Access(workspaces=self.workspaces or (), principals=self.principals, all_documents=self.is_admin)

    def may_read(self, access_list: Sequence[str], workspace: str) -> bool:
        """Whether the caller may read a document of ``workspace`` with ``access_list`` (or what
        was built from one: a job's files, their names and failures)."""
        if self.is_server_admin:
            return True
        try:
            access = self.access(workspace)
        except NotFoundError:
            return False
        return access.permits(workspace, tuple(access_list))

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

    def owns_answer(self, owner: tuple[int | None, Sequence[str] | None]) -> bool:
        """The caller's own answer, asked within the workspaces their key is limited to (if it is)."""
        if owner[0] != self.user_id:
            return False
        return self.workspaces is None or (owner[1] is not None and set(owner[1]) <= set(self.workspaces))
