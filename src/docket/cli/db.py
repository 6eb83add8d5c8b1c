"""docket db status / upgrade / copy: the store's health, its schema version, moving to PostgreSQL."""

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
    progress_bar,
    settings_from,
)
from docket.errors import UserError

db_app = typer.Typer(
    help="The store behind a knowledge base: health, schema upgrades, copying into PostgreSQL.", no_args_is_help=True
)


def _print(data: dict[str, Any]) -> None:
    table = Table(show_header=False)
    for key, value in data.items():
        table.add_row(key, escape(str(value)))
    console.print(table)


def _queues(home: Path) -> dict[str, dict[str, int]]:
    """Upload jobs and workflow runs of `docket serve` by state (its accounts.db), read-only; {} without one."""
    import sqlite3

    path = home / "accounts.db"
    if not path.is_file():
        return {}
    out: dict[str, dict[str, int]] = {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for name, sql in (
            ("jobs", "SELECT state, COUNT(*) FROM jobs GROUP BY state"),
            ("workflow_runs", "SELECT status, COUNT(*) FROM workflow_runs GROUP BY status"),
        ):
            try:
                out[name] = {str(state): int(n) for state, n in db.execute(sql)}
            except sqlite3.Error:
                continue  # an older accounts.db without that table
    finally:
        db.close()
    return out


def _postgres_queues(url: str) -> dict[str, dict[str, int]]:
    """The same counts when the servers keep their records in PostgreSQL (the ``docket_server``
    schema); {} before any server has used the database."""
    import psycopg

    from docket.records import SCHEMA

    out: dict[str, dict[str, int]] = {}
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            for name, column in (("jobs", "state"), ("workflow_runs", "status")):
                if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{name}",)).fetchone() == (None,):
                    continue
                rows = conn.execute(f"SELECT {column}, COUNT(*) FROM {SCHEMA}.{name} GROUP BY {column}")
                out[name] = {str(state): int(n) for state, n in rows}
    except psycopg.Error:
        return {}  # the store's own status above already says what is wrong with the connection
    return out


@db_app.command("status")
@handle_errors
def status(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Backend, schema version, documents and chunks, sizes, the vector index's health, failures."""
    from docket.index import open_store
    from docket.index.migrations import sqlite_status

    settings = settings_from(home, config)
    store = open_store(settings)
    try:
        stats = store.stats()
        health = store.health() if hasattr(store, "health") else sqlite_status(settings.db_path)
        failures = store.ledger.failures()
    finally:
        store.close()
    stats.pop("path", None)
    data = {**health, **stats, "failures": len(failures)}
    queues = _postgres_queues(settings.store.url) if settings.store.url else _queues(settings.home)
    if queues:
        data["queues"] = queues
    if as_json:
        emit_json({**data, "failed": failures})
        return
    queue = data.pop("queue", None)
    if queue is not None:  # `docket worker`'s tasks in PostgreSQL
        data["queue"] = (
            f"{queue['queued']} queued, {queue['leased']} leased ({queue['expired_leases']} expired), "
            f"{queue['done']} done, {queue['failed']} failed"
        )
        for n, failure in enumerate(queue["latest_failures"], start=1):
            data[f"failed job {n}"] = f"{failure['source']}: {failure['path']}: {failure['error']}"
    _print(data)


@db_app.command("upgrade")
@handle_errors
def upgrade(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Apply the pending schema migrations of the knowledge base's store."""
    settings = settings_from(home, config)
    if settings.store.url:
        import psycopg

        from docket.index.postgres import PostgresStore
        from docket.index.postgres.schema import SCHEMA_VERSION, schema_version

        cfg = settings.store
        try:
            with psycopg.connect(cfg.url, autocommit=True, connect_timeout=max(1, round(cfg.connect_timeout))) as conn:
                before = schema_version(conn)
        except psycopg.Error as exc:
            from docket.records.postgres import explain_connect_error

            raise explain_connect_error(exc, cfg.url) from exc
        store = PostgresStore(
            cfg.url,
            pool_size=cfg.pool_size,
            connect_timeout=cfg.connect_timeout,
            hnsw_m=cfg.hnsw_m,
            hnsw_ef_construction=cfg.hnsw_ef_construction,
            hnsw_ef_search=cfg.hnsw_ef_search,
            upgrade=True,
        )
        store.close()
        result = {"backend": "postgres", "from_version": before, "to_version": SCHEMA_VERSION}
    else:
        from docket.index.migrations import sqlite_status
        from docket.index.sqlite import SCHEMA_VERSION as SQLITE_VERSION
        from docket.index.sqlite import SqliteStore

        before = int(sqlite_status(settings.db_path).get("schema_version", 0))
        SqliteStore(settings.db_path).close()  # the embedded store applies its migrations when it opens
        result = {"backend": "sqlite", "from_version": before, "to_version": SQLITE_VERSION}
    if as_json:
        emit_json(result)
    elif result["from_version"] == result["to_version"]:
        console.print(f"The schema is up to date (version {result['to_version']}).")
    else:
        console.print(f"Upgraded the schema from version {result['from_version']} to {result['to_version']}.")


@db_app.command("copy")
@handle_errors
def copy(
    to: Annotated[
        str, typer.Option("--to", help="PostgreSQL database to copy into: postgresql://USER:PASSWORD@HOST/DB.")
    ],
    merge: Annotated[
        bool, typer.Option("--merge", help="Add to a database that already holds documents (refused otherwise).")
    ] = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Copy this knowledge base (vectors included, nothing re-embedded) into PostgreSQL and check the copy."""
    from docket.config import redact_url
    from docket.index import open_store

    if not to.startswith(("postgresql://", "postgres://")):
        scheme = to.partition(":")[0] or to[:10]
        raise UserError(f"--to: a '{scheme}:' URL is not a PostgreSQL URL; use postgresql://USER:PASSWORD@HOST/DB")
    settings = settings_from(home, config)
    if settings.store.url and settings.store.url == to:
        raise UserError("--to names the database this knowledge base already uses; give another one")
    from docket.index.postgres import PostgresStore
    from docket.ops.copy import HomeCopy, copy_store

    cfg = settings.store
    source = open_store(settings)
    try:
        target = PostgresStore(
            to,
            pool_size=cfg.pool_size,
            connect_timeout=cfg.connect_timeout,
            hnsw_m=cfg.hnsw_m,
            hnsw_ef_construction=cfg.hnsw_ef_construction,
            hnsw_ef_search=cfg.hnsw_ef_search,
        )
        try:
            # the server's records, reviews, tables and uploads of an embedded home (with store.url
            # they are in the source database already, and move with it: pg_dump)
            rest = None if cfg.url else HomeCopy(settings, to, merge)
            try:
                if rest is not None:
                    rest.check_empty()  # before anything is written, like the store's own check
                with progress_bar(not as_json, "Copying") as progress:
                    result = copy_store(
                        source, target, merge=merge, progress=progress, rename=rest.rename if rest else None
                    )
                parts = (
                    rest.copy()
                    if rest is not None
                    else {"records": {}, "reviews": {}, "tables": 0, "uploads": 0, "run_files": 0}
                )
            finally:
                if rest is not None:
                    rest.close()
        finally:
            target.close()
    finally:
        source.close()
    result.update(parts)
    result["to"] = redact_url(to)
    if as_json:
        emit_json(result)
        return
    copied, verified = result["copied"], result["verified"]
    console.print(
        f"Copied {copied['documents']} documents, {copied['chunks']} chunks, {copied['sources']} sources, "
        f"{copied['failures']} failures, {copied['answers']} logged answers and {copied['conversations']} "
        f"conversations to {escape(result['to'])}.",
        highlight=False,
    )
    if result["records"] or result["reviews"] or result["tables"] or result["uploads"]:
        users = result["records"].get("users", 0)
        console.print(
            f"Copied the server's records ({users} users, {sum(result['records'].values())} rows in all), "
            f"{sum(result['reviews'].values())} review items, {result['tables']} spreadsheet tables and "
            f"{result['uploads']} uploaded files.",
            highlight=False,
        )
    console.print(
        f"Verified: counts match; {verified['matching']}/{verified['queries']} sampled searches rank the same.",
        highlight=False,
    )
    console.print(f"To use it: export DOCKET_DATABASE_URL='{escape(result['to'])}' (with the password).")
