"""The ingestion jobs of the server's background worker (table ``jobs``): a queue that survives a
restart, claimed with a lease on PostgreSQL so several servers share it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from docket.accounts.schema import LEASE_SECONDS, NOW
from docket.errors import NotFoundError
from docket.records import Records

__all__ = ["Jobs"]


class Jobs:
    def __init__(self, db: Records, lease_seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    @property
    def shared(self) -> bool:
        """Whether several servers share these records (PostgreSQL): claims are leased."""
        return self.db.dialect == "postgres"

    def create(self, workspace: str, user_id: int | None, paths: Sequence[str]) -> int:
        with self.db.tx() as db:
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

    def get(self, job_id: int) -> dict[str, Any]:
        row = self.db.one(f"SELECT {self._JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise NotFoundError(f"no job {job_id}")
        return self._job(row)

    def recent(self, workspaces: Sequence[str] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.all(f"SELECT {self._JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        jobs = [self._job(r) for r in rows]
        return jobs if workspaces is None else [j for j in jobs if j["workspace"] in workspaces]

    def claim_next(self) -> dict[str, Any] | None:
        """Take the oldest queued job (marking it running), or None. On PostgreSQL several servers
        claim from one queue (``FOR UPDATE SKIP LOCKED``: never one job twice); a job is leased for
        :attr:`lease_seconds` (renewed by :meth:`renew_job`), and one whose lease ran out (its
        server stopped) is taken over."""
        if self.shared:
            row = self.db.one(
                f"UPDATE jobs SET state = 'running', started = ?, lease_until = {NOW} + ? WHERE id = ("
                "SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < "
                f"{NOW}) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                (time.time(), self.lease_seconds),
            )
            return None if row is None else self.get(int(row[0]))
        with self.db.tx() as db:
            row = db.execute(
                f"SELECT {self._JOB_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', started = ? WHERE id = ?", (time.time(), row[0]))
        return self.get(int(row[0]))

    def renew(self, job_id: int) -> None:
        """Extend a running job's lease (PostgreSQL; a no-op on one server's SQLite file)."""
        if self.shared:
            self.db.execute(
                f"UPDATE jobs SET lease_until = {NOW} + ? WHERE id = ? AND state = 'running'",
                (self.lease_seconds, job_id),
            )

    def requeue_interrupted(self) -> int:
        """Jobs left running by a server that stopped go back to the queue (sync is idempotent).
        On PostgreSQL only those whose lease ran out: another live server may be running the rest."""
        lapsed = f" AND (lease_until IS NULL OR lease_until < {NOW})" if self.shared else ""
        return self.db.execute(f"UPDATE jobs SET state = 'queued' WHERE state = 'running'{lapsed}").rowcount

    def progress(self, job_id: int, progress: dict[str, Any]) -> None:
        self.db.execute("UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps(progress), job_id))

    def finish(self, job_id: int, report: dict[str, Any] | None, error: str | None = None) -> None:
        state = "failed" if error else "done"
        with self.db.tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, report = ?, error = ? WHERE id = ?",
                (state, time.time(), None if report is None else json.dumps(report), error, job_id),
            )

    def retry(self, job_id: int) -> None:
        """Queue a job again; this time its files that failed to parse before are parsed again even
        if they have not changed (``retry_failed`` on each of its items)."""
        items = [{**i, "retry_failed": True} if isinstance(i, dict) else i for i in self.get(job_id)["paths"]]
        with self.db.tx() as db:
            db.execute(
                "UPDATE jobs SET state = 'queued', started = NULL, finished = NULL, error = NULL, paths = ? "
                "WHERE id = ?",
                (json.dumps(items), job_id),
            )
