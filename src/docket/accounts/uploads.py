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
import time
from collections.abc import Collection
from pathlib import Path

from docket.config import Settings
from docket.errors import NotFoundError
from docket.records import Records

__all__ = ["RESTRICTED", "Uploads", "materialize", "place", "root", "save", "write_file"]

RESTRICTED = ".restricted-"  # the hidden sub-folder of the uploads readable only by an access list


class Uploads:
    """The bytes of uploaded files, kept in the database when it is PostgreSQL (table ``uploads``)."""

    def __init__(self, db: Records) -> None:
        self.db = db
        self._instance: str | None = None

    @property
    def shared(self) -> bool:
        """Whether the records live in PostgreSQL, shared by every server on the database."""
        return self.db.dialect == "postgres"

    def instance(self) -> str:
        """A random id of this PostgreSQL database's records, the same on every server using it."""
        if self._instance is None:
            row = self.db.one("SELECT value FROM meta WHERE key = 'instance'")
            if row is None:
                raise NotFoundError("the server's records have no instance id (they are not in PostgreSQL)")
            self._instance = str(row[0])
        return self._instance

    def save(self, workspace: str, folder: str, name: str, data: bytes) -> str:
        """Keep an uploaded file's bytes (a new upload of the same name replaces it); returns its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        self.db.execute(
            "INSERT INTO uploads (workspace, folder, name, sha256, data, created) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace, folder, name) DO UPDATE SET sha256 = excluded.sha256, data = excluded.data, "
            "created = excluded.created",
            (workspace, folder, name, sha, data, time.time()),
        )
        return sha

    def names(self, workspace: str, folder: str) -> dict[str, str]:
        """The uploaded files of one upload folder: name → SHA-256."""
        rows = self.db.all("SELECT name, sha256 FROM uploads WHERE workspace = ? AND folder = ?", (workspace, folder))
        return {str(name): str(sha) for name, sha in rows}

    def data(self, workspace: str, folder: str, name: str) -> bytes | None:
        row = self.db.one(
            "SELECT data FROM uploads WHERE workspace = ? AND folder = ? AND name = ?", (workspace, folder, name)
        )
        return None if row is None else bytes(row[0])

    def remove(self, workspace: str, folder: str, name: str) -> None:
        self.db.execute(
            "DELETE FROM uploads WHERE workspace = ? AND folder = ? AND name = ?", (workspace, folder, name)
        )


def root(uploads: Uploads, settings: Settings) -> Path:
    """The folder uploads are ingested from: ``<home>/uploads``, or the shared cache on PostgreSQL."""
    if not uploads.shared:
        return (settings.home / "uploads").resolve()
    return (Path(tempfile.gettempdir()) / f"docket-uploads-{uploads.instance()}").resolve()


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


def save(uploads: Uploads, base: Path, folder: Path, name: str, data: bytes) -> None:
    """Keep an upload in the database (on PostgreSQL) and in ``folder``."""
    where = place(base, folder)
    if uploads.shared and where is not None:
        uploads.save(where[0], where[1], name, data)
    write_file(folder / name, data)


def materialize(uploads: Uploads, base: Path, folder: Path, only: Collection[str] | None = None) -> None:
    """Make an upload folder on this machine hold exactly the uploads the database keeps for it
    (files uploaded through other servers appear, deleted ones go), or ``only`` those names of it
    (an upload job's own files). Nothing on one server's SQLite."""
    where = place(base, folder)
    if not uploads.shared or where is None:
        return
    workspace, sub = where
    wanted = uploads.names(workspace, sub)
    folder.mkdir(parents=True, exist_ok=True)
    if only is not None:
        wanted = {name: sha for name, sha in wanted.items() if name in set(only)}
    for path in folder.iterdir():
        if only is not None and path.name not in only:
            continue
        if path.is_file() and not path.name.startswith(".") and path.name not in wanted:
            path.unlink(missing_ok=True)
    for name, sha in sorted(wanted.items()):
        path = folder / name
        if _holds(path, sha):
            continue
        data = uploads.data(workspace, sub, name)
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
