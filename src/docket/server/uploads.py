"""Where uploaded files live, on one server and on several.

One server (accounts in ``accounts.db``) keeps uploads in ``<home>/uploads/<workspace>/`` (one
hidden sub-folder per access list), as it always has. Servers that share a PostgreSQL database
(``store.url``) keep the uploaded bytes in the database (``docket_server.uploads``), so an upload to
one server can be ingested, downloaded or deleted by any other; each server writes them into a
local cache folder before ingesting or serving them. That folder's path is the same on every
server (``<temp dir>/docket-uploads-<database id>/``), so a document keeps one source and path
whichever server ingested it, and a re-upload of the same name replaces it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from docket.config import Settings
from docket.server.accounts import Accounts

__all__ = ["materialize", "place", "root", "save", "write_file"]

RESTRICTED = ".restricted-"  # the hidden sub-folder of the uploads readable only by an access list


def root(accounts: Accounts, settings: Settings) -> Path:
    """The folder uploads are ingested from: ``<home>/uploads``, or the shared cache on PostgreSQL."""
    if not accounts.shared:
        return (settings.home / "uploads").resolve()
    return (Path(tempfile.gettempdir()) / f"docket-uploads-{accounts.instance()}").resolve()


def place(base: Path, folder: Path) -> tuple[str, str] | None:
    """(workspace, sub-folder: '' or '.restricted-…') of an upload folder under ``base``; None for
    any other path."""
    try:
        parts = folder.resolve().relative_to(base).parts
    except ValueError:
        return None
    if len(parts) == 1:
        return parts[0], ""
    if len(parts) == 2 and parts[1].startswith(RESTRICTED):
        return parts[0], parts[1]
    return None


def save(accounts: Accounts, base: Path, folder: Path, name: str, data: bytes) -> None:
    """Keep an upload in the database (on PostgreSQL) and in ``folder``."""
    where = place(base, folder)
    if accounts.shared and where is not None:
        accounts.save_upload(where[0], where[1], name, data)
    write_file(folder / name, data)


def materialize(accounts: Accounts, base: Path, folder: Path) -> None:
    """Make an upload folder on this machine hold exactly the uploads the database keeps for it
    (files uploaded through other servers appear, deleted ones go). Nothing on one server's SQLite."""
    where = place(base, folder)
    if not accounts.shared or where is None:
        return
    workspace, sub = where
    wanted = accounts.uploads(workspace, sub)
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.name not in wanted:
            path.unlink(missing_ok=True)
    for name, sha in sorted(wanted.items()):
        path = folder / name
        if _holds(path, sha):
            continue
        data = accounts.upload_data(workspace, sub, name)
        if data is not None:  # else removed meanwhile
            write_file(path, data)
            _holds(path, sha)


# path -> (sha256, size, mtime_ns) of local copies this process has checked: a job re-reads a file
# only when it changed on disk since, not every file of the folder on every job
_checked: dict[Path, tuple[str, int, int]] = {}


def _holds(path: Path, sha: str) -> bool:
    """Whether the local copy at ``path`` has the content ``sha`` (remembered while unchanged)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    stamp = (st.st_size, st.st_mtime_ns)
    known = _checked.get(path)
    if known is not None and known[1:] == stamp:
        return known[0] == sha
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    _checked[path] = (actual, *stamp)
    return actual == sha


def write_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (another server on this machine may read it meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
