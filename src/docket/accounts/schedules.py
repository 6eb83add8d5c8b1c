"""Schedules: workflows and periodic jobs run by cron (table ``schedules``). Claiming a due time
(once across servers) and recording how it went is :class:`docket.work.Recurring`'s, driven by
:mod:`docket.server.scheduler`."""

from __future__ import annotations

import json
import time
from typing import Any

from docket.accounts.schema import check_name
from docket.accounts.workspaces import Workspaces
from docket.errors import NotFoundError, UserError
from docket.records import Records

__all__ = ["Schedules"]


class Schedules:
    def __init__(self, db: Records, workspaces: Workspaces) -> None:
        self.db, self._workspaces = db, workspaces

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

    def add(
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
        check_name(name, "schedule")
        if workspace is not None:
            self._workspaces.require(workspace)
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
        with self.db.tx() as db:
            added = db.execute(
                "INSERT INTO schedules (name, kind, cron, workflow, input, params, output, workspace, created, "
                f"next_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) {update} RETURNING name",
                (name, *values, time.time(), next_run),
            ).fetchone()
        if added is None:
            raise UserError(f"a schedule named '{name}' exists already; remove it first or pick another name")
        return self.get(name)

    def get(self, name: str) -> dict[str, Any]:
        row = self.db.one(f"SELECT {self._SCHEDULE_COLUMNS} FROM schedules WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no schedule '{name}'; `docket schedules list` shows them")
        return self._schedule(row)

    def all(self) -> list[dict[str, Any]]:
        return [self._schedule(r) for r in self.db.all(f"SELECT {self._SCHEDULE_COLUMNS} FROM schedules ORDER BY name")]

    def remove(self, name: str) -> None:
        self.get(name)
        with self.db.tx() as db:
            db.execute("DELETE FROM schedules WHERE name = ?", (name,))
