"""What every ``docket sources add TYPE`` command shares: the --name and --schedule options, and
registering the source (:func:`add_source`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from docket.cli.common import console, emit_json, open_kb

__all__ = ["NameOption", "ScheduleOption", "add_source"]

NameOption = Annotated[
    str | None, typer.Option("--name", help="The source's name (default: derived from the address).")
]
ScheduleOption = Annotated[
    str | None,
    typer.Option("--schedule", help="Sync on this cron schedule inside `docket serve`, e.g. '0 * * * *' (hourly)."),
]


def add_source(
    *,
    type_: str,
    name: str,
    settings: dict[str, Any],
    schedule: str | None,
    workspace: str,
    tags: list[str] | None,
    access: list[str] | None,
    home: Any,
    config: Any,
    as_json: bool,
) -> None:
    """Register a remote source and print it; shared by every ``docket sources add TYPE`` command."""
    from docket.ingest.sources.sync import add_remote_source

    with open_kb(home, config) as kb:
        saved = add_remote_source(
            kb.store,
            name,
            type_,
            settings,
            schedule=schedule,
            workspace=workspace,
            tags=tags or (),
            access=access or (),
        )
    if as_json:
        emit_json({"name": name, **saved.to_json()})
    else:
        console.print(
            f"Added {type_} source [bold]{escape(name)}[/]. Fetch it with: docket sources sync {escape(name)}",
            highlight=False,
        )
