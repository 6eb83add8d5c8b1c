"""Background ingestion for the server.

An upload (or a re-sync) returns at once with a job; one worker thread runs the jobs in order
(:class:`docket.server.background.QueueThread`). The queue is the ``jobs`` table of the accounts
database, claimed and leased through :class:`docket.work.LeaseQueue`, so a server that stops
mid-job finds it again on start and runs it again; with the accounts in PostgreSQL several
servers share it, each job leased by the server running it. Ingestion is incremental (unchanged
files are skipped by size, time and hash; chunks already embedded are reused), so a job that runs
twice indexes nothing twice. A file that failed to parse is not parsed again by later jobs while
it is unchanged (it is listed in the report's ``failed_before``); a job retried by hand
(``POST /api/jobs/{id}/retry``) parses it again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from docket.errors import DocketError
from docket.server.background import QueueThread
from docket.work import Table

__all__ = ["JOBS", "JobRunner"]

JOBS = Table("jobs", status="state", progress="progress")  # claimed oldest first; no retries by itself


class JobRunner(QueueThread):
    """Upload and re-sync jobs (the ``jobs`` table), one at a time."""

    thread_name = "docket-jobs"
    table = JOBS

    def load(self, key: Any) -> dict[str, Any]:
        return self.accounts.jobs.get(int(key))

    def work(self, job: dict[str, Any]) -> None:
        with self.queue.renewing(job["id"]):
            self.run_job(job)

    def submit(self, workspace: str, user_id: int | None, items: list[dict[str, Any]]) -> int:
        """Queue ingesting ``items`` (``{"path", "access"}``) into ``workspace``; returns the job id."""
        job_id = self.accounts.jobs.create(workspace, user_id, items)  # type: ignore[arg-type]
        self.wake()
        return job_id

    def run_job(self, job: dict[str, Any]) -> None:
        started = time.time()
        # an upload's own files, each with its state as the job goes (the web app shows them)
        files = [
            {"name": name, "state": "queued", "error": None} for i in job["paths"] for name in i.get("files") or ()
        ]
        where = {f["name"]: f for f in files}
        last: dict[str, Any] = {}

        def report_progress() -> None:
            self.queue.progress(job["id"], {**last, "files": files} if files else last)

        def progress(done: int, total: int, path: str) -> None:
            elapsed = time.time() - started
            eta = elapsed / done * (total - done) if done else None
            last.update(done=done, total=total, file=path, eta_seconds=eta)
            report_progress()

        def on_file(path: str, error: str | None) -> None:
            if path in where:
                where[path].update(state="failed" if error else "done", error=error)

        try:
            report = None
            for item in job["paths"]:
                only = item.get("files")  # None: a folder re-read whole (a re-sync, a source added)
                if self.accounts.shared:  # an upload to another server: fetch its files from the database
                    from docket.accounts import uploads

                    uploads.materialize(
                        self.accounts.uploads,
                        uploads.root(self.accounts.uploads, self.settings),
                        Path(item["path"]),
                        only=only,
                    )
                result = self.kb.ingest(
                    [item["path"]],
                    workspace=job["workspace"],
                    access=item.get("access") or (),
                    progress=progress,
                    retry_failed=bool(item.get("retry_failed")),  # a job retried by hand
                    only=only,
                    on_file=on_file,
                )
                if report is None:
                    report = result
                else:
                    report.merge(result)
            for entry in files:  # a file gone before the job reached it (deleted meanwhile)
                if entry["state"] == "queued":
                    entry.update(state="failed", error="the file is no longer in the upload folder")
            if files:
                report_progress()
            self.queue.finish(job["id"], report=json.dumps(report.to_dict() if report is not None else {}))
        except DocketError as exc:
            self.queue.finish(job["id"], str(exc), report=None)
        except Exception as exc:  # a worker must survive any one job
            self.queue.finish(job["id"], f"{type(exc).__name__}: {exc}", report=None)
