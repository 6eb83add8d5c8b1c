"""docket sources add imap / add sql: mailboxes and databases (registered on ``add_app`` in sources.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from docket.cli.common import (
    AccessOption,
    ConfigOption,
    HomeOption,
    JsonOption,
    TagOption,
    WorkspaceOption,
    handle_errors,
)
from docket.cli.source_add import NameOption, ScheduleOption, add_source
from docket.errors import UserError
from docket.types import DEFAULT_WORKSPACE

__all__ = ["add_imap", "add_sql"]

PasswordEnvOption = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        metavar="VAR",
        help="Environment variable holding the password, read at each sync (the password is never stored).",
    ),
]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env_name(name: str | None, option: str) -> None:
    if name is not None and not _ENV_NAME.match(name):
        raise UserError(f"{option} '{name}' is not an environment variable name; give the name, e.g. {option} MAIL_PW")


@handle_errors
def add_imap(
    host: Annotated[str, typer.Option("--host", help="The IMAP server, e.g. imap.example.com.", show_default=False)],
    user: Annotated[str, typer.Option("--user", help="The account's login name.", show_default=False)],
    password_env: PasswordEnvOption = None,
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="A file holding the password (instead of --password-env)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default: 993 with --ssl, else 143).")
    ] = None,
    folder: Annotated[
        list[str] | None, typer.Option("--folder", help="A folder to index (repeatable; default: INBOX).")
    ] = None,
    use_ssl: Annotated[bool, typer.Option("--ssl", help="TLS from the start, port 993 (the default).")] = False,
    starttls: Annotated[bool, typer.Option("--starttls", help="Plain connection upgraded with STARTTLS.")] = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="No encryption: only for a server on this machine or a test server.")
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Do not verify the server's TLS certificate (self-signed test servers only)."),
    ] = False,
    name: NameOption = None,
    schedule: ScheduleOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a mailbox: the messages of IMAP folders, with their attachments (never marked as read)."""
    if sum((use_ssl, starttls, plain)) > 1:
        raise UserError("choose one of --ssl, --starttls and --plain")
    if (password_env is None) == (password_file is None):
        raise UserError("give the password as --password-env VAR (an environment variable) or --password-file PATH")
    _check_env_name(password_env, "--password-env")
    if password_file is not None and not password_file.expanduser().is_file():
        raise UserError(f"--password-file {password_file}: no such file")
    security = "starttls" if starttls else "plain" if plain else "ssl"
    settings: dict[str, Any] = {
        "host": host,
        "user": user,
        "security": security,
        "folders": list(folder or ["INBOX"]),
        "insecure": insecure,
    }
    if port is not None:
        settings["port"] = port
    if password_env is not None:
        settings["password_env"] = password_env
    if password_file is not None:
        settings["password_file"] = str(password_file.expanduser().resolve())
    add_source(
        type_="imap",
        name=name or f"{user}@{host}",
        settings=settings,
        schedule=schedule,
        workspace=workspace,
        tags=tag,
        access=access,
        home=home,
        config=config,
        as_json=as_json,
    )


@handle_errors
def add_sql(
    url: Annotated[
        str,
        typer.Argument(
            help="Database URL without password (sqlite:///shop.db, postgresql://user@host/db, "
            "mysql://user@host/db), or env:VAR to read the whole URL from an environment variable.",
            show_default=False,
        ),
    ],
    table: Annotated[str | None, typer.Option("--table", help="Index every row of this table.")] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="Index the rows of this single SELECT statement.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Column(s) identifying a row, comma-separated (default: the primary key)."),
    ] = None,
    updated_column: Annotated[
        str | None,
        typer.Option("--updated-column", help="A last-modified column (e.g. updated_at); else rows are hashed."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="Jinja2 template of a row's text (default: one 'column: value' line each)."),
    ] = None,
    template_file: Annotated[
        Path | None, typer.Option("--template-file", help="Read the --template from this file.")
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Jinja2 template of a row's title (default: 'TABLE KEY').")
    ] = None,
    password_env: PasswordEnvOption = None,
    name: NameOption = None,
    schedule: ScheduleOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a database: each row of a table or SELECT becomes a document (read-only, one SELECT)."""
    if (table is None) == (query is None):
        raise UserError("give exactly one of --table TABLE or --query 'SELECT ...'")
    if template is not None and template_file is not None:
        raise UserError("give --template or --template-file, not both")
    if template_file is not None:
        try:
            template = template_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--template-file {template_file}: {exc.strerror}") from None
    _check_env_name(password_env, "--password-env")
    if url.startswith("env:"):
        _check_env_name(url[4:], "env:")
    url = _absolute_sqlite(url)
    settings: dict[str, Any] = {"url": url}
    for option, value in (
        ("table", table),
        ("query", query),
        ("key", key),
        ("updated_column", updated_column),
        ("template", template),
        ("title", title),
        ("password_env", password_env),
    ):
        if value is not None:
            settings[option] = value
    add_source(
        type_="sql",
        name=name or _default_name(url, table),
        settings=settings,
        schedule=schedule,
        workspace=workspace,
        tags=tag,
        access=access,
        home=home,
        config=config,
        as_json=as_json,
    )


def _absolute_sqlite(url: str) -> str:
    """``sqlite:///relative.db`` made absolute, so syncs from another folder (or the server) find it."""
    prefix, _, rest = url.partition(":///")
    if not prefix.startswith("sqlite") or not rest or rest.startswith((":memory:", "/")):
        return url
    path, sep, params = rest.partition("?")
    return f"{prefix}:///{Path(path).expanduser().resolve()}{sep}{params}"


def _default_name(url: str, table: str | None) -> str:
    if table:
        return table
    if url.startswith("env:"):
        return url[4:].lower()
    database = url.partition("?")[0].rstrip("/").rpartition("/")[2]
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(database).stem).strip("-.")
    return stem or "database"
