"""The ``docket`` command. One module per command group; heavy imports happen inside commands."""

from __future__ import annotations

import typer

from docket.cli import admin, chat, documents, ingest, logs, search, server
from docket.cli import backup as backup_cli
from docket.cli import check as check_cli
from docket.cli import db as db_cli
from docket.cli import evals as evals_cli
from docket.cli import hooks as hooks_cli
from docket.cli import mcp as mcp_cli
from docket.cli import reviews as reviews_cli
from docket.cli import sources as sources_cli
from docket.cli import worker as worker_cli
from docket.cli import workflows as workflows_cli

app = typer.Typer(
    name="docket",
    help="Docket: answers from your own documents, with citations. Offline by default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command()(ingest.ingest)
app.command()(ingest.sync)
app.command()(search.search)
app.command()(search.ask)
app.command()(chat.chat)
app.command()(documents.summarize)
app.command()(ingest.quickstart)
app.command()(admin.status)
app.command()(admin.reindex)
app.command()(worker_cli.enqueue)
app.command()(worker_cli.worker)
app.add_typer(documents.documents_app, name="documents")
app.add_typer(sources_cli.sources_app, name="sources")
app.add_typer(admin.config_app, name="config")
app.add_typer(db_cli.db_app, name="db")
app.add_typer(logs.logs_app, name="logs")
app.command()(server.serve)
app.command("mcp")(mcp_cli.mcp)
app.add_typer(server.users_app, name="users")
app.add_typer(server.groups_app, name="groups")
app.add_typer(server.workspaces_app, name="workspaces")
app.add_typer(server.keys_app, name="keys")
app.add_typer(evals_cli.eval_app, name="eval")
app.command("check")(check_cli.check)
app.command("gaps")(check_cli.gaps)
app.command("backup")(backup_cli.backup)
app.command("restore")(backup_cli.restore)

app.command()(workflows_cli.run)
app.add_typer(workflows_cli.workflows_app, name="workflows")
app.add_typer(hooks_cli.hooks_app, name="hooks")
app.add_typer(hooks_cli.schedules_app, name="schedules")
app.add_typer(reviews_cli.reviews_app, name="reviews")


def main() -> None:
    app()
