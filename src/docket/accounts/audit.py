"""The audit log: sign-ins, admin actions, document and permission changes (table ``audit``)."""

from __future__ import annotations

import json
import time
from typing import Any

from docket.records import Records

__all__ = ["Audit"]


class Audit:
    def __init__(self, db: Records) -> None:
        self.db = db

    def record(self, actor: str, action: str, target: str = "", **detail: Any) -> None:
        """Log that ``actor`` (an email, or 'anonymous') did ``action`` to ``target``."""
        with self.db.tx() as db:
            db.execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (time.time(), actor, action, target, json.dumps(detail)),
            )

    def log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest events first."""
        rows = self.db.all("SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [
            {"id": r[0], "at": r[1], "actor": r[2], "action": r[3], "target": r[4], "detail": json.loads(r[5])}
            for r in rows
        ]
