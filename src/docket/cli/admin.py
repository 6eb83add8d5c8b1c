"""docket status / sources / config / reindex."""

from __future__ import annotations

from typing import Annotated

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
    settings_from,
)
from docket.cli.ingest import progress_bar

sources_app = typer.Typer(help="List and remove the folders and files a knowledge base indexes.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect settings.", no_args_is_help=True)


@handle_errors
def status(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """What the knowledge base holds: documents, chunks, embedder, size, failures."""
    with open_kb(home, config) as kb:
        stats = kb.store.stats()
        stats["home"] = str(kb.settings.home)
        failures = kb.store.failures()
    if as_json:
        emit_json({**stats, "failed": failures})
        return
    table = Table(show_header=False)
    for key, value in stats.items():
        table.add_row(key, escape(str(value)))
    console.print(table)
    for f in failures:
        console.print(f"  [red]failed[/] {escape(f['path'])}: {escape(f['error'])}", highlight=False)


@sources_app.command("list")
@handle_errors
def sources_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List sources with their document counts."""
    with open_kb(home, config) as kb:
        sources = kb.store.sources()
        counts = {name: sum(1 for _ in kb.store.documents(name)) for name in sources}
    if as_json:
        emit_json([{"name": n, "documents": counts[n], **cfg} for n, cfg in sources.items()])
        return
    table = Table("name", "type", "documents", "workspace")
    for name, cfg in sources.items():
        table.add_row(escape(name), cfg.get("type", "?"), str(counts[name]), escape(cfg.get("workspace", "default")))
    console.print(table)


@sources_app.command("remove")
@handle_errors
def sources_remove(
    name: Annotated[str, typer.Argument(help="The source's name, as `docket sources list` shows it.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a source and everything indexed from it."""
    with open_kb(home, config) as kb:
        kb.store.remove_source(name)
    if as_json:
        emit_json({"removed": name})
    else:
        console.print(f"Removed {escape(name)}")


@config_app.command("show")
@handle_errors
def config_show(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective settings (all layers applied)."""
    data = settings_from(home, config).redacted()
    if as_json:
        emit_json(data)
        return
    import tomli_w

    console.print(tomli_w.dumps({k: v for k, v in data.items() if v is not None}), highlight=False, markup=False)


@handle_errors
def reindex(
    embedder: Annotated[str, typer.Option("--embedder", help="Registered embedder to rebuild with.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-embed the whole knowledge base with another embedder (files are not re-read)."""
    from docket.index.reindex import reindex as run_reindex

    settings = settings_from(home, config)
    with progress_bar(not as_json) as progress:
        result = run_reindex(settings, embedder, progress)
    if as_json:
        emit_json(result)
    else:
        console.print(f"Rebuilt {result['documents']} documents ({result['chunks']} chunks) with {result['embedder']}.")
