"""Background ingestion for the server.

An upload (or a re-sync) returns at once with a job; one worker thread runs the jobs in order.
The queue is the ``jobs`` table of the accounts database, so a server that stops mid-job finds
it again on start and runs it again. With the accounts in PostgreSQL several servers share the
queue: each job is claimed by one of them and leased while it runs (:func:`renewing`); a job whose
server stopped renewing is taken over by another once its lease runs out. Ingestion is
incremental (unchanged files are skipped by size, time and hash; chunks already embedded are
reused), so a job that runs twice indexes nothing twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from docket.config import Settings
from docket.errors import DocketError
from docket.kb import KnowledgeBase
from docket.server.accounts import Accounts

__all__ = ["JobRunner", "renewing"]


@contextmanager
def renewing(renew: Callable[[], None] | None, every: float) -> Iterator[None]:
    """Call ``renew()`` every ``every`` seconds in a thread while the block runs (a lease's
    heartbeat); nothing when ``renew`` is None."""
    if renew is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            try:
                renew()
            except Exception:  # a missed beat is retried; the lease outlives a few of them
                continue

    thread = threading.Thread(target=beat, name="docket-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class JobRunner:
    def __init__(self, kb: KnowledgeBase, accounts: Accounts, settings: Settings, poll_seconds: float = 0.2) -> None:
        self.kb, self.accounts, self.settings = kb, accounts, settings
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.accounts.requeue_interrupted()
        self._thread = threading.Thread(target=self._run, name="docket-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, workspace: str, user_id: int | None, items: list[dict[str, Any]]) -> int:
        """Queue ingesting ``items`` (``{"path", "access"}``) into ``workspace``; returns the job id."""
        job_id = self.accounts.create_job(workspace, user_id, items)  # type: ignore[arg-type]
        self._wake.set()
        return job_id

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self.accounts.next_job()
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            renew = partial(self.accounts.renew_job, job["id"]) if self.accounts.shared else None
            with renewing(renew, self.accounts.lease_seconds / 3):
                self.run_job(job)

    def run_job(self, job: dict[str, Any]) -> None:
        started = time.time()

        def progress(done: int, total: int, path: str) -> None:
            elapsed = time.time() - started
            eta = elapsed / done * (total - done) if done else None
            self.accounts.job_progress(job["id"], {"done": done, "total": total, "file": path, "eta_seconds": eta})

        try:
            report = None
            for item in job["paths"]:
                if self.accounts.shared:  # an upload to another server: fetch its files from the database
                    from docket.server import uploads

                    uploads.materialize(self.accounts, uploads.root(self.accounts, self.settings), Path(item["path"]))
                result = self.kb.ingest(
                    [item["path"]], workspace=job["workspace"], access=item.get("access") or (), progress=progress
                )
                if report is None:
                    report = result
                else:
                    report.merge(result)
            self.accounts.finish_job(job["id"], report.to_dict() if report is not None else {})
        except DocketError as exc:
            self.accounts.finish_job(job["id"], None, str(exc))
        except Exception as exc:  # a worker must survive any one job
            self.accounts.finish_job(job["id"], None, f"{type(exc).__name__}: {exc}")
