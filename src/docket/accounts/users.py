"""Users, their passwords and their web sessions (tables ``users`` and ``sessions``).

Passwords are kept as argon2 hashes; a session token only as its SHA-256 digest (it is a long
random string, so a fast digest is enough), shown once when the session starts.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from docket.accounts.schema import digest
from docket.errors import NotFoundError, UserError
from docket.records import Records

__all__ = ["ROLES", "SESSION_SECONDS", "User", "Users"]

ROLES = ("owner", "admin", "editor", "member")
SESSION_SECONDS = 14 * 24 * 3600
_COLUMNS = "id, email, name, role, disabled"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    disabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role, "disabled": self.disabled}

    @classmethod
    def from_row(cls, row: Any) -> User:
        """A user from the columns ``id, email, name, role, disabled``."""
        return cls(row[0], row[1], row[2], row[3], bool(row[4]))


class Users:
    """The accounts people sign in with, and their sessions."""

    def __init__(self, db: Records, session_seconds: float = SESSION_SECONDS) -> None:
        from argon2 import PasswordHasher

        self.db = db
        self.session_seconds = session_seconds  # a session expires this long after sign-in (server.session_hours)
        self._hasher = PasswordHasher()
        self._dummy: str | None = None

    def count(self) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM users")[0])

    def create(self, email: str, password: str, role: str = "member", name: str = "") -> User:
        email = email.strip()
        if "@" not in email or len(email) > 254:
            raise UserError(f"'{email}' is not an email address")
        _check_role(role)
        _check_password(password)
        if self.db.one("SELECT 1 FROM users WHERE lower(email) = lower(?)", (email,)):
            raise UserError(f"a user with the email {email} exists already")
        with self.db.tx() as db:
            cur = db.execute(
                "INSERT INTO users (email, name, password_hash, role, created) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (email, name, self._hasher.hash(password), role, time.time()),
            )
        return User(int(cur.fetchone()[0]), email, name, role)

    def get(self, user_id: int) -> User:
        row = self.db.one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        if row is None:
            raise NotFoundError(f"no user {user_id}")
        return User.from_row(row)

    def by_email(self, email: str) -> User:
        row = self.db.one(f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower(?)", (email.strip(),))
        if row is None:
            raise NotFoundError(f"no user with the email {email}; `docket users list` shows them")
        return User.from_row(row)

    def all(self) -> list[User]:
        return [User.from_row(r) for r in self.db.all(f"SELECT {_COLUMNS} FROM users ORDER BY id")]

    def update(self, user_id: int, *, role: str | None = None, disabled: bool | None = None) -> User:
        if role is not None:
            _check_role(role)
        with self.db.tx() as db:
            if role is not None:
                db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
            if disabled is not None:
                db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user_id))
                if disabled:
                    db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return self.get(user_id)

    def set_password(self, user_id: int, password: str) -> None:
        _check_password(password)
        with self.db.tx() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (self._hasher.hash(password), user_id))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def verify_password(self, email: str, password: str) -> User | None:
        """The user, when the password is right and the account enabled; None otherwise (the
        same time is spent either way, so a wrong email and a wrong password look alike)."""
        from argon2.exceptions import VerificationError

        row = self.db.one(f"SELECT {_COLUMNS}, password_hash FROM users WHERE lower(email) = lower(?)", (email,))
        stored = row[5] if row else self._dummy_hash()
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, ValueError):
            return None
        if row is None or row[4]:
            return None
        return User.from_row(row)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        return self._dummy

    # ------------------------------------------------------------------ sessions
    def create_session(self, user_id: int) -> tuple[str, str]:
        """A new session: (token for the cookie, CSRF token the web app echoes in a header)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = time.time()
        with self.db.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (digest(token), user_id, csrf, now, now + self.session_seconds),
            )
        return token, csrf

    def session(self, token: str) -> tuple[User, str] | None:
        """The enabled user of a live session and its CSRF token; else None."""
        row = self.db.one(
            "SELECT u.id, u.email, u.name, u.role, u.disabled, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.digest = ? AND s.expires > ?",
            (digest(token), time.time()),
        )
        if row is None or row[4]:
            return None
        return User.from_row(row[:5]), str(row[5])

    def end_session(self, token: str) -> None:
        with self.db.tx() as db:
            db.execute("DELETE FROM sessions WHERE digest = ?", (digest(token),))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role '{role}'; roles: {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise UserError("the password must have at least 8 characters")
