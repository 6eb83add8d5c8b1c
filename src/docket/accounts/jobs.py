"""The ingestion jobs of the server's background worker (table ``jobs``): queued here, read back
for the API, queued again by hand. Claiming, leasing and finishing them is :mod:`docket.work`'s
lease queue (``JOBS`` in :mod:`docket.server.jobs`), the one mechanism for background work."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from docket.errors import NotFoundError
from docket.records import Records

__all__ = ["Jobs"]


class Jobs:
    def __init__(self, db: Records) -> None:
        self.db = db

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
