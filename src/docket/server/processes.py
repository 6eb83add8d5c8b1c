"""``docket serve --workers N``: N server processes on one port, sharing one knowledge base.

Python runs one thread of Python code at a time per process, so one process keeps about one core
busy however many requests it holds; N processes (uvicorn's workers, one listening socket) use N
cores. Each process builds its own services (:func:`~docket.server.deps.build_state`): its own
connections to the store and the accounts database, its own embedder, caches and sign-in limits.
What they share is on disk, and safe to share across processes:

- the index and the accounts database are SQLite files in WAL mode, written in ``BEGIN IMMEDIATE``
  transactions with a busy timeout (or one PostgreSQL database), and each process reloads its
  in-memory search views when the index's ``generation`` changes, so a document indexed by one
  process is found by all;
- the background work (upload jobs, workflow runs, schedules and source syncs) runs in exactly one
  process, the *primary*: the one holding an exclusive lock on ``HOME/serve.lock``. The others
  queue jobs and runs in the database, where the primary's queue threads find them at their next
  poll. A primary that dies releases the lock with its process; uvicorn starts a new process in
  its place, which takes the lock and the background work (jobs it left running are queued again,
  as on any start). On SQLite this one-process rule is what keeps a job from being claimed twice.

The parent process (uvicorn's supervisor) hands the settings' sources to the workers through the
environment (:data:`SPEC_ENV`: home, config file and flags, never the settings' secrets), and one
setup token, so the link ``docket serve`` prints works on whichever process answers it.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from docket.config import Settings, load_settings

__all__ = ["SPEC_ENV", "process_count", "serve_processes", "worker_app"]

SPEC_ENV = "DOCKET_SERVE_SPEC"
LOCK_NAME = "serve.lock"
_held: list[Any] = []  # the open lock file of the primary, kept for the life of the process


def process_count(settings: Settings) -> int:
    """``server.workers``, 0 read as one per core."""
    return settings.server.workers or os.cpu_count() or 1


def claim_primary(home: Path) -> bool:
    """Whether this process is the one to run the background work (it holds ``HOME/serve.lock``)."""
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    handle = (home / LOCK_NAME).open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _held.append(handle)
    return True


def serve_processes(
    settings: Settings, count: int, *, config: Path | None, overrides: dict[str, Any], ready: list[str]
) -> None:
    """Run ``count`` server processes until stopped. ``overrides`` are the flags ``settings`` was
    built with; ``ready`` the lines the primary prints once it serves (``{setup}`` stands for the
    setup link's token, when the server has no users yet)."""
    import uvicorn

    from docket.accounts import Accounts

    accounts = Accounts.open(settings)
    try:
        token = secrets.token_urlsafe(16) if accounts.users.count() == 0 else None
    finally:
        accounts.close()
    spec = {
        "home": str(settings.home),
        "config": str(config) if config is not None else None,
        "overrides": overrides,
        "setup_token": token,
        "ready": ready,
    }
    os.environ[SPEC_ENV] = json.dumps(spec)
    # numpy's BLAS on one thread in each process, as the embedder: more threads than cores only
    # spin against each other (read when a worker imports numpy)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    uvicorn.run(
        "docket.server.processes:worker_app",
        factory=True,
        workers=count,
        host=settings.server.host,
        port=settings.server.port,
        timeout_keep_alive=settings.server.keep_alive_seconds,  # see docs/server.md, "Idle connections"
        log_level="warning",
    )


def worker_app() -> Any:
    """The application of one worker process (uvicorn calls this in each)."""
    from docket.server.app import create_app

    spec = json.loads(os.environ[SPEC_ENV])
    settings = load_settings(home=spec["home"], config_file=spec["config"], overrides=spec["overrides"])
    primary = claim_primary(settings.home)

    def ready(token: str | None) -> None:
        for line in spec["ready"]:
            if "{setup}" in line and not token:
                continue
            print(line.replace("{setup}", token or ""), file=sys.stdout, flush=True)

    os.environ.pop(SPEC_ENV, None)  # what this process starts (parsers, workflow steps) need not see it
    return create_app(
        settings, start_jobs=primary, on_ready=ready if primary else None, setup_token=spec["setup_token"]
    )
