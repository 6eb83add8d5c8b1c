"""docket backup / restore: one archive of the knowledge base, taken while Docket runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from docket.cli.common import ConfigOption, HomeOption, JsonOption, console, emit_json, handle_errors, settings_from


@handle_errors
def backup(
    file: Annotated[Path, typer.Argument(help="The archive to write, e.g. docket-2024-05-01.tar.gz.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Back up the knowledge base (databases, settings, uploads, runs) into one .tar.gz; safe while it runs."""
    from docket.ops.backup import backup as run_backup

    result = run_backup(settings_from(home, config), file)
    if as_json:
        emit_json(result.to_dict())
        return
    data = result.to_dict()
    counts = data["counts"]
    what = f"{counts['documents']} documents, {counts['chunks']} passages; " if counts else ""
    console.print(
        f"Backed up {escape(str(result.manifest['home']))} to {escape(str(result.path))} "
        f"({what}{data['files']} files, {data['size'] / 1e6:.1f} MB).",
        highlight=False,
    )
    if result.postgres:
        console.print(
            "The index is in PostgreSQL, which this archive does not hold; back it up with pg_dump "
            f"(put the password in ~/.pgpass or PGPASSWORD):\n  {escape(result.postgres)}",
            highlight=False,
        )


@handle_errors
def restore(
    file: Annotated[Path, typer.Argument(help="An archive made by docket backup.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a knowledge base that is already there (stop Docket first).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into the knowledge-base directory; every file is checked before anything is replaced."""
    from docket.ops.backup import restore as run_restore

    result = run_restore(settings_from(home, config), file, force=force)
    if as_json:
        emit_json(result.to_dict())
        return
    counts = result.manifest["counts"]
    what = f" ({counts['documents']} documents, {counts['chunks']} passages)" if counts else ""
    console.print(
        f"Restored the backup of {escape(result.manifest['created'])}{what} into {escape(str(result.home))}.",
        highlight=False,
    )
    if result.postgres:
        console.print(
            f"The index is in PostgreSQL; restore it from your pg_dump file with:\n  {escape(result.postgres)}",
            highlight=False,
        )
