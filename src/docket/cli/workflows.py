"""docket run / docket workflows validate / docket workflows list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from docket.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    handle_errors,
    plain_progress,
)

workflows_app = typer.Typer(help="Workflow definitions: check them, list the built-in ones.", no_args_is_help=True)


def _params(spec: Path | None, schema: str | None, param: list[str] | None) -> dict[str, Any]:
    from docket.errors import UserError

    params: dict[str, Any] = {}
    for pair in param or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param takes KEY=VALUE, not '{pair}'")
        params[key.strip()] = value
    if spec is not None:
        params["spec"] = str(spec.resolve())
    if schema is not None:
        params["schema"] = schema
    return params


@handle_errors
def run(
    workflow: Annotated[
        str, typer.Argument(help="A built-in workflow (docket workflows list) or a workflow file FILE.yml.")
    ],
    input: Annotated[str, typer.Option("--input", help="A file, a folder (one item per file) or - for stdin.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Results file (.jsonl or .csv); for report-like workflows, a folder."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model spec, e.g. openai:gpt-4o-mini.")] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="Report spec (YAML) for the report workflow.")] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="Schema for extract: a built-in name (invoice) or a JSON file.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="A workflow parameter KEY=VALUE (repeatable).")
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a workflow over a file, a folder or stdin; resumable; every run logged under runs/."""
    from docket.cli.common import open_kb
    from docket.errors import ModelNotConfiguredError
    from docket.models.chat import NO_MODEL_MESSAGE
    from docket.workflows import resolve_workflow, run_workflow

    flow = resolve_workflow(workflow)
    params = _params(spec, schema, param)
    if flow.name == "report" and "spec" not in params:
        from docket.errors import UserError

        raise UserError("the report workflow needs a report spec: pass --spec SPEC.yml (see docs/workflows.md)")
    with open_kb(home, config) as kb:
        chat = kb.answering_model(model)
        if chat is None and flow.needs_model:
            raise ModelNotConfiguredError(f"workflow '{flow.name}': {NO_MODEL_MESSAGE}")
        price = kb.settings.model.prices.get(chat.name) if chat is not None else None
        progress, finish = _progress_bar(not as_json)
        try:
            summary = run_workflow(
                flow,
                input,
                model=chat,
                params=params,
                output=output,
                kb=lambda: kb,
                runs_dir=kb.settings.home / "runs",
                price=price,
                progress=progress,
            )
        finally:
            finish()
    if as_json:
        emit_json(summary.to_dict())
    else:
        console.print(
            f"{summary.ok} ok, {len(summary.failed)} failed"
            + (f", {summary.skipped} already done" if summary.skipped else "")
        )
        for failure in summary.failed:
            console.print(f"[red]failed[/] {escape(failure['item'])}: {escape(failure['error'])}", highlight=False)
        for note in summary.notes:
            console.print(f"[yellow]note[/] {escape(note)}", highlight=False)
        if isinstance(summary.results, str):
            console.print(f"Results: {escape(summary.results)}")
        else:
            import json

            for record in summary.results:
                console.print(json.dumps(record, ensure_ascii=False, default=str), markup=False, highlight=False)
        console.print(f"[dim]Run log: {escape(summary.log)}[/]")
    if summary.failed:
        raise typer.Exit(1)


def _progress_bar(enabled: bool) -> tuple[Any, Any]:
    if not enabled:
        return None, lambda: None
    if not err_console.is_terminal:  # a log or a pipe: plain lines
        return plain_progress("Running"), lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console, transient=True
    )
    task = bar.add_task("items", total=None)
    bar.start()

    def update(done: int, total: int, item: str) -> None:
        bar.update(task, completed=done, total=total, description=item[:40] or "done")

    return update, bar.stop


@workflows_app.command("validate")
@handle_errors
def validate(
    file: Annotated[Path, typer.Argument(help="A workflow definition (YAML).")],
    as_json: JsonOption = False,
) -> None:
    """Check a workflow definition without running it (no model needed); errors give file, line and field."""
    from docket.workflows import load_workflow

    flow = load_workflow(file)
    steps = [{"id": s.id, "kind": s.kind} for s in flow.steps]
    if as_json:
        emit_json({"ok": True, "name": flow.name, "steps": steps, "needs_model": flow.needs_model})
        return
    console.print(f"{escape(str(file))}: OK — workflow '{escape(flow.name)}', {len(steps)} step(s)")


@workflows_app.command("list")
@handle_errors
def list_workflows(as_json: JsonOption = False) -> None:
    """List the built-in workflows and the step kinds a definition can use."""
    from docket.workflows import STEPS, builtin_names, resolve_workflow

    flows = [resolve_workflow(n) for n in builtin_names()]
    rows: list[dict[str, Any]] = [
        {"name": f.name, "description": " ".join(f.description.split()), "needs_model": f.needs_model} for f in flows
    ]
    if as_json:
        emit_json({"workflows": rows, "steps": STEPS.names()})
        return
    for row in rows:
        console.print(f"[bold]{escape(row['name'])}[/]  {escape(row['description'])}")
    console.print(f"Steps: {', '.join(STEPS.names())}")
