"""API keys and incoming-webhook tokens (tables ``api_keys`` and ``workflow_hooks``).

Both are long random secrets, shown once when created and stored only as a SHA-256 digest.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from docket.accounts.schema import digest
from docket.accounts.users import User
from docket.accounts.workspaces import Workspaces
from docket.errors import NotFoundError
from docket.records import Records

__all__ = ["KEY_PREFIX", "Hooks", "Keys"]

KEY_PREFIX = "dk_"
LAST_USED_EVERY = 60.0  # seconds: a key's last_used is written at most this often (a busy key is not a write a request)


class Keys:
    """API keys: each belongs to a user and may be limited to some workspaces."""

    def __init__(self, db: Records, workspaces: Workspaces) -> None:
        self.db, self._workspaces = db, workspaces

    def create(self, user_id: int, workspaces: Sequence[str] | None = None, name: str = "") -> tuple[int, str]:
        """A new key for ``user_id``, limited to ``workspaces`` (None: all the user's). Returns the
        key's id and the key itself — shown once, stored only as a digest."""
        for w in workspaces or ():
            self._workspaces.require(w)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.db.tx() as db:
            cur = db.execute(
                "INSERT INTO api_keys (user_id, name, prefix, digest, workspaces, created) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (
                    user_id,
                    name,
                    key[:10],
                    digest(key),
                    None if workspaces is None else json.dumps(list(workspaces)),
                    time.time(),
                ),
            )
        return int(cur.fetchone()[0]), key

    def owner(self, key: str) -> tuple[User, tuple[str, ...] | None, int] | None:
        """The enabled user of a valid, unrevoked key, its workspace scope and id; else None."""
        row = self.db.one(
            "SELECT k.id, k.workspaces, u.id, u.email, u.name, u.role, u.disabled, k.last_used FROM api_keys k "
            "JOIN users u ON u.id = k.user_id WHERE k.digest = ? AND k.revoked IS NULL",
            (digest(key),),
        )
        if row is None or row[6]:
            return None
        now = time.time()
        if row[7] is None or now - row[7] >= LAST_USED_EVERY:  # not a write on every request
            self.db.execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (now, row[0]))
        scope = None if row[1] is None else tuple(json.loads(row[1]))
        return User.from_row(row[2:7]), scope, int(row[0])

    def all(self, user_id: int | None = None) -> list[dict[str, Any]]:
        """Every key (of ``user_id`` when given), never the key itself."""
        sql = (
            "SELECT k.id, u.email, k.name, k.prefix, k.workspaces, k.created, k.revoked, k.last_used FROM api_keys k "
            "JOIN users u ON u.id = k.user_id"
        )
        rows = self.db.all(
            sql + (" WHERE k.user_id = ?" if user_id else "") + " ORDER BY k.id", (user_id,) if user_id else ()
        )
        names = ("id", "user", "name", "prefix", "workspaces", "created", "revoked", "last_used")
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            item["workspaces"] = None if item["workspaces"] is None else json.loads(item["workspaces"])
            out.append(item)
        return out

    def user_of(self, key_id: int) -> int:
        row = self.db.one("SELECT user_id FROM api_keys WHERE id = ?", (key_id,))
        if row is None:
            raise NotFoundError(f"no API key {key_id}")
        return int(row[0])

    def revoke(self, key_id: int) -> None:
        self.user_of(key_id)
        with self.db.tx() as db:
            db.execute("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id))


class Hooks:
    """Incoming webhooks: a secret URL token that runs one workflow in one workspace."""

    _COLUMNS = ("id", "name", "workflow", "workspace", "prefix", "created", "last_used")

    def __init__(self, db: Records, workspaces: Workspaces) -> None:
        self.db, self._workspaces = db, workspaces

    def create(self, workflow: str, workspace: str, name: str = "") -> tuple[int, str]:
        """A new hook running ``workflow`` in ``workspace``; returns its id and secret token —
        shown once, stored only as a digest."""
        self._workspaces.require(workspace)
        token = "wh_" + secrets.token_urlsafe(32)
        with self.db.tx() as db:
            cur = db.execute(
                "INSERT INTO workflow_hooks (name, workflow, workspace, prefix, digest, created) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (name, workflow, workspace, token[:10], digest(token), time.time()),
            )
        return int(cur.fetchone()[0]), token

    def all(self) -> list[dict[str, Any]]:
        rows = self.db.all(f"SELECT {', '.join(self._COLUMNS)} FROM workflow_hooks ORDER BY id")
        return [dict(zip(self._COLUMNS, r, strict=True)) for r in rows]

    def by_token(self, token: str) -> dict[str, Any] | None:
        row = self.db.one(f"SELECT {', '.join(self._COLUMNS)} FROM workflow_hooks WHERE digest = ?", (digest(token),))
        if row is None:
            return None
        self.db.execute("UPDATE workflow_hooks SET last_used = ? WHERE id = ?", (time.time(), row[0]))
        return dict(zip(self._COLUMNS, row, strict=True))

    def remove(self, hook_id: int) -> None:
        with self.db.tx() as db:
            if db.execute("DELETE FROM workflow_hooks WHERE id = ?", (hook_id,)).rowcount == 0:
                raise NotFoundError(f"no hook {hook_id}; `docket hooks list` shows them")
