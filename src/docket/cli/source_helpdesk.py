"""docket sources add zendesk / freshdesk / json-http: help desks whose tickets are indexed and take
notes (registered on ``add_app`` in sources.py; docs/helpdesk.md)."""

from __future__ import annotations

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
from docket.errors import MissingExtraError, UserError
from docket.types import DEFAULT_WORKSPACE

__all__ = ["add_freshdesk", "add_json_http", "add_zendesk"]

UrlOption = Annotated[
    str | None, typer.Option("--url", help="The help desk's address, instead of the subdomain (a test server).")
]
TokenEnvOption = Annotated[
    str | None,
    typer.Option("--token-env", metavar="VAR", help="Environment variable holding the API token (never stored)."),
]
TokenFileOption = Annotated[
    Path | None, typer.Option("--token-file", help="A file holding the API token (instead of --token-env).")
]
GroupAccessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--group-access",
        metavar="GROUP=PRINCIPAL",
        help="Tickets of this help-desk group id are readable only by PRINCIPAL, e.g. 42=group:billing (repeatable).",
    ),
]
AllowPrivateOption = Annotated[
    bool, typer.Option("--allow-private", help="Allow a private or loopback address (a test server).")
]
MaxWaitOption = Annotated[
    float,
    typer.Option("--max-wait", min=0, help="Seconds a sync or note may wait in all when the desk answers 429."),
]


def _settings(
    token_env: str | None,
    token_file: Path | None,
    group_access: list[str] | None,
    allow_private: bool,
    max_wait: float,
) -> dict[str, Any]:
    if (token_env is None) == (token_file is None):
        raise UserError("give the API token as --token-env VAR (an environment variable) or --token-file PATH")
    settings: dict[str, Any] = {"max_wait_s": max_wait}
    if token_env is not None:
        settings["token_env"] = token_env
    else:
        settings["token_file"] = str(Path(str(token_file)).expanduser().resolve())
    groups: dict[str, list[str]] = {}
    for entry in group_access or ():
        group, sep, principal = entry.partition("=")
        if not sep or not group.strip() or not principal.strip():
            raise UserError(f"--group-access '{entry}': write GROUP_ID=PRINCIPAL, e.g. 42=group:billing")
        groups.setdefault(group.strip(), []).append(principal.strip())
    if groups:
        settings["group_access"] = groups
    if allow_private:
        settings["allow_private"] = True
    return settings


@handle_errors
def add_zendesk(
    email: Annotated[
        str, typer.Option("--email", help="The agent whose API token is used, e.g. bot@acme.com.", show_default=False)
    ],
    subdomain: Annotated[str | None, typer.Option("--subdomain", help="ACME for acme.zendesk.com.")] = None,
    url: UrlOption = None,
    token_env: TokenEnvOption = None,
    token_file: TokenFileOption = None,
    group_access: GroupAccessOption = None,
    allow_private: AllowPrivateOption = False,
    max_wait: MaxWaitOption = 60.0,
    name: NameOption = None,
    schedule: ScheduleOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add Zendesk Support: its tickets, synced by updated time; approved drafts become private comments."""
    settings = {"email": email, **_settings(token_env, token_file, group_access, allow_private, max_wait)}
    settings.update({"subdomain": subdomain} if subdomain else {"url": url} if url else {})
    add_source(
        type_="zendesk",
        name=name or subdomain or "zendesk",
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
def add_freshdesk(
    domain: Annotated[str | None, typer.Option("--domain", help="ACME for acme.freshdesk.com.")] = None,
    url: UrlOption = None,
    token_env: TokenEnvOption = None,
    token_file: TokenFileOption = None,
    group_access: GroupAccessOption = None,
    allow_private: AllowPrivateOption = False,
    max_wait: MaxWaitOption = 60.0,
    name: NameOption = None,
    schedule: ScheduleOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add Freshdesk: its tickets, synced by updated time; approved drafts become private notes."""
    settings = _settings(token_env, token_file, group_access, allow_private, max_wait)
    settings.update({"domain": domain} if domain else {"url": url} if url else {})
    add_source(
        type_="freshdesk",
        name=name or domain or "freshdesk",
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
def add_json_http(
    settings_file: Annotated[
        Path,
        typer.Option(
            "--settings",
            help="A YAML (or JSON) file describing the desk's API: url, token_env, tickets, conversation, note.",
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="The source's name.", show_default=False)],
    schedule: ScheduleOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add any help desk or CRM with a JSON API, its endpoints and fields described in a YAML file."""
    try:
        import yaml
    except ImportError:
        raise MissingExtraError("pyyaml", "workflows", "Reading a json-http source's --settings") from None
    try:
        settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--settings {settings_file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"--settings {settings_file}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(settings, dict):
        raise UserError(f"--settings {settings_file}: write a mapping of settings (url, token_env, tickets, note...)")
    add_source(
        type_="json-http",
        name=name,
        settings=settings,
        schedule=schedule,
        workspace=workspace,
        tags=tag,
        access=access,
        home=home,
        config=config,
        as_json=as_json,
    )
