"""docket hooks (incoming webhooks) and docket schedules (workflow runs on a timetable).

Both work on the knowledge base's ``accounts.db`` (or the server records in the PostgreSQL database
of ``store.url``) directly, so they also work while the server is stopped; ``docket serve``
answers the hooks and runs the schedules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import ConfigOption, HomeOption, JsonOption, console, emit_json, handle_errors, settings_from

hooks_app = typer.Typer(
    help="Incoming webhooks: a URL that runs a workflow on what is posted to it.", no_args_is_help=True
)
schedules_app = typer.Typer(help="Workflow runs on a schedule (cron), done by docket serve.", no_args_is_help=True)


@contextmanager
def _accounts(home: Path | None, config: Path | None) -> Iterator[tuple[Any, Any]]:
    from docket.cli.server import _require_server_extra

    _require_server_extra()
    from docket.accounts import Accounts

    settings = settings_from(home, config)
    accounts = Accounts.open(settings)
    try:
        yield settings, accounts
    finally:
        accounts.close()


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M") if at else ""


# ---------------------------------------------------------------------- hooks


@hooks_app.command("create")
@handle_errors
def hooks_create(
    workflow: Annotated[str, typer.Argument(help="The workflow to run (docket workflows list, or HOME/workflows).")],
    workspace: Annotated[str, typer.Option("--workspace", help="The workspace whose documents the runs read.")],
    name: Annotated[str, typer.Option("--name", help="A label, e.g. the sending system.")] = "",
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an incoming webhook; its URL (with the secret token) is printed once."""
    from docket.server.runs import load_named

    with _accounts(home, config) as (settings, accounts):
        load_named(settings.home, workflow)
        hook_id, token = accounts.hooks.create(workflow, workspace, name)
        accounts.audit.record("command line", "created hook", str(hook_id), workflow=workflow, workspace=workspace)
    url = f"http://{settings.server.host}:{settings.server.port}/hooks/{token}"
    if as_json:
        emit_json({"id": hook_id, "workflow": workflow, "workspace": workspace, "name": name, "url": url})
        return
    console.print(
        f"Hook {hook_id}: POST JSON to this URL to run '{escape(workflow)}' in '{escape(workspace)}' "
        "(shown once, keep it secret; use your server's public address):"
    )
    console.print(url, markup=False, highlight=False, soft_wrap=True)


@hooks_app.command("list")
@handle_errors
def hooks_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List incoming webhooks (their token's first characters only)."""
    with _accounts(home, config) as (_, accounts):
        rows = accounts.hooks.all()
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "name", "workflow", "workspace", "token starts with", "last used")
    for r in rows:
        table.add_row(
            str(r["id"]),
            escape(r["name"]),
            escape(r["workflow"]),
            escape(r["workspace"]),
            r["prefix"] + "…",
            _when(r["last_used"]),
        )
    console.print(table)


@hooks_app.command("remove")
@handle_errors
def hooks_remove(
    hook_id: int, home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Remove an incoming webhook: its URL answers 404 from then on."""
    with _accounts(home, config) as (_, accounts):
        accounts.hooks.remove(hook_id)
        accounts.audit.record("command line", "removed hook", str(hook_id))
    emit_json({"removed": hook_id}) if as_json else console.print(f"Removed hook {hook_id}.")


# ---------------------------------------------------------------------- schedules


@schedules_app.command("add")
@handle_errors
def schedules_add(
    name: Annotated[str, typer.Argument(help="A name for the schedule.")],
    workflow: Annotated[str, typer.Option("--workflow", help="The workflow to run.")],
    cron: Annotated[str, typer.Option("--cron", help="When, in cron syntax: '0 7 * * 1' is Mondays at 07:00.")],
    input: Annotated[Path, typer.Option("--input", help="The input file or folder (read at each run).")],
    params: Annotated[str | None, typer.Option("--params", help="Workflow parameters as a JSON object.")] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="Report spec (YAML) for the report workflow.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="A folder each run's results and files are copied into.")
    ] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="The workspace whose documents and model the runs use.")
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a workflow on a schedule (docket serve runs it; times are the server's local time)."""
    from docket.errors import UserError
    from docket.server.runs import new_schedule
    from docket.server.scheduler import Scheduler

    values: dict[str, Any] = {}
    if params is not None:
        try:
            values = json.loads(params)
        except json.JSONDecodeError as exc:
            raise UserError(f'--params: not JSON ({exc.msg}); give an object, e.g. \'{{"team": "sales"}}\'') from None
        if not isinstance(values, dict):
            raise UserError('--params: give a JSON object, e.g. \'{"team": "sales"}\'')
    if spec is not None:
        values["spec"] = str(spec)
    with _accounts(home, config) as (settings, accounts):
        schedule = new_schedule(
            Scheduler(accounts),
            settings.home,
            name,
            workflow=workflow,
            cron=cron,
            input=str(input),
            params=values,
            output=str(output) if output else None,
            workspace=workspace,
        )
        accounts.audit.record("command line", "created schedule", name, workflow=workflow, cron=schedule["cron"])
    if as_json:
        emit_json(schedule)
    else:
        console.print(
            f"Scheduled '{escape(name)}': {escape(workflow)} at '{escape(schedule['cron'])}', "
            f"next run {_when(schedule['next_run'])} (while docket serve is running)."
        )


@schedules_app.command("list")
@handle_errors
def schedules_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List schedules: last run, its result, next run, last error."""
    from docket.server.scheduler import describe

    with _accounts(home, config) as (_, accounts):
        rows = [describe(accounts, s) for s in accounts.schedules.all()]
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "runs", "cron", "last run", "result", "next run", "last error")
    for r in rows:
        result = r["last_result"] or {}
        shown = r["last_status"] or ""
        if r["kind"] == "workflow" and result.get("ok") is not None:
            shown += f" ({result['ok']} ok, {result['failed']} failed)"
        table.add_row(
            escape(r["name"]),
            escape(r["workflow"] or "(periodic job)"),
            escape(r["cron"]),
            _when(r["last_run"]),
            escape(shown),
            _when(r["next_run"]),
            escape((r["last_error"] or "")[:120]),
        )
    console.print(table)


@schedules_app.command("remove")
@handle_errors
def schedules_remove(
    name: str, home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Remove a schedule (runs it already queued still happen)."""
    from docket.server.runs import remove_schedule

    with _accounts(home, config) as (_, accounts):
        remove_schedule(accounts, name)
        accounts.audit.record("command line", "removed schedule", name)
    emit_json({"removed": name}) if as_json else console.print(f"Removed schedule {escape(name)}.")
