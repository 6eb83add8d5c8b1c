"""Accounts of a Docket server: users, groups, workspaces and their members, API keys, sessions,
the audit log, feedback, ingestion jobs and who owns which conversation and answer.

Kept in ``accounts.db`` next to the knowledge base (one SQLite file, WAL), or, when the store is
PostgreSQL (``store.url``), in the ``docket_server`` schema of that database, so any number of
``docket serve`` processes share them (:mod:`docket.records`). Secrets are never
stored: passwords as argon2 hashes, session tokens and API keys as SHA-256 digests (they are long
random strings, so a fast digest is enough), each shown once when created.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docket.errors import ConfigError, NotFoundError, UserError
from docket.records import Records
from docket.types import check_workspace_name

__all__ = ["ROLES", "WORKSPACE_ROLES", "Accounts", "User"]

ROLES = ("owner", "admin", "editor", "member")
WORKSPACE_ROLES = ("member", "editor", "admin")
SESSION_SECONDS = 14 * 24 * 3600
KEY_PREFIX = "dk_"
LEASE_SECONDS = 60.0  # on PostgreSQL, a running job or run whose server stopped renewing this long is taken over
SCHEMA_VERSION = 1  # of the PostgreSQL tables (meta row 'accounts_version'), for future migrations

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created REAL NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id)
);
CREATE TABLE IF NOT EXISTS workspaces (
    name TEXT PRIMARY KEY,
    public INTEGER NOT NULL DEFAULT 0,
    settings TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    workspace TEXT NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (workspace, user_id)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    workspaces TEXT,
    created REAL NOT NULL,
    revoked REAL,
    last_used REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    user_id INTEGER,
    log_id INTEGER NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS answers (
    log_id INTEGER PRIMARY KEY,
    user_id INTEGER,
    workspaces TEXT NOT NULL,
    surface TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    user_id INTEGER,
    workspace TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL,
    user_id INTEGER,
    paths TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress TEXT NOT NULL DEFAULT '{}',
    report TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS workflow_runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    workspace TEXT,
    user_id INTEGER,
    scope TEXT,
    access TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    output TEXT,
    summary TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS workflow_hooks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    workflow TEXT NOT NULL,
    workspace TEXT NOT NULL,
    prefix TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_used REAL
);
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    cron TEXT NOT NULL,
    workflow TEXT,
    input TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    output TEXT,
    workspace TEXT,
    created REAL NOT NULL,
    last_run REAL,
    last_status TEXT,
    last_result TEXT,
    last_error TEXT,
    next_run REAL
);
"""


def postgres_ddl(sqlite_ddl: str) -> str:
    """The SQLite DDL as PostgreSQL's: identity ids, bigint, double precision, no NOCASE."""
    ddl = re.sub(
        r"\bid INTEGER PRIMARY KEY( AUTOINCREMENT)?",
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        sqlite_ddl,
    )
    ddl = ddl.replace(" COLLATE NOCASE", "").replace("INTEGER", "BIGINT").replace("REAL", "DOUBLE PRECISION")
    return ddl.replace("BLOB", "BYTEA")


_POSTGRES_EXTRA = f"""
CREATE UNIQUE INDEX IF NOT EXISTS users_email_nocase ON users (lower(email));
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS lease_until DOUBLE PRECISION;
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS lease_until DOUBLE PRECISION;
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS seq BIGINT GENERATED BY DEFAULT AS IDENTITY;
CREATE TABLE IF NOT EXISTS uploads (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    workspace TEXT NOT NULL,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    UNIQUE (workspace, folder, name)
);
CREATE TABLE IF NOT EXISTS run_files (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('accounts_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;
INSERT INTO meta VALUES ('instance', md5(random()::text || clock_timestamp()::text)) ON CONFLICT DO NOTHING
"""
_NOW = "extract(epoch FROM clock_timestamp())"  # PostgreSQL's clock, the same for every server


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    disabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role, "disabled": self.disabled}


class Accounts:
    """The server's account records, in a SQLite file (a path) or given :class:`Records`
    (:meth:`open` picks from the settings). Thread-safe."""

    def __init__(self, path: str | Path | Records, session_seconds: float = SESSION_SECONDS) -> None:
        self.db = path if isinstance(path, Records) else Records.sqlite(path)
        self.path = Path(self.db.where) if self.db.dialect == "sqlite" else None  # the file, on SQLite
        self.session_seconds = session_seconds  # a session expires this long after sign-in (server.session_hours)
        self.lease_seconds = LEASE_SECONDS
        self._instance: str | None = None
        self.db.create(_SCHEMA, postgres_ddl(_SCHEMA) + ";" + _POSTGRES_EXTRA)
        # the documents a finished run read (JSON list of ids; NULL for runs of older versions)
        self.db.add_column("workflow_runs", "documents", "TEXT")
        self._tx = self.db.tx
        self._one = self.db.one
        self._all = self.db.all
        from argon2 import PasswordHasher

        self._hasher = PasswordHasher()

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

    def instance(self) -> str:
        """A random id of this PostgreSQL database's records, the same on every server using it."""
        if self._instance is None:
            row = self._one("SELECT value FROM meta WHERE key = 'instance'")
            if row is None:
                raise NotFoundError("the server's records have no instance id (they are not in PostgreSQL)")
            self._instance = str(row[0])
        return self._instance

    # ------------------------------------------------------------------ uploaded files (PostgreSQL)
    def save_upload(self, workspace: str, folder: str, name: str, data: bytes) -> str:
        """Keep an uploaded file's bytes (a new upload of the same name replaces it); returns its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        self.db.execute(
            "INSERT INTO uploads (workspace, folder, name, sha256, data, created) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace, folder, name) DO UPDATE SET sha256 = excluded.sha256, data = excluded.data, "
            "created = excluded.created",
            (workspace, folder, name, sha, data, time.time()),
        )
        return sha

    def uploads(self, workspace: str, folder: str) -> dict[str, str]:
        """The uploaded files of one upload folder: name → SHA-256."""
        rows = self._all("SELECT name, sha256 FROM uploads WHERE workspace = ? AND folder = ?", (workspace, folder))
        return {str(name): str(sha) for name, sha in rows}

    def upload_data(self, workspace: str, folder: str, name: str) -> bytes | None:
        row = self._one(
            "SELECT data FROM uploads WHERE workspace = ? AND folder = ? AND name = ?", (workspace, folder, name)
        )
        return None if row is None else bytes(row[0])

    def remove_upload(self, workspace: str, folder: str, name: str) -> None:
        self.db.execute(
            "DELETE FROM uploads WHERE workspace = ? AND folder = ? AND name = ?", (workspace, folder, name)
        )

    def save_run_file(self, run_id: str, name: str, data: bytes) -> None:
        """Keep a file of a workflow run's folder (its input, results, reports) for every server."""
        self.db.execute(
            "INSERT INTO run_files VALUES (?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET data = excluded.data",
            (run_id, name, data),
        )

    def run_file_names(self, run_id: str) -> list[str]:
        return [str(r[0]) for r in self._all("SELECT name FROM run_files WHERE run_id = ? ORDER BY name", (run_id,))]

    def run_file_data(self, run_id: str, name: str) -> bytes | None:
        row = self._one("SELECT data FROM run_files WHERE run_id = ? AND name = ?", (run_id, name))
        return None if row is None else bytes(row[0])

    # ------------------------------------------------------------------ users
    def user_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM users")[0])

    def create_user(self, email: str, password: str, role: str = "member", name: str = "") -> User:
        email = email.strip()
        if "@" not in email or len(email) > 254:
            raise UserError(f"'{email}' is not an email address")
        if role not in ROLES:
            raise UserError(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
        if len(password) < 8:
            raise UserError("the password must have at least 8 characters")
        if self._one("SELECT 1 FROM users WHERE lower(email) = lower(?)", (email,)):
            raise UserError(f"a user with the email {email} exists already")
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO users (email, name, password_hash, role, created) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (email, name, self._hasher.hash(password), role, time.time()),
            )
        return User(int(cur.fetchone()[0]), email, name, role)

    @staticmethod
    def _user(row: Any) -> User:
        return User(row[0], row[1], row[2], row[3], bool(row[4]))

    def user(self, user_id: int) -> User:
        row = self._one("SELECT id, email, name, role, disabled FROM users WHERE id = ?", (user_id,))
        if row is None:
            raise NotFoundError(f"no user {user_id}")
        return self._user(row)

    def user_by_email(self, email: str) -> User:
        row = self._one(
            "SELECT id, email, name, role, disabled FROM users WHERE lower(email) = lower(?)", (email.strip(),)
        )
        if row is None:
            raise NotFoundError(f"no user with the email {email}; `docket users list` shows them")
        return self._user(row)

    def users(self) -> list[User]:
        return [self._user(r) for r in self._all("SELECT id, email, name, role, disabled FROM users ORDER BY id")]

    def update_user(self, user_id: int, *, role: str | None = None, disabled: bool | None = None) -> User:
        if role is not None and role not in ROLES:
            raise UserError(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
        with self._tx() as db:
            if role is not None:
                db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
            if disabled is not None:
                db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user_id))
                if disabled:
                    db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return self.user(user_id)

    def set_password(self, user_id: int, password: str) -> None:
        if len(password) < 8:
            raise UserError("the password must have at least 8 characters")
        with self._tx() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (self._hasher.hash(password), user_id))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def verify_password(self, email: str, password: str) -> User | None:
        """The user, when the password is right and the account enabled; None otherwise (the
        same time is spent either way, so a wrong email and a wrong password look alike)."""
        from argon2.exceptions import VerificationError

        row = self._one(
            "SELECT id, email, name, role, disabled, password_hash FROM users WHERE lower(email) = lower(?)", (email,)
        )
        stored = row[5] if row else self._dummy_hash()
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, ValueError):
            return None
        if row is None or row[4]:
            return None
        return self._user(row)

    def _dummy_hash(self) -> str:
        if not hasattr(self, "_dummy"):
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        return self._dummy

    # ------------------------------------------------------------------ groups
    def create_group(self, name: str) -> None:
        _check_name(name, "group")
        with self._tx() as db:
            db.execute("INSERT INTO groups VALUES (?, ?) ON CONFLICT DO NOTHING", (name, time.time()))

    def add_to_group(self, name: str, user_id: int) -> None:
        if not self._one("SELECT 1 FROM groups WHERE name = ?", (name,)):
            raise NotFoundError(f"no group '{name}'")
        with self._tx() as db:
            db.execute("INSERT INTO group_members VALUES (?, ?) ON CONFLICT DO NOTHING", (name, user_id))

    def remove_from_group(self, name: str, user_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM group_members WHERE group_name = ? AND user_id = ?", (name, user_id))

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {name: [] for (name,) in self._all("SELECT name FROM groups ORDER BY name")}
        for name, email in self._all(
            "SELECT g.group_name, u.email FROM group_members g JOIN users u ON u.id = g.user_id ORDER BY u.email"
        ):
            out[name].append(email)
        return out

    def groups_of(self, user_id: int) -> tuple[str, ...]:
        rows = self._all("SELECT group_name FROM group_members WHERE user_id = ? ORDER BY group_name", (user_id,))
        return tuple(r[0] for r in rows)

    # ------------------------------------------------------------------ workspaces
    def create_workspace(self, name: str, public: bool = False, settings: dict[str, Any] | None = None) -> None:
        check_workspace_name(name)
        if self._one("SELECT 1 FROM workspaces WHERE name = ?", (name,)):
            raise UserError(f"the workspace '{name}' exists already")
        with self._tx() as db:
            db.execute(
                "INSERT INTO workspaces VALUES (?, ?, ?, ?)",
                (name, int(public), json.dumps(settings or {}), time.time()),
            )

    def workspace(self, name: str) -> dict[str, Any]:
        row = self._one("SELECT name, public, settings, created FROM workspaces WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no workspace '{name}'")
        members = self._all(
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

    def workspace_names(self) -> list[str]:
        return [r[0] for r in self._all("SELECT name FROM workspaces ORDER BY name")]

    def update_workspace(
        self, name: str, *, public: bool | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        self.workspace(name)
        with self._tx() as db:
            if public is not None:
                db.execute("UPDATE workspaces SET public = ? WHERE name = ?", (int(public), name))
            if settings is not None:
                db.execute("UPDATE workspaces SET settings = ? WHERE name = ?", (json.dumps(settings), name))

    def delete_workspace(self, name: str) -> None:
        self.workspace(name)
        with self._tx() as db:
            db.execute("DELETE FROM workspaces WHERE name = ?", (name,))

    def add_member(self, workspace: str, user_id: int, role: str = "member") -> None:
        if role not in WORKSPACE_ROLES:
            raise UserError(f"unknown workspace role '{role}'; roles: {', '.join(WORKSPACE_ROLES)}")
        self.workspace(workspace)
        with self._tx() as db:
            db.execute(
                "INSERT INTO memberships VALUES (?, ?, ?) ON CONFLICT (workspace, user_id) DO UPDATE SET role = ?",
                (workspace, user_id, role, role),
            )

    def remove_member(self, workspace: str, user_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM memberships WHERE workspace = ? AND user_id = ?", (workspace, user_id))

    def memberships(self, user_id: int) -> dict[str, str]:
        rows = self._all("SELECT workspace, role FROM memberships WHERE user_id = ? ORDER BY workspace", (user_id,))
        return {w: r for w, r in rows}

    def public_workspaces(self) -> list[str]:
        return [r[0] for r in self._all("SELECT name FROM workspaces WHERE public = 1 ORDER BY name")]

    # ------------------------------------------------------------------ API keys
    def create_key(self, user_id: int, workspaces: Sequence[str] | None = None, name: str = "") -> tuple[int, str]:
        """A new key for ``user_id``, limited to ``workspaces`` (None: all the user's). Returns the
        key's id and the key itself — shown once, stored only as a digest."""
        for w in workspaces or ():
            self.workspace(w)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._tx() as db:
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

    def key_owner(self, key: str) -> tuple[User, tuple[str, ...] | None, int] | None:
        """The enabled user of a valid, unrevoked key, its workspace scope and id; else None."""
        row = self._one(
            "SELECT k.id, k.workspaces, u.id, u.email, u.name, u.role, u.disabled FROM api_keys k "
            "JOIN users u ON u.id = k.user_id WHERE k.digest = ? AND k.revoked IS NULL",
            (digest(key),),
        )
        if row is None or row[6]:
            return None
        self.db.execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (time.time(), row[0]))
        scope = None if row[1] is None else tuple(json.loads(row[1]))
        return self._user(row[2:7]), scope, int(row[0])

    def keys(self, user_id: int | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT k.id, u.email, k.name, k.prefix, k.workspaces, k.created, k.revoked, k.last_used FROM api_keys k "
            "JOIN users u ON u.id = k.user_id"
        )
        rows = self._all(
            sql + (" WHERE k.user_id = ?" if user_id else "") + " ORDER BY k.id", (user_id,) if user_id else ()
        )
        names = ("id", "user", "name", "prefix", "workspaces", "created", "revoked", "last_used")
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            item["workspaces"] = None if item["workspaces"] is None else json.loads(item["workspaces"])
            out.append(item)
        return out

    def key_user(self, key_id: int) -> int:
        row = self._one("SELECT user_id FROM api_keys WHERE id = ?", (key_id,))
        if row is None:
            raise NotFoundError(f"no API key {key_id}")
        return int(row[0])

    def revoke_key(self, key_id: int) -> None:
        self.key_user(key_id)
        with self._tx() as db:
            db.execute("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id))

    # ------------------------------------------------------------------ sessions
    def create_session(self, user_id: int) -> tuple[str, str]:
        """A new session: (token for the cookie, CSRF token the web app echoes in a header)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (digest(token), user_id, csrf, now, now + self.session_seconds),
            )
        return token, csrf

    def session(self, token: str) -> tuple[User, str] | None:
        row = self._one(
            "SELECT u.id, u.email, u.name, u.role, u.disabled, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.digest = ? AND s.expires > ?",
            (digest(token), time.time()),
        )
        if row is None or row[4]:
            return None
        return self._user(row[:5]), str(row[5])

    def end_session(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE digest = ?", (digest(token),))

    # ------------------------------------------------------------------ audit and feedback
    def audit(self, actor: str, action: str, target: str = "", **detail: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (time.time(), actor, action, target, json.dumps(detail)),
            )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._all("SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [
            {"id": r[0], "at": r[1], "actor": r[2], "action": r[3], "target": r[4], "detail": json.loads(r[5])}
            for r in rows
        ]

    def add_feedback(self, user_id: int | None, log_id: int, rating: int, comment: str = "") -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO feedback (at, user_id, log_id, rating, comment) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (time.time(), user_id, log_id, rating, comment),
            )
        return int(cur.fetchone()[0])

    def feedback(self, log_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        rows = self._all("SELECT id, at, user_id, log_id, rating, comment FROM feedback ORDER BY id DESC")
        names = ("id", "at", "user_id", "log_id", "rating", "comment")
        wanted = None if log_ids is None else set(log_ids)
        return [dict(zip(names, r, strict=True)) for r in rows if wanted is None or r[3] in wanted]

    # ------------------------------------------------------------------ answers and conversations
    def record_answer(self, log_id: int, user_id: int | None, workspaces: Sequence[str] | None, surface: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?) ON CONFLICT (log_id) DO UPDATE SET "
                "user_id = excluded.user_id, workspaces = excluded.workspaces, surface = excluded.surface",
                (log_id, user_id, json.dumps(None if workspaces is None else list(workspaces)), surface),
            )

    def answer_owner(self, log_id: int) -> tuple[int | None, list[str] | None] | None:
        row = self._one("SELECT user_id, workspaces FROM answers WHERE log_id = ?", (log_id,))
        return None if row is None else (row[0], json.loads(row[1]))

    def answers_of(self, user_id: int | None) -> list[int]:
        where, params = _is("user_id", user_id)
        rows = self._all(f"SELECT log_id FROM answers WHERE {where} ORDER BY log_id DESC", params)
        return [r[0] for r in rows]

    def claim_conversation(self, conversation: str, user_id: int | None, workspace: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (conversation, user_id, workspace)
            )

    def conversation_owner(self, conversation: str) -> tuple[int | None, str | None] | None:
        row = self._one("SELECT user_id, workspace FROM conversations WHERE id = ?", (conversation,))
        return None if row is None else (row[0], row[1])

    def conversations_of(self, user_id: int | None) -> list[str]:
        where, params = _is("user_id", user_id)
        return [r[0] for r in self._all(f"SELECT id FROM conversations WHERE {where}", params)]

    # ------------------------------------------------------------------ ingestion jobs
    def create_job(self, workspace: str, user_id: int | None, paths: Sequence[str]) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO jobs (workspace, user_id, paths, state, created) VALUES (?, ?, ?, 'queued', ?) "
                "RETURNING id",
                (workspace, user_id, json.dumps(list(paths)), time.time()),
            )
        return int(cur.fetchone()[0])

    _JOB_COLUMNS = "id, workspace, user_id, paths, state, created, started, finished, progress, report, error"

    def _job(self, row: Any) -> dict[str, Any]:
        names = [c.strip() for c in self._JOB_COLUMNS.split(",")]
        job = dict(zip(names, row, strict=True))
        job["paths"] = json.loads(job["paths"])
        job["progress"] = json.loads(job["progress"])
        job["report"] = None if job["report"] is None else json.loads(job["report"])
        return job

    def job(self, job_id: int) -> dict[str, Any]:
        row = self._one(f"SELECT {self._JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise NotFoundError(f"no job {job_id}")
        return self._job(row)

    def jobs(self, workspaces: Sequence[str] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._all(f"SELECT {self._JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        jobs = [self._job(r) for r in rows]
        return jobs if workspaces is None else [j for j in jobs if j["workspace"] in workspaces]

    def next_job(self) -> dict[str, Any] | None:
        """Take the oldest queued job (marking it running), or None. On PostgreSQL several servers
        claim from one queue (``FOR UPDATE SKIP LOCKED``: never one job twice); a job is leased for
        :attr:`lease_seconds` (renewed by :meth:`renew_job`), and one whose lease ran out (its
        server stopped) is taken over."""
        if self.shared:
            row = self.db.one(
                f"UPDATE jobs SET state = 'running', started = ?, lease_until = {_NOW} + ? WHERE id = ("
                "SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < "
                f"{_NOW}) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                (time.time(), self.lease_seconds),
            )
            return None if row is None else self.job(int(row[0]))
        with self._tx() as db:
            row = db.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', started = ? WHERE id = ?", (time.time(), row[0]))
        return self.job(int(row[0]))

    def renew_job(self, job_id: int) -> None:
        """Extend a running job's lease (PostgreSQL; a no-op on one server's SQLite file)."""
        if self.shared:
            self.db.execute(
                f"UPDATE jobs SET lease_until = {_NOW} + ? WHERE id = ? AND state = 'running'",
                (self.lease_seconds, job_id),
            )

    def requeue_interrupted(self) -> int:
        """Jobs left running by a server that stopped go back to the queue (sync is idempotent).
        On PostgreSQL only those whose lease ran out: another live server may be running the rest."""
        lapsed = f" AND (lease_until IS NULL OR lease_until < {_NOW})" if self.shared else ""
        return self.db.execute(f"UPDATE jobs SET state = 'queued' WHERE state = 'running'{lapsed}").rowcount

    def job_progress(self, job_id: int, progress: dict[str, Any]) -> None:
        self.db.execute("UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps(progress), job_id))

    def finish_job(self, job_id: int, report: dict[str, Any] | None, error: str | None = None) -> None:
        state = "failed" if error else "done"
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, report = ?, error = ? WHERE id = ?",
                (state, time.time(), None if report is None else json.dumps(report), error, job_id),
            )

    def retry_job(self, job_id: int) -> None:
        """Queue a job again; this time its files that failed to parse before are parsed again even
        if they have not changed (``retry_failed`` on each of its items)."""
        items = [{**i, "retry_failed": True} if isinstance(i, dict) else i for i in self.job(job_id)["paths"]]
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = 'queued', started = NULL, finished = NULL, error = NULL, paths = ? "
                "WHERE id = ?",
                (json.dumps(items), job_id),
            )

    # ------------------------------------------------------------------ workflow runs
    _RUN_COLUMNS = (
        "id, workflow, workspace, user_id, scope, access, trigger, status, input, params, output, summary, error, "
        "created, started, finished, documents"
    )

    def create_run(
        self,
        run_id: str,
        workflow: str,
        workspace: str | None,
        user_id: int | None,
        access: dict[str, Any],
        trigger: str,
        input: dict[str, Any],
        params: dict[str, Any],
        *,
        scope: Sequence[str] | None = None,
        output: str | None = None,
        status: str = "queued",
    ) -> dict[str, Any]:
        """Record a workflow run (``queued``, or ``running`` for one the caller runs at once)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                f"INSERT INTO workflow_runs ({self._RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "
                "?, ?, NULL, NULL)",
                (
                    run_id,
                    workflow,
                    workspace,
                    user_id,
                    None if scope is None else json.dumps(list(scope)),
                    json.dumps(access),
                    trigger,
                    status,
                    json.dumps(input),
                    json.dumps(params),
                    output,
                    now,
                    now if status == "running" else None,
                ),
            )
        if status == "running":
            self.renew_run(run_id)  # leased from the start: another server's restart leaves it alone
        return self.run(run_id)

    def _run(self, row: Any) -> dict[str, Any]:
        names = [c.strip() for c in self._RUN_COLUMNS.split(",")]
        run = dict(zip(names, row, strict=True))
        for key in ("scope", "access", "input", "params", "summary", "documents"):
            run[key] = None if run[key] is None else json.loads(run[key])
        return run

    def run(self, run_id: str) -> dict[str, Any]:
        row = self._one(f"SELECT {self._RUN_COLUMNS} FROM workflow_runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFoundError(f"no workflow run '{run_id}'; GET /api/workflows/runs lists them")
        return self._run(row)

    def runs(self, user_id: int | None = None, *, everyone: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """The newest runs: all of them with ``everyone``, else those ``user_id`` started."""
        where, params = ("", ()) if everyone else _is("user_id", user_id)
        where = f" WHERE {where}" if where else ""
        rows = self._all(
            f"SELECT {self._RUN_COLUMNS} FROM workflow_runs{where} ORDER BY created DESC LIMIT ?", (*params, limit)
        )
        return [self._run(r) for r in rows]

    def next_run(self) -> dict[str, Any] | None:
        """Take the oldest queued workflow run (marking it running), or None; on PostgreSQL leased
        and claimed like :meth:`next_job`."""
        if self.shared:
            row = self.db.one(
                f"UPDATE workflow_runs SET status = 'running', started = ?, lease_until = {_NOW} + ? WHERE id = ("
                "SELECT id FROM workflow_runs WHERE status = 'queued' OR (status = 'running' AND lease_until < "
                f"{_NOW}) ORDER BY created, seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                (time.time(), self.lease_seconds),
            )
            return None if row is None else self.run(str(row[0]))
        with self._tx() as db:
            row = db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM workflow_runs WHERE status = 'queued' ORDER BY created, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE workflow_runs SET status = 'running', started = ? WHERE id = ?", (time.time(), row[0]))
        return self.run(str(row[0]))

    def renew_run(self, run_id: str) -> None:
        """Extend a running workflow run's lease (PostgreSQL; a no-op on SQLite)."""
        if self.shared:
            self.db.execute(
                f"UPDATE workflow_runs SET lease_until = {_NOW} + ? WHERE id = ? AND status = 'running'",
                (self.lease_seconds, run_id),
            )

    def requeue_interrupted_runs(self) -> int:
        """Runs left running by a server that stopped go back to the queue (they resume where they
        were); on PostgreSQL only those whose lease ran out."""
        lapsed = f" AND (lease_until IS NULL OR lease_until < {_NOW})" if self.shared else ""
        sql = f"UPDATE workflow_runs SET status = 'queued' WHERE status = 'running'{lapsed}"
        return self.db.execute(sql).rowcount

    def finish_run(
        self,
        run_id: str,
        summary: dict[str, Any] | None,
        error: str | None = None,
        documents: Sequence[str] = (),
    ) -> None:
        """Record how a run ended, with the ids of the documents it read (who may see it depends on them)."""
        status = "failed" if error else "done"
        with self._tx() as db:
            db.execute(
                "UPDATE workflow_runs SET status = ?, finished = ?, summary = ?, error = ?, documents = ? WHERE id = ?",
                (
                    status,
                    time.time(),
                    None if summary is None else json.dumps(summary, default=str),
                    error,
                    json.dumps(sorted(set(documents))),
                    run_id,
                ),
            )

    # ------------------------------------------------------------------ incoming webhooks
    def create_hook(self, workflow: str, workspace: str, name: str = "") -> tuple[int, str]:
        """A new hook running ``workflow`` in ``workspace``; returns its id and secret token —
        shown once, stored only as a digest."""
        self.workspace(workspace)
        token = "wh_" + secrets.token_urlsafe(32)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO workflow_hooks (name, workflow, workspace, prefix, digest, created) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (name, workflow, workspace, token[:10], digest(token), time.time()),
            )
        return int(cur.fetchone()[0]), token

    _HOOK_COLUMNS = ("id", "name", "workflow", "workspace", "prefix", "created", "last_used")

    def hooks(self) -> list[dict[str, Any]]:
        rows = self._all(f"SELECT {', '.join(self._HOOK_COLUMNS)} FROM workflow_hooks ORDER BY id")
        return [dict(zip(self._HOOK_COLUMNS, r, strict=True)) for r in rows]

    def hook_by_token(self, token: str) -> dict[str, Any] | None:
        row = self._one(
            f"SELECT {', '.join(self._HOOK_COLUMNS)} FROM workflow_hooks WHERE digest = ?", (digest(token),)
        )
        if row is None:
            return None
        self.db.execute("UPDATE workflow_hooks SET last_used = ? WHERE id = ?", (time.time(), row[0]))
        return dict(zip(self._HOOK_COLUMNS, row, strict=True))

    def remove_hook(self, hook_id: int) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM workflow_hooks WHERE id = ?", (hook_id,)).rowcount == 0:
                raise NotFoundError(f"no hook {hook_id}; `docket hooks list` shows them")

    # ------------------------------------------------------------------ schedules
    _SCHEDULE_COLUMNS = (
        "name, kind, cron, workflow, input, params, output, workspace, created, last_run, last_status, last_result, "
        "last_error, next_run"
    )

    def _schedule(self, row: Any) -> dict[str, Any]:
        names = [c.strip() for c in self._SCHEDULE_COLUMNS.split(",")]
        item = dict(zip(names, row, strict=True))
        item["params"] = json.loads(item["params"])
        item["last_result"] = None if item["last_result"] is None else json.loads(item["last_result"])
        return item

    def add_schedule(
        self,
        name: str,
        cron: str,
        *,
        kind: str = "workflow",
        workflow: str | None = None,
        input: str | None = None,
        params: dict[str, Any] | None = None,
        output: str | None = None,
        workspace: str | None = None,
        next_run: float | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Store a schedule; an existing name is an error unless ``replace`` (periodic jobs
        registered by code are replaced on every start, keeping their last run)."""
        _check_name(name, "schedule")
        if workspace is not None:
            self.workspace(workspace)
        values = (kind, cron, workflow, input, json.dumps(params or {}), output, workspace)
        # one statement, not read-then-write: servers sharing PostgreSQL register their periodic
        # jobs at the same moment on start
        update = (
            "DO UPDATE SET kind = excluded.kind, cron = excluded.cron, workflow = excluded.workflow, "
            "input = excluded.input, params = excluded.params, output = excluded.output, "
            "workspace = excluded.workspace, next_run = excluded.next_run"
            if replace
            else "DO NOTHING"
        )
        with self._tx() as db:
            added = db.execute(
                "INSERT INTO schedules (name, kind, cron, workflow, input, params, output, workspace, created, "
                f"next_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) {update} RETURNING name",
                (name, *values, time.time(), next_run),
            ).fetchone()
        if added is None:
            raise UserError(f"a schedule named '{name}' exists already; remove it first or pick another name")
        return self.schedule(name)

    def schedule(self, name: str) -> dict[str, Any]:
        row = self._one(f"SELECT {self._SCHEDULE_COLUMNS} FROM schedules WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no schedule '{name}'; `docket schedules list` shows them")
        return self._schedule(row)

    def schedules(self) -> list[dict[str, Any]]:
        return [self._schedule(r) for r in self._all(f"SELECT {self._SCHEDULE_COLUMNS} FROM schedules ORDER BY name")]

    def remove_schedule(self, name: str) -> None:
        self.schedule(name)
        with self._tx() as db:
            db.execute("DELETE FROM schedules WHERE name = ?", (name,))

    def claim_schedule(self, name: str, due: float, next_run: float) -> bool:
        """Take a due schedule (moving its next run on) unless another server took it first:
        with several servers on one database each due time runs once."""
        sql = "UPDATE schedules SET next_run = ? WHERE name = ? AND next_run = ?"
        return self.db.execute(sql, (next_run, name, due)).rowcount == 1

    def schedule_ran(
        self, name: str, at: float, next_run: float | None, result: dict[str, Any] | None, error: str | None
    ) -> None:
        """Record a schedule's run: when, what it returned or why it failed, and when it runs next."""
        with self._tx() as db:
            db.execute(
                "UPDATE schedules SET last_run = ?, last_status = ?, last_result = ?, last_error = ?, next_run = ? "
                "WHERE name = ?",
                (
                    at,
                    "failed" if error else "ok",
                    None if result is None else json.dumps(result, default=str),
                    error,
                    next_run,
                    name,
                ),
            )


def _is(column: str, value: Any) -> tuple[str, tuple[Any, ...]]:
    """``column IS value`` for SQLite and PostgreSQL alike (PostgreSQL has no ``IS ?``)."""
    return (f"{column} IS NULL", ()) if value is None else (f"{column} = ?", (value,))


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_ ." for c in name) or name.strip() != name:
        raise UserError(f"'{name}' is not a valid {what} name: use letters, digits, spaces, '-', '_' or '.'")
    if name.lower() in ("default",) and what == "group":
        raise ConfigError(f"'{name}' is reserved")
