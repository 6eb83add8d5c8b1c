"""docket sources add / list / sync / remove: the folders, websites, mailboxes and databases indexed.

``add_app`` is the ``docket sources add`` group: each remote source type adds its command to it
(``add web`` here; ``add imap`` and ``add sql`` from :mod:`docket.cli.source_types`, ``add zendesk``,
``add freshdesk`` and ``add json-http`` from :mod:`docket.cli.source_helpdesk`, registered at the
bottom). What the ``add`` commands share is in :mod:`docket.cli.source_add`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import (
    AccessOption,
    ConfigOption,
    HomeOption,
    JsonOption,
    RetryFailedOption,
    TagOption,
    WorkspaceOption,
    console,
    emit_json,
    handle_errors,
    open_kb,
)
from docket.cli.source_add import NameOption, ScheduleOption, add_source
from docket.cli.source_helpdesk import add_freshdesk, add_json_http, add_zendesk
from docket.cli.source_types import add_imap, add_sql
from docket.errors import UserError
from docket.types import DEFAULT_WORKSPACE

sources_app = typer.Typer(
    help="Add, list, sync and remove what a knowledge base indexes: folders, websites, mailboxes, databases, "
    "help desks.",
    no_args_is_help=True,
)
add_app = typer.Typer(help="Add a remote source (it is fetched on `docket sources sync`).", no_args_is_help=True)
sources_app.add_typer(add_app, name="add")


@add_app.command("web")
@handle_errors
def add_web(
    url: Annotated[str, typer.Argument(help="Start page or sitemap.xml (http:// or https://).", show_default=False)],
    name: NameOption = None,
    allow_prefix: Annotated[
        list[str] | None,
        typer.Option("--allow-prefix", help="Only crawl URLs under this path prefix, e.g. /docs/ (repeatable)."),
    ] = None,
    allow_domain: Annotated[
        list[str] | None,
        typer.Option("--allow-domain", help="Also crawl this host (default: only the start URL's host; repeatable)."),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option("--allow-private", help="Allow private and loopback addresses (an intranet, 127.0.0.1)."),
    ] = False,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, help="Stop after this many pages.")] = 500,
    delay: Annotated[float, typer.Option("--delay", min=0.0, help="Seconds between requests to the same host.")] = 1.0,
    schedule: ScheduleOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a website: crawled from URL (a page or a sitemap) within its host and --allow-prefix paths."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname
    if not host:
        raise UserError(f"'{url}' is not a web address; give one like https://intranet.example.com/docs/")
    settings: dict[str, Any] = {
        "url": url,
        "allow_prefixes": allow_prefix or [],
        "allow_domains": allow_domain or [],
        "allow_private": allow_private,
        "max_pages": max_pages,
        "delay": delay,
    }
    add_source(
        type_="web",
        name=name or host,
        settings=settings,
        schedule=schedule,
        workspace=workspace,
        tags=tag,
        access=access,
        home=home,
        config=config,
        as_json=as_json,
    )


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _result(cfg: dict[str, Any]) -> str:
    if cfg.get("last_error"):
        return f"error: {cfg['last_error']}"
    r = cfg.get("last_result")
    if not r:
        return "-" if cfg.get("type") not in ("folder", "file") else ("synced" if cfg.get("last_sync") else "-")
    failed = len(r.get("failed", []))
    text = f"{r['added']} added, {r['updated']} updated, {r['unchanged']} unchanged, {r['deleted']} deleted"
    return text + (f", {failed} failed" if failed else "")


@sources_app.command("list")
@handle_errors
def sources_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List sources with their type, document counts, last sync result and next scheduled run."""
    from docket.ingest.sources.sync import describe_sources

    with open_kb(home, config) as kb:
        rows = describe_sources(kb.store)
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "type", "documents", "workspace", "last sync", "result", "next run")
    for row in rows:
        table.add_row(
            escape(row["name"]),
            row.get("type", "?"),
            str(row["documents"]),
            escape(row.get("workspace", DEFAULT_WORKSPACE)),
            _when(row.get("last_run") or row.get("last_sync")),
            escape(_result(row)),
            _when(row.get("next_run")),
        )
    console.print(table)


@sources_app.command("sync")
@handle_errors
def sources_sync(
    name: Annotated[list[str] | None, typer.Argument(help="Sources to sync (default: all).")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    retry_failed: RetryFailedOption = False,
) -> None:
    """Fetch sources now and index what changed; one source's error never stops the others."""
    from docket.cli.ingest import print_report
    from docket.errors import NotFoundError
    from docket.kb.sources import sync_one

    with open_kb(home, config) as kb:
        known = kb.ledger.sources()
        wanted = list(name) if name else list(known)
        for n in wanted:
            if n not in known:
                raise NotFoundError(f"no source named '{n}'. Sources: {', '.join(known) or 'none yet'}")
        results: dict[str, Any] = {}
        for n in wanted:
            report = sync_one(kb, n, retry_failed=retry_failed)
            error = _whole_source_error(report, n)
            results[n] = {**report.to_dict(), "error": error}
            if not as_json:
                console.print(f"[bold]{escape(n)}[/]: " + (f"[red]error[/] {escape(error)}" if error else ""), end="")
                if error:
                    console.print()
                else:
                    print_report(report)
    if as_json:
        emit_json(results)
    if results and all(r["error"] for r in results.values()):
        raise typer.Exit(1)


def _whole_source_error(report: Any, name: str) -> str | None:
    return next((f["error"] for f in report.failed if f["path"] == name), None)


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
        kb.remove_source(name)
    if as_json:
        emit_json({"removed": name})
    else:
        console.print(f"Removed {escape(name)}")


# the other source types' commands, after ``add web`` so the help lists them in this order
add_app.command("imap")(add_imap)
add_app.command("sql")(add_sql)
add_app.command("zendesk")(add_zendesk)
add_app.command("freshdesk")(add_freshdesk)
add_app.command("json-http")(add_json_http)
