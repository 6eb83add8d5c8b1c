"""Workspaces, their members and settings, and groups of users (tables ``workspaces``,
``memberships``, ``groups``, ``group_members``)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from docket.accounts.schema import check_name
from docket.errors import NotFoundError, UserError
from docket.records import Records
from docket.types import check_workspace_name

__all__ = ["WORKSPACE_ROLES", "Groups", "WorkspaceSettings", "Workspaces"]

WORKSPACE_ROLES = ("member", "editor", "admin")
_ORIGIN = re.compile(r"https?://[^/\s]+")


@dataclass(frozen=True)
class WorkspaceSettings:
    """A workspace's settings, read once from the JSON its record keeps (which is stored as given)."""

    model: str | None = None  # a --model spec for its answers; None: the server's
    prompt: str = ""  # instructions added to the answer prompt
    daily_budget: float | None = None  # USD a day for model calls in the workspace
    allowed_origins: tuple[str, ...] = ()  # sites that may embed its widget ("*": any)

    FIELDS = ("model", "prompt", "daily_budget", "allowed_origins")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> WorkspaceSettings:
        budget = raw.get("daily_budget")
        return cls(
            model=str(raw["model"]) if raw.get("model") else None,
            prompt=str(raw.get("prompt") or ""),
            daily_budget=None if budget is None or budget == "" else float(budget),
            allowed_origins=tuple(str(o) for o in raw.get("allowed_origins") or ()),
        )

    @classmethod
    def check(cls, raw: Mapping[str, Any], providers: Collection[str]) -> None:
        """Refuse settings an admin may not set, saying how to fix them; ``providers`` are the
        model providers a ``model`` may name."""
        unknown = set(raw) - set(cls.FIELDS)
        if raw.get("model"):
            provider = str(raw["model"]).partition(":")[0]
            if provider not in providers:
                raise UserError(
                    f"unknown model provider in '{raw['model']}'; use openai:MODEL, anthropic:MODEL or local"
                )
        if "daily_budget" in raw and raw["daily_budget"] is not None:
            try:
                if float(raw["daily_budget"]) < 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise UserError("daily_budget must be a number of US dollars, 0 or more") from None
        origins = raw.get("allowed_origins")
        if origins is not None and not (
            isinstance(origins, list)
            and all(isinstance(o, str) and (o == "*" or _ORIGIN.fullmatch(o)) for o in origins)
        ):
            raise UserError('allowed_origins must be a list like ["https://www.example.com"] (or ["*"] for any site)')
        if unknown:
            raise UserError(
                f"unknown workspace setting(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(cls.FIELDS))}"
            )


class Workspaces:
    """Workspaces and who belongs to them with which role."""

    def __init__(self, db: Records) -> None:
        self.db = db

    def create(self, name: str, public: bool = False, settings: Mapping[str, Any] | None = None) -> None:
        check_workspace_name(name)
        if self.db.one("SELECT 1 FROM workspaces WHERE name = ?", (name,)):
            raise UserError(f"the workspace '{name}' exists already")
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO workspaces VALUES (?, ?, ?, ?)",
                (name, int(public), json.dumps(dict(settings or {})), time.time()),
            )

    def get(self, name: str) -> dict[str, Any]:
        """``{"name", "public", "settings", "created", "members"}`` (as the API shows it)."""
        row = self.db.one("SELECT name, public, settings, created FROM workspaces WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no workspace '{name}'")
        members = self.db.all(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace = ? "
            "ORDER BY u.email",
            (name,),
        )
        return {
            "name": row[0],
            "public": bool(row[1]),
            "settings": json.loads(row[2]),
            "created": row[3],
            "members": [{"email": e, "role": r} for e, r in members],
        }

    def require(self, name: str) -> None:
        """NotFoundError unless the workspace exists."""
        if not self.db.one("SELECT 1 FROM workspaces WHERE name = ?", (name,)):
            raise NotFoundError(f"no workspace '{name}'")

    def settings(self, name: str) -> WorkspaceSettings:
        row = self.db.one("SELECT settings FROM workspaces WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no workspace '{name}'")
        return WorkspaceSettings.from_dict(json.loads(row[0]))

    def names(self) -> list[str]:
        return [r[0] for r in self.db.all("SELECT name FROM workspaces ORDER BY name")]

    def public(self) -> list[str]:
        return [r[0] for r in self.db.all("SELECT name FROM workspaces WHERE public = 1 ORDER BY name")]

    def update(self, name: str, *, public: bool | None = None, settings: Mapping[str, Any] | None = None) -> None:
        self.require(name)
        with self.db.tx() as db:
            if public is not None:
                db.execute("UPDATE workspaces SET public = ? WHERE name = ?", (int(public), name))
            if settings is not None:
                db.execute("UPDATE workspaces SET settings = ? WHERE name = ?", (json.dumps(dict(settings)), name))

    def delete(self, name: str) -> None:
        self.require(name)
        with self.db.tx() as db:
            db.execute("DELETE FROM workspaces WHERE name = ?", (name,))

    # ------------------------------------------------------------------ members
    def add_member(self, workspace: str, user_id: int, role: str = "member") -> None:
        if role not in WORKSPACE_ROLES:
            raise UserError(f"unknown workspace role '{role}'; roles: {', '.join(WORKSPACE_ROLES)}")
        self.require(workspace)
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO memberships VALUES (?, ?, ?) ON CONFLICT (workspace, user_id) DO UPDATE SET role = ?",
                (workspace, user_id, role, role),
            )

    def remove_member(self, workspace: str, user_id: int) -> None:
        with self.db.tx() as db:
            db.execute("DELETE FROM memberships WHERE workspace = ? AND user_id = ?", (workspace, user_id))

    def memberships(self, user_id: int) -> dict[str, str]:
        """workspace → the user's role there."""
        rows = self.db.all("SELECT workspace, role FROM memberships WHERE user_id = ? ORDER BY workspace", (user_id,))
        return {w: r for w, r in rows}


class Groups:
    """Named groups of users, which documents' access lists name as ``group:NAME``."""

    def __init__(self, db: Records) -> None:
        self.db = db

    def create(self, name: str) -> None:
        check_name(name, "group")
        with self.db.tx() as db:
            db.execute("INSERT INTO groups VALUES (?, ?) ON CONFLICT DO NOTHING", (name, time.time()))

    def add(self, name: str, user_id: int) -> None:
        if not self.db.one("SELECT 1 FROM groups WHERE name = ?", (name,)):
            raise NotFoundError(f"no group '{name}'")
        with self.db.tx() as db:
            db.execute("INSERT INTO group_members VALUES (?, ?) ON CONFLICT DO NOTHING", (name, user_id))

    def remove(self, name: str, user_id: int) -> None:
        with self.db.tx() as db:
            db.execute("DELETE FROM group_members WHERE group_name = ? AND user_id = ?", (name, user_id))

    def all(self) -> dict[str, list[str]]:
        """group → the emails of its members."""
        out: dict[str, list[str]] = {name: [] for (name,) in self.db.all("SELECT name FROM groups ORDER BY name")}
        for name, email in self.db.all(
            "SELECT g.group_name, u.email FROM group_members g JOIN users u ON u.id = g.user_id ORDER BY u.email"
        ):
            out[name].append(email)
        return out

    def of(self, user_id: int) -> tuple[str, ...]:
        rows = self.db.all("SELECT group_name FROM group_members WHERE user_id = ? ORDER BY group_name", (user_id,))
        return tuple(r[0] for r in rows)
