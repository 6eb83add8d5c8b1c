"""docket reviews list / show / approve / reject / stats: the drafts workflows parked for review."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from docket.cli.common import ConfigOption, HomeOption, JsonOption, console, emit_json, handle_errors, settings_from

reviews_app = typer.Typer(
    help="The review queue: drafts that wait for a person (approve, edit or reject).", no_args_is_help=True
)

ReviewerOption = Annotated[
    str | None, typer.Option("--reviewer", help="Who decides (default: your login name).", show_default=False)
]


def _queue(home: Path | None, config: Path | None) -> Any:
    from docket.workflows.review import ReviewQueue

    return ReviewQueue.for_settings(settings_from(home, config))


def _reviewer(value: str | None) -> str:
    if value:
        return value
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "cli"


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _print_item(item: Any) -> None:
    from docket.workflows.review import draft_text

    console.print(
        f"[bold]#{item.id}[/] {escape(item.title)}  [dim]{escape(item.workflow)} · {item.status} · "
        f"{_when(item.created)}{' · ' + escape(item.workspace) if item.workspace else ''}[/]",
        highlight=False,
    )
    console.print(draft_text(item.final if item.final is not None else item.draft), markup=False, highlight=False)
    if isinstance(item.draft, dict):
        for key, value in item.draft.items():
            if key not in ("draft", "text") and key != "citations":
                console.print(f"[dim]{escape(key)}:[/] {escape(json.dumps(value, ensure_ascii=False))}")
        for n, cite in enumerate(item.draft.get("citations") or [], start=1):
            if isinstance(cite, dict):
                where = " ".join(str(cite.get(k, "")) for k in ("path", "location")).strip()
                console.print(f"[dim][{n}][/] {escape(where)}", highlight=False)
    if item.status != "pending":
        console.print(
            f"[dim]{item.status} by {escape(item.reviewer or '?')} at {_when(item.decided)}"
            + (f" — {escape(item.comment)}" if item.comment else "")
            + (f" · edit size {item.edit_size:.0%}" if item.status == "edited" and item.edit_size is not None else "")
            + (f" · webhook {escape(item.delivery)}" if item.delivery else "")
            + "[/]",
            highlight=False,
        )


@reviews_app.command("list")
@handle_errors
def list_reviews(
    status: Annotated[
        str | None, typer.Option("--status", help="pending (default), approved, edited, rejected or all.")
    ] = "pending",
    workflow: Annotated[str | None, typer.Option("--workflow", help="Only this workflow's drafts.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 50,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the drafts in the review queue (pending ones by default)."""
    with _queue(home, config) as queue:
        items = queue.find(None if status in (None, "all") else status, workflow, limit=limit)
    if as_json:
        emit_json({"reviews": [i.to_dict() for i in items]})
        return
    if not items:
        console.print(f"No {'' if status in (None, 'all') else status + ' '}drafts.")
        return
    for item in items:
        console.print(
            f"[bold]#{item.id}[/] {escape(item.title)}  [dim]{escape(item.workflow)} · {item.status} · "
            f"{_when(item.created)}[/]",
            highlight=False,
        )


@reviews_app.command("show")
@handle_errors
def show(
    review_id: Annotated[int, typer.Argument(help="The review's id (docket reviews list).")],
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one draft: its text, fields, citations and decision."""
    with _queue(home, config) as queue:
        item = queue.get(review_id)
    if as_json:
        emit_json(item.to_dict())
    else:
        _print_item(item)


def _final(draft: Any, text: str | None, final_file: Path | None) -> Any:
    from docket.errors import UserError
    from docket.workflows.review import TEXT_FIELDS

    if text is not None and final_file is not None:
        raise UserError("give --text or --final, not both")
    if final_file is not None:
        try:
            return json.loads(final_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"--final '{final_file}': not a readable JSON file ({exc})") from None
    if text is None:
        return None
    if isinstance(draft, str):
        return text
    if isinstance(draft, dict):
        for key in TEXT_FIELDS:
            if isinstance(draft.get(key), str):
                return {**draft, key: text}
    raise UserError("this draft has no text field to replace; give the whole value with --final FILE.json")


@reviews_app.command("approve")
@handle_errors
def approve(
    review_id: Annotated[int, typer.Argument(help="The review's id (docket reviews list).")],
    text: Annotated[
        str | None, typer.Option("--text", help="The edited reply text (replaces the draft's text).")
    ] = None,
    final_file: Annotated[
        Path | None, typer.Option("--final", help="A JSON file with the whole edited value.", show_default=False)
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="A note kept with the decision.")] = "",
    reviewer: ReviewerOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a draft as is, or edited (--text or --final); a then_webhook receives the final value,
    a help-desk ticket an internal note."""
    with _queue(home, config) as queue:
        pending = queue.get(review_id)
        final = _final(pending.draft, text, final_file)
        if not (pending.webhook or "").startswith("helpdesk:"):
            item = queue.approve(review_id, _reviewer(reviewer), final=final, comment=comment)
        else:  # a help-desk draft becomes an internal note on its ticket (docs/helpdesk.md)
            from docket.cli.common import open_kb
            from docket.ingest.sources.helpdesk import write_note

            with open_kb(home, config) as kb:
                queue.notes = lambda review, reply: write_note(
                    kb.store, review.webhook or "", reply, workspace=review.workspace, documents=review.documents
                )
                item = queue.approve(review_id, _reviewer(reviewer), final=final, comment=comment)
    if as_json:
        emit_json(item.to_dict())
        return
    sent_to = "Help desk" if (item.webhook or "").startswith("helpdesk:") else "Webhook"
    console.print(
        f"Review #{item.id} {item.status}." + (f" {sent_to} {escape(item.delivery)}." if item.delivery else "")
    )


@reviews_app.command("reject")
@handle_errors
def reject(
    review_id: Annotated[int, typer.Argument(help="The review's id (docket reviews list).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the decision).")] = "",
    reviewer: ReviewerOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a draft; nothing is sent."""
    with _queue(home, config) as queue:
        item = queue.reject(review_id, _reviewer(reviewer), reason.strip())
    if as_json:
        emit_json(item.to_dict())
        return
    console.print(f"Review #{item.id} rejected.")


@reviews_app.command("stats")
@handle_errors
def stats(
    workflow: Annotated[str | None, typer.Option("--workflow", help="Only this workflow.")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per workflow: pending, approved, edited, rejected, acceptance rate and mean edit size."""
    with _queue(home, config) as queue:
        rows = queue.stats(workflow)
    if as_json:
        emit_json({"workflows": rows})
        return
    if not rows:
        console.print("No drafts reviewed yet.")
        return
    from rich.table import Table

    table = Table("workflow", "pending", "approved", "edited", "rejected", "acceptance", "mean edit")
    for row in rows:
        rate, edit = row["acceptance_rate"], row["mean_edit_size"]
        table.add_row(
            escape(row["workflow"]),
            str(row["pending"]),
            str(row["approved"]),
            str(row["edited"]),
            str(row["rejected"]),
            "-" if rate is None else f"{rate:.0%}",
            "-" if edit is None else f"{edit:.0%}",
        )
    console.print(table)
