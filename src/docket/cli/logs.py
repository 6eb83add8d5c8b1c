"""docket logs: every answer Docket gave, with its sources, prompt, model, tokens and latency."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import ConfigOption, HomeOption, JsonOption, console, emit_json, handle_errors, open_kb

logs_app = typer.Typer(help="Answers Docket gave: question, sources, prompt, model, tokens, latency.")


@logs_app.callback(invoke_without_command=True)
@handle_errors
def logs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List logged answers, newest first (`docket logs show ID` for one in full)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_kb(home, config) as kb:
        records = kb.ledger.answer_logs(limit=limit)
    if as_json:
        emit_json(records)
        return
    table = Table("id", "when", "model", "answered", "tokens", "ms", "question")
    for r in records:
        when = dt.datetime.fromtimestamp(r["at"]).strftime("%Y-%m-%d %H:%M")
        tokens = f"{r['prompt_tokens']}+{r['completion_tokens']}" if r["model"] else "-"
        answered = "[yellow]abstained[/]" if r["abstained"] else "yes"
        table.add_row(
            str(r["id"]),
            when,
            escape(r["model"] or r["method"]),
            answered,
            tokens,
            f"{r['latency_ms']:.0f}",
            escape(r["question"]),
        )
    console.print(table)


@logs_app.command("show")
@handle_errors
def logs_show(
    log_id: Annotated[int, typer.Argument(help="The id `docket logs` shows.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One logged answer in full, with the exact prompt that was sent."""
    with open_kb(home, config) as kb:
        r = kb.ledger.answer_log(log_id)
    if as_json:
        emit_json(r)
        return
    console.print(f"[bold]Q:[/] {escape(r['question'])}")
    console.print(r["answer"], markup=False, highlight=False)
    for c in r["citations"]:
        console.print(f"  \\[{c['n']}] {escape(c['path'])} {escape(c['location'].get('label', ''))}", highlight=False)
    for note in r["notes"]:
        console.print(f"[yellow]Note:[/] {escape(note)}")
    console.print(
        f"[dim]{escape(r['model'] or r['method'])} · {r['prompt_tokens']}+{r['completion_tokens']} tokens · "
        f"{r['latency_ms']:.0f} ms · {len(r['sources'])} sources[/]"
    )
    if r["prompt"]:
        console.rule("prompt sent")
        console.print(r["prompt"], markup=False, highlight=False)
