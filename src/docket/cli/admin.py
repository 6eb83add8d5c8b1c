"""docket status / config / reindex (sources: docket.cli.sources)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    console,
    emit_json,
    handle_errors,
    open_kb,
    progress_bar,
    settings_from,
)

config_app = typer.Typer(help="Inspect settings.", no_args_is_help=True)


@handle_errors
def status(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """What the knowledge base holds: documents, chunks, embedder, size, failures."""
    from docket.index.reindex import reindex_progress

    with open_kb(home, config) as kb:
        stats = kb.store.stats()
        stats["home"] = str(kb.settings.home)
        if kb.switch_pending():
            stats["embedder_configured"] = kb.settings.embedder.name
        switching = reindex_progress(kb.settings.home)
        if switching is not None:
            stats["reindex"] = f"{switching['done']}/{switching['total']} chunks with {switching['embedder']}"
        failures = kb.ledger.failures()
    if as_json:
        emit_json({**stats, "failed": failures})
        return
    table = Table(show_header=False)
    for key, value in stats.items():
        table.add_row(key, escape(str(value)))
    console.print(table)
    for f in failures:
        console.print(f"  [red]failed[/] {escape(f['path'])}: {escape(f['error'])}", highlight=False)
    if "embedder_configured" in stats and "reindex" not in stats:
        console.print(
            f"[yellow]The settings name the embedder '{escape(stats['embedder_configured'])}'; searches use "
            f"'{escape(str(stats['embedder']))}' until you run: docket reindex[/]",
            highlight=False,
        )


@config_app.command("show")
@handle_errors
def config_show(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective settings (all layers applied)."""
    data = settings_from(home, config).redacted()
    if as_json:
        emit_json(data)
        return
    import tomli_w

    console.print(tomli_w.dumps(_without_unset(data)), highlight=False, markup=False)


def _without_unset(data: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: settings that are not set are left out."""
    return {k: _without_unset(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


@handle_errors
def reindex(
    embedder: Annotated[
        str | None,
        typer.Option("--embedder", help="Registered embedder to switch to (default: the configured embedder.name)."),
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Run detached and return at once; `docket status` shows progress.")
    ] = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Switch the knowledge base to another embedder: re-embed every chunk (files are not re-read)
    while search keeps using the current index, then swap the new vectors in at once."""
    settings = settings_from(home, config)
    if background:
        _reindex_in_background(settings, embedder, config, as_json)
        return
    from docket.index.reindex import reindex as run_reindex

    with progress_bar(not as_json) as progress:
        result = run_reindex(settings, embedder, progress)
    if as_json:
        emit_json(result)
    else:
        console.print(f"Re-embedded {result['chunks']} chunks with {result['embedder']}; it now answers searches.")


def _reindex_in_background(settings: Any, embedder: str | None, config: Path | None, as_json: bool) -> None:
    import subprocess
    import sys

    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "docket", "reindex", "--home", str(home), "--json"]
    args += ["--embedder", embedder] if embedder else []
    args += ["--config", str(config)] if config else []
    log = home / "reindex.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    if as_json:
        emit_json({"pid": proc.pid, "log": str(log)})
        return
    console.print(
        f"Re-embedding in the background (pid {proc.pid}, log {log}). Search keeps using the current index "
        "until the new one is swapped in; `docket status` shows progress."
    )
