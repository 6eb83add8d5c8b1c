"""Workflow runs (table ``workflow_runs``) and, on PostgreSQL, the files of their folders
(``run_files``): queued, claimed with a lease, finished with the documents they read."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from docket.accounts.schema import LEASE_SECONDS, NOW, is_value
from docket.errors import NotFoundError
from docket.records import Records

__all__ = ["Runs"]


class Runs:
    def __init__(self, db: Records, lease_seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    @property
    def shared(self) -> bool:
        """Whether several servers share these records (PostgreSQL): claims are leased."""
        return self.db.dialect == "postgres"

    _RUN_COLUMNS = (
        "id, workflow, workspace, user_id, scope, access, trigger, status, input, params, output, summary, error, "
        "created, started, finished, documents"
    )

    def create(
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
        with self.db.tx() as db:
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
            self.renew(run_id)  # leased from the start: another server's restart leaves it alone
        return self.get(run_id)

    def _run(self, row: Any) -> dict[str, Any]:
        names = [c.strip() for c in self._RUN_COLUMNS.split(",")]
        run = dict(zip(names, row, strict=True))
        for key in ("scope", "access", "input", "params", "summary", "documents"):
            run[key] = None if run[key] is None else json.loads(run[key])
        return run

    def get(self, run_id: str) -> dict[str, Any]:
        row = self.db.one(f"SELECT {self._RUN_COLUMNS} FROM workflow_runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFoundError(f"no workflow run '{run_id}'; GET /api/workflows/runs lists them")
        return self._run(row)

    def recent(self, user_id: int | None = None, *, everyone: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """The newest runs: all of them with ``everyone``, else those ``user_id`` started."""
        where, params = ("", ()) if everyone else is_value("user_id", user_id)
        where = f" WHERE {where}" if where else ""
        rows = self.db.all(
            f"SELECT {self._RUN_COLUMNS} FROM workflow_runs{where} ORDER BY created DESC LIMIT ?", (*params, limit)
        )
        return [self._run(r) for r in rows]

    def claim_next(self) -> dict[str, Any] | None:
        """Take the oldest queued workflow run (marking it running), or None; on PostgreSQL leased
        and claimed like :meth:`next_job`."""
        if self.shared:
            row = self.db.one(
                f"UPDATE workflow_runs SET status = 'running', started = ?, lease_until = {NOW} + ? WHERE id = ("
                "SELECT id FROM workflow_runs WHERE status = 'queued' OR (status = 'running' AND lease_until < "
                f"{NOW}) ORDER BY created, seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                (time.time(), self.lease_seconds),
            )
            return None if row is None else self.get(str(row[0]))
        with self.db.tx() as db:
            row = db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM workflow_runs WHERE status = 'queued' ORDER BY created, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE workflow_runs SET status = 'running', started = ? WHERE id = ?", (time.time(), row[0]))
        return self.get(str(row[0]))

    def renew(self, run_id: str) -> None:
        """Extend a running workflow run's lease (PostgreSQL; a no-op on SQLite)."""
        if self.shared:
            self.db.execute(
                f"UPDATE workflow_runs SET lease_until = {NOW} + ? WHERE id = ? AND status = 'running'",
                (self.lease_seconds, run_id),
            )

    def requeue_interrupted(self) -> int:
        """Runs left running by a server that stopped go back to the queue (they resume where they
        were); on PostgreSQL only those whose lease ran out."""
        lapsed = f" AND (lease_until IS NULL OR lease_until < {NOW})" if self.shared else ""
        sql = f"UPDATE workflow_runs SET status = 'queued' WHERE status = 'running'{lapsed}"
        return self.db.execute(sql).rowcount

    def finish(
        self,
        run_id: str,
        summary: dict[str, Any] | None,
        error: str | None = None,
        documents: Sequence[str] = (),
    ) -> None:
        """Record how a run ended, with the ids of the documents it read (who may see it depends on them)."""
        status = "failed" if error else "done"
        with self.db.tx() as db:
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

    def save_file(self, run_id: str, name: str, data: bytes) -> None:
        """Keep a file of a workflow run's folder (its input, results, reports) for every server."""
        self.db.execute(
            "INSERT INTO run_files VALUES (?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET data = excluded.data",
            (run_id, name, data),
        )

    def file_names(self, run_id: str) -> list[str]:
        return [str(r[0]) for r in self.db.all("SELECT name FROM run_files WHERE run_id = ? ORDER BY name", (run_id,))]

    def file_data(self, run_id: str, name: str) -> bytes | None:
        row = self.db.one("SELECT data FROM run_files WHERE run_id = ? AND name = ?", (run_id, name))
        return None if row is None else bytes(row[0])
