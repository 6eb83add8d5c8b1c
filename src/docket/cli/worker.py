"""docket enqueue / worker: ingestion through the job queue in PostgreSQL, on any number of machines."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.markup import escape

from docket.cli.common import (
    AccessOption,
    ConfigOption,
    HomeOption,
    JsonOption,
    RetryFailedOption,
    TagOption,
    WorkspaceOption,
    check_access,
    console,
    emit_json,
    err_console,
    handle_errors,
    settings_from,
)
from docket.types import DEFAULT_WORKSPACE


@handle_errors
def enqueue(
    paths: Annotated[list[str], typer.Argument(help="Folders or files to index (a path every worker can read).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    retry_failed: RetryFailedOption = False,
) -> None:
    """Queue the changed and deleted files of folders for `docket worker` (PostgreSQL store only)."""
    from docket.ingest.queue import enqueue as enqueue_paths
    from docket.ingest.queue import require_postgres

    check_access(access)
    settings = settings_from(home, config)
    require_postgres(settings, "docket enqueue")
    report = enqueue_paths(
        settings, paths, workspace=workspace, tags=tag or (), access=access or (), retry_failed=retry_failed
    )
    if as_json:
        emit_json(report)
        return
    failed_before = (
        f"; {report['failed_before']} failed before and unchanged (not queued; --retry-failed queues them)"
        if report["failed_before"]
        else ""
    )
    console.print(
        f"Queued {report['queued']} file(s) ({report['deletions']} deletion(s)); {report['unchanged']} unchanged"
        f"{failed_before}; {report['waiting']} task(s) waiting for workers.",
        highlight=False,
    )


@handle_errors
def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Tasks worked on at once.")] = 1,
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            min=1.0,
            help="A claimed task returns to the queue this long after its worker stops renewing it (crash).",
        ),
    ] = 60.0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, help="Claims of one task before it is marked failed.")
    ] = 3,
    batch: Annotated[int, typer.Option("--batch", min=1, max=1000, help="Tasks claimed at a time per thread.")] = 8,
    once: Annotated[
        bool, typer.Option("--once", help="Exit when no task is queued or leased any more, instead of waiting.")
    ] = False,
    poll_seconds: Annotated[
        float,
        typer.Option(
            "--poll-seconds",
            min=0.1,
            help="An idle worker wakes at once on new tasks (LISTEN/NOTIFY); it also looks this often.",
        ),
    ] = 10.0,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Work through the ingestion queue in PostgreSQL; run it on as many machines as you like."""
    from docket.ingest.queue import JobQueue, require_postgres
    from docket.ingest.sandbox import limits_from_settings, sandbox_from_settings
    from docket.ingest.worker import Worker
    from docket.kb import KnowledgeBase

    settings = settings_from(home, config)
    url = require_postgres(settings, "docket worker")
    stop = threading.Event()

    def on_term(signum: int, _frame: Any) -> None:
        if not stop.is_set():
            err_console.print("Stopping after the current file ...")
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)

    def show(job: Any, status: str) -> None:
        if not as_json:
            colour = {"done": "green", "failed": "red"}.get(status, "yellow")
            err_console.print(f"[{colour}]{status}[/] {escape(job.source)}: {escape(job.path)}", highlight=False)

    kb = KnowledgeBase(settings)
    queue = JobQueue(url, settings.store.connect_timeout)
    sandbox = sandbox_from_settings(settings.ingest)
    try:
        runner = Worker(
            settings,
            kb.store,
            kb.embedder,
            queue,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            batch=batch,
            poll_seconds=poll_seconds,
            sandbox=sandbox,
            limits=limits_from_settings(settings.ingest),
            stop=stop,
            on_done=show,
        )
        if not as_json:
            err_console.print(f"Worker {escape(runner.owner)} waiting for tasks. Stop with SIGTERM or Ctrl-C.")
        report = runner.run(concurrency=concurrency, once=once)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if sandbox is not None:
            sandbox.close()
        queue.close()
        kb.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        console.print(
            f"{report.done} done, {report.failed} failed, {report.retried} to retry, {report.released} handed back; "
            f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f}s",
            highlight=False,
        )
        for failure in report.failed_before:
            console.print(
                f"  [yellow]failed before[/] {escape(failure['source'])}: {escape(failure['path'])}: "
                f"{escape(failure['error'])} (unchanged, not parsed again)",
                highlight=False,
            )
