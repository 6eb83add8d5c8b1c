"""Who asked which logged answer and owns which conversation, and the feedback on answers
(tables ``answers``, ``conversations`` and ``feedback``; the answers themselves are in the
knowledge base's answer log)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from docket.accounts.schema import is_value
from docket.records import Records

__all__ = ["Answers", "Owner"]

Owner = tuple[int | None, list[str] | None]  # (user id, the workspaces it was asked in; None: all)
_BATCH = 500  # ids per IN (...) query


class Answers:
    def __init__(self, db: Records) -> None:
        self.db = db

    def record(self, log_id: int, user_id: int | None, workspaces: Sequence[str] | None, surface: str) -> None:
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?) ON CONFLICT (log_id) DO UPDATE SET "
                "user_id = excluded.user_id, workspaces = excluded.workspaces, surface = excluded.surface",
                (log_id, user_id, json.dumps(None if workspaces is None else list(workspaces)), surface),
            )

    def owner(self, log_id: int) -> Owner | None:
        row = self.db.one("SELECT user_id, workspaces FROM answers WHERE log_id = ?", (log_id,))
        return None if row is None else (row[0], json.loads(row[1]))

    def owners(self, log_ids: Iterable[int]) -> dict[int, Owner]:
        """:meth:`owner` of many answers at once (those without a record are left out)."""
        ids = list(dict.fromkeys(log_ids))
        out: dict[int, Owner] = {}
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            rows = self.db.all(
                f"SELECT log_id, user_id, workspaces FROM answers WHERE log_id IN ({', '.join('?' * len(batch))})",
                batch,
            )
            out.update({int(r[0]): (r[1], json.loads(r[2])) for r in rows})
        return out

    def of(self, user_id: int | None) -> list[int]:
        """The log ids of the answers ``user_id`` asked, newest first."""
        where, params = is_value("user_id", user_id)
        rows = self.db.all(f"SELECT log_id FROM answers WHERE {where} ORDER BY log_id DESC", params)
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ conversations
    def claim_conversation(self, conversation: str, user_id: int | None, workspace: str | None) -> None:
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (conversation, user_id, workspace)
            )

    def conversation_owner(self, conversation: str) -> tuple[int | None, str | None] | None:
        row = self.db.one("SELECT user_id, workspace FROM conversations WHERE id = ?", (conversation,))
        return None if row is None else (row[0], row[1])

    def conversations_of(self, user_id: int | None) -> list[str]:
        where, params = is_value("user_id", user_id)
        return [r[0] for r in self.db.all(f"SELECT id FROM conversations WHERE {where}", params)]

    # ------------------------------------------------------------------ feedback
    def add_feedback(self, user_id: int | None, log_id: int, rating: int, comment: str = "") -> int:
        with self.db.tx() as db:
            cur = db.execute(
                "INSERT INTO feedback (at, user_id, log_id, rating, comment) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (time.time(), user_id, log_id, rating, comment),
            )
        return int(cur.fetchone()[0])

    def feedback(self, log_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        rows = self.db.all("SELECT id, at, user_id, log_id, rating, comment FROM feedback ORDER BY id DESC")
        names = ("id", "at", "user_id", "log_id", "rating", "comment")
        wanted = None if log_ids is None else set(log_ids)
        return [dict(zip(names, r, strict=True)) for r in rows if wanted is None or r[3] in wanted]
