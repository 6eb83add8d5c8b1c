"""Rows that come due again and again (the server's schedules): each due time runs once.

A row holds when it is next due. Running it starts with a claim that moves that time on, in one
statement that succeeds only if the row still holds the due time read (a compare-and-set):
servers sharing one PostgreSQL database all see the row due, and exactly one of them takes that
due time. A server that was stopped over several due times runs the row once, not once per
missed time. Afterwards the outcome is recorded: when it ran, ``ok`` or ``failed``, what it
returned or why it failed, and the next due time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from docket.errors import DocketError
from docket.records import Records

__all__ = ["Recurring", "RecurringTable"]


@dataclass(frozen=True)
class RecurringTable:
    """The table of recurring rows and the names of its columns."""

    name: str
    key: str = "name"
    next_run: str = "next_run"
    last_run: str = "last_run"
    last_status: str = "last_status"
    last_result: str = "last_result"
    last_error: str = "last_error"


class Recurring:
    """Claim due times of the rows of one :class:`RecurringTable` and record how they went."""

    def __init__(self, records: Records, table: RecurringTable) -> None:
        self.records, self.table = records, table

    def claim(self, key: Any, due: float, next_due: float | None) -> bool:
        """Take the due time ``due`` of row ``key`` (moving it on to ``next_due``); False when
        another server took it first."""
        t = self.table
        sql = f"UPDATE {t.name} SET {t.next_run} = ? WHERE {t.key} = ? AND {t.next_run} = ?"
        return self.records.execute(sql, (next_due, key, due)).rowcount == 1

    def ran(
        self, key: Any, at: float, next_due: float | None, result: dict[str, Any] | None, error: str | None
    ) -> None:
        """Record a run of ``key``: when, what it returned or why it failed, when it is due next."""
        t = self.table
        with self.records.tx() as tx:
            tx.execute(
                f"UPDATE {t.name} SET {t.last_run} = ?, {t.last_status} = ?, {t.last_result} = ?, "
                f"{t.last_error} = ?, {t.next_run} = ? WHERE {t.key} = ?",
                (
                    at,
                    "failed" if error else "ok",
                    None if result is None else json.dumps(result, default=str),
                    error,
                    next_due,
                    key,
                ),
            )

    def run(self, key: Any, due: float, at: float, next_due: float | None, job: Callable[[], dict[str, Any]]) -> bool:
        """Claim ``due`` and, if this server got it, call ``job`` and record its outcome (a job that
        raises is recorded as failed, never raised). False when another server took the due time."""
        if not self.claim(key, due, next_due):
            return False
        result: dict[str, Any] | None = None
        error = None
        try:
            result = job()
        except DocketError as exc:
            error = str(exc)
        except Exception as exc:  # one failing job must not stop the others
            error = f"{type(exc).__name__}: {exc}"
        self.ran(key, at, next_due, result, error)
        return True
