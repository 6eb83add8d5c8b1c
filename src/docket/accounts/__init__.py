"""The accounts of a Docket server, in parts: who may sign in and how, what they may read, and
the server's other records.

============  ===============================================  ==========================
part          what it keeps                                    module
============  ===============================================  ==========================
users         users, passwords, web sessions                   :mod:`.users`
keys          API keys                                         :mod:`.keys`
hooks         incoming-webhook tokens                          :mod:`.keys`
workspaces    workspaces, members, settings                    :mod:`.workspaces`
groups        groups of users (``group:NAME`` in access lists)  :mod:`.workspaces`
audit         the audit log                                    :mod:`.audit`
answers       who asked which answer, conversations, feedback  :mod:`.answers`
budgets       daily budgets and usage per workspace            :mod:`.budgets`
jobs          the ingestion job queue                          :mod:`.jobs`
runs          workflow runs and their files                    :mod:`.runs`
schedules     cron schedules                                   :mod:`.schedules`
uploads       uploaded files' bytes (PostgreSQL)               :mod:`.uploads`
============  ===============================================  ==========================

:class:`~docket.accounts.principal.Principal` is a caller, built once at the edge by
:meth:`Accounts.principal`; it holds the one rule for reading a document with an access list.

Kept in ``accounts.db`` next to the knowledge base, or with ``store.url`` in the ``docket_server``
schema of that PostgreSQL database (:mod:`.schema`). Secrets are never stored: passwords as
argon2 hashes, session tokens and API keys as SHA-256 digests, each shown once when created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docket.accounts.answers import Answers
from docket.accounts.audit import Audit
from docket.accounts.budgets import Budgets
from docket.accounts.jobs import Jobs
from docket.accounts.keys import Hooks, Keys
from docket.accounts.principal import Principal
from docket.accounts.runs import Runs
from docket.accounts.schedules import Schedules
from docket.accounts.schema import LEASE_SECONDS, create_tables
from docket.accounts.uploads import Uploads
from docket.accounts.users import ROLES, SESSION_SECONDS, User, Users
from docket.accounts.workspaces import WORKSPACE_ROLES, Groups, Workspaces, WorkspaceSettings
from docket.errors import AuthError
from docket.records import Records

__all__ = ["ROLES", "WORKSPACE_ROLES", "Accounts", "Principal", "User", "WorkspaceSettings"]


class Accounts:
    """The server's records, in a SQLite file (a path) or given :class:`Records` (:meth:`open`
    picks from the settings), as the parts listed in the module docstring. Thread-safe."""

    def __init__(self, path: str | Path | Records, session_seconds: float = SESSION_SECONDS) -> None:
        self.db = path if isinstance(path, Records) else Records.sqlite(path)
        self.path = Path(self.db.where) if self.db.dialect == "sqlite" else None  # the file, on SQLite
        self.lease_seconds = LEASE_SECONDS  # how long a server's claim on a job or run lasts unrenewed
        create_tables(self.db)
        self.users = Users(self.db, session_seconds)
        self.workspaces = Workspaces(self.db)
        self.groups = Groups(self.db)
        self.keys = Keys(self.db, self.workspaces)
        self.hooks = Hooks(self.db, self.workspaces)
        self.audit = Audit(self.db)
        self.answers = Answers(self.db)
        self.budgets = Budgets(self.workspaces, self.answers)
        self.jobs = Jobs(self.db)
        self.runs = Runs(self.db)
        self.schedules = Schedules(self.db, self.workspaces)
        self.uploads = Uploads(self.db)

    @classmethod
    def open(cls, settings: Any) -> Accounts:
        """The accounts of the server of ``settings``: in the PostgreSQL store's database when
        ``store.url`` is set, else ``<home>/accounts.db``."""
        return cls(Records.for_settings(settings, "accounts.db"), settings.server.session_hours * 3600)

    @property
    def shared(self) -> bool:
        """Whether the records live in PostgreSQL, shared by every server on the database."""
        return self.db.dialect == "postgres"

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ callers
    def principal(
        self, user: User, scope: tuple[str, ...] | None = None, via: str = "session", key_id: int | None = None
    ) -> Principal:
        """``user`` as a caller: their workspaces (within ``scope``, a key's limit) and roles there, and groups."""
        memberships = self.workspaces.memberships(user.id)
        if user.role in ("owner", "admin"):
            workspaces = scope  # None: all of them
            roles = tuple((w, "admin") for w in (scope or self.workspaces.names()))
        else:
            mine = tuple(memberships)
            workspaces = mine if scope is None else tuple(w for w in mine if w in scope)
            roles = tuple((w, r) for w, r in memberships.items() if w in workspaces)
        return Principal(user, workspaces, roles, self.groups.of(user.id), via, key_id)

    def principal_for_key(self, key: str) -> Principal:
        """The caller an API key stands for; AuthError for a wrong or revoked key."""
        found = self.keys.owner(key)
        if found is None:
            raise AuthError("this API key is not valid or was revoked; create a new one with `docket keys create`")
        user, scope, key_id = found
        return self.principal(user, scope, via="key", key_id=key_id)
