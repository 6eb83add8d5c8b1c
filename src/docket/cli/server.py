"""docket serve, and the accounts it serves: users, groups, workspaces, API keys.

These commands work on the knowledge base's ``accounts.db`` (or, with ``store.url``, the server
records in that PostgreSQL database) directly, so they also work while the server is stopped
(creating the owner before the first start, for instance).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import ConfigOption, HomeOption, JsonOption, console, emit_json, handle_errors, settings_from

users_app = typer.Typer(help="Server users: create and list.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups of users, for document access lists.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Workspaces and their members.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for programs (shown once, stored hashed).", no_args_is_help=True)


def _require_server_extra() -> None:
    import importlib.util

    from docket.errors import MissingExtraError

    for module in ("fastapi", "uvicorn", "argon2", "multipart"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(module, "server", "The server")


@contextmanager
def _accounts(home: Any, config: Any) -> Iterator[Any]:
    _require_server_extra()
    from docket.accounts import Accounts

    settings = settings_from(home, config)
    accounts = Accounts.open(settings)
    try:
        yield accounts
    finally:
        accounts.close()


@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1: this machine only).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes (default server.workers, 1; 0: one per core). See docs/server.md."),
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the REST API, the OpenAI-compatible endpoint (/v1), the web app (/) and the widget."""
    _require_server_extra()
    import uvicorn

    from docket.server.app import create_app
    from docket.server.processes import process_count, serve_processes

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    layers: dict[str, Any] = {"embedder": {"memory_arena": False}}  # see embedder.memory_arena
    if overrides:
        layers["server"] = overrides
    settings = settings_from(home, config, **layers)
    base = f"http://{settings.server.host}:{settings.server.port}"
    count = process_count(settings)
    if count > 1:
        if not settings.embedder.threads:
            # each process embeds on one thread: N processes already keep N cores busy, and more
            # threads than cores spin against each other
            layers["embedder"]["threads"] = 1
        serve_processes(
            settings,
            count,
            config=config,
            overrides=layers,
            ready=[
                f"Docket is serving {settings.home} at {base} with {count} processes  (API docs: {base}/docs)",
                f"No users yet. Create the owner account at {base}/?setup={{setup}}\n"
                "(or run: docket users create EMAIL --password PASSWORD --admin)",
            ],
        )
        return

    def ready(token: str | None) -> None:
        console.print(f"Docket is serving {escape(str(settings.home))} at {base}  (API docs: {base}/docs)")
        if token:
            console.print(
                f"No users yet. Create the owner account at {base}/?setup={token}\n"
                "(or run: docket users create EMAIL --password PASSWORD --admin)"
            )

    app = create_app(settings, on_ready=ready)
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        timeout_keep_alive=settings.server.keep_alive_seconds,  # see docs/server.md, "Idle connections"
        log_level="warning",
    )


@users_app.command("create")
@handle_errors
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email address (their sign-in name).")],
    password: Annotated[str, typer.Option("--password", help="At least 8 characters.", prompt=True, hide_input=True)],
    admin: Annotated[bool, typer.Option("--admin", help="An admin (the first user becomes the owner).")] = False,
    role: Annotated[str | None, typer.Option(help="owner, admin, editor or member (default member).")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user. With --admin, the first user of a server becomes its owner."""
    with _accounts(home, config) as accounts:
        chosen = role or ("admin" if admin else "member")
        if admin and accounts.users.count() == 0:
            chosen = "owner"
        user = accounts.users.create(email, password, chosen, name)
        accounts.audit.record("command line", "created user", user.email, role=user.role)
    if as_json:
        emit_json(user.to_dict())
    else:
        console.print(f"Created {escape(user.email)} ({user.role}).")


@users_app.command("list")
@handle_errors
def users_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List users with their role and workspaces."""
    with _accounts(home, config) as accounts:
        rows = [{**u.to_dict(), "workspaces": accounts.workspaces.memberships(u.id)} for u in accounts.users.all()]
    if as_json:
        emit_json(rows)
        return
    table = Table("email", "role", "workspaces", "disabled")
    for r in rows:
        shown = ", ".join(f"{w} ({role})" for w, role in r["workspaces"].items())
        table.add_row(escape(r["email"]), r["role"], escape(shown), "yes" if r["disabled"] else "")
    console.print(table)


@groups_app.command("create")
@handle_errors
def groups_create(name: str, home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Create a group (use it in access lists as group:NAME)."""
    with _accounts(home, config) as accounts:
        accounts.groups.create(name)
        accounts.audit.record("command line", "created group", name)
    emit_json({"name": name}) if as_json else console.print(f"Created group {escape(name)}.")


@groups_app.command("add-member")
@handle_errors
def groups_add_member(
    name: str, email: str, home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Add a user to a group."""
    with _accounts(home, config) as accounts:
        accounts.groups.add(name, accounts.users.by_email(email).id)
        accounts.audit.record("command line", "added to group", name, email=email)
        members = accounts.groups.all()[name]
    emit_json({"name": name, "members": members}) if as_json else console.print(
        f"{escape(name)}: {len(members)} member(s)."
    )


@workspaces_app.command("create")
@handle_errors
def workspaces_create(
    name: str,
    public: Annotated[bool, typer.Option("--public", help="Answer website visitors through the widget.")] = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace (then `docket ingest PATH --workspace NAME`)."""
    with _accounts(home, config) as accounts:
        accounts.workspaces.create(name, public)
        accounts.audit.record("command line", "created workspace", name, public=public)
        info = accounts.workspaces.get(name)
    emit_json(info) if as_json else console.print(
        f"Created workspace {escape(name)}" + (" (public)." if public else ".")
    )


@workspaces_app.command("list")
@handle_errors
def workspaces_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List workspaces with their members."""
    with _accounts(home, config) as accounts:
        rows = [accounts.workspaces.get(n) for n in accounts.workspaces.names()]
    if as_json:
        emit_json(rows)
        return
    table = Table("workspace", "public", "members")
    for r in rows:
        members = ", ".join(f"{m['email']} ({m['role']})" for m in r["members"])
        table.add_row(escape(r["name"]), "yes" if r["public"] else "", escape(members))
    console.print(table)


@workspaces_app.command("add-member")
@handle_errors
def workspaces_add_member(
    name: str,
    email: str,
    role: Annotated[str, typer.Option(help="member, editor or admin.")] = "member",
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user to a workspace (or change their role there)."""
    with _accounts(home, config) as accounts:
        accounts.workspaces.add_member(name, accounts.users.by_email(email).id, role)
        accounts.audit.record("command line", "added member", name, email=email, role=role)
        info = accounts.workspaces.get(name)
    emit_json(info) if as_json else console.print(f"{escape(email)} is now {role} of {escape(name)}.")


@keys_app.command("create")
@handle_errors
def keys_create(
    user: Annotated[str, typer.Option("--user", help="Email of the user the key acts as.")],
    workspace: Annotated[
        list[str] | None, typer.Option("--workspace", help="Limit the key to this workspace (repeatable).")
    ] = None,
    name: Annotated[str, typer.Option(help="A label, e.g. the program using it.")] = "",
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; it is printed once and stored only as a digest."""
    with _accounts(home, config) as accounts:
        owner = accounts.users.by_email(user)
        key_id, key = accounts.keys.create(owner.id, workspace or None, name)
        accounts.audit.record("command line", "created API key", owner.email, key_id=key_id, workspaces=workspace)
    if as_json:
        emit_json({"id": key_id, "key": key, "user": owner.email, "workspaces": workspace or None})
    else:
        console.print(f"API key {key_id} for {escape(owner.email)} (shown once, keep it safe):\n{key}")


@keys_app.command("list")
@handle_errors
def keys_list(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List API keys (their first characters only)."""
    with _accounts(home, config) as accounts:
        rows = accounts.keys.all()
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "user", "name", "starts with", "workspaces", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]),
            escape(r["user"]),
            escape(r["name"]),
            r["prefix"] + "…",
            escape(", ".join(r["workspaces"] or ["all of the user's"])),
            "yes" if r["revoked"] else "",
        )
    console.print(table)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(key_id: int, home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Revoke an API key: programs using it get 401 from then on."""
    with _accounts(home, config) as accounts:
        accounts.keys.revoke(key_id)
        accounts.audit.record("command line", "revoked API key", str(key_id))
    emit_json({"revoked": key_id}) if as_json else console.print(f"Revoked API key {key_id}.")
