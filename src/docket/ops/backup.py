"""Backups of a knowledge base: one ``.tar.gz`` with a manifest, taken while Docket runs.

A backup holds every file of the knowledge-base directory: each SQLite database (``docket.db``,
``tables.db``, ``accounts.db``, ``reviews.db``, ...) copied with SQLite's online backup API (a
consistent snapshot; a running server keeps writing meanwhile), and the other files as they are
(``docket.toml``, ``uploads/``, ``runs/``, ``workflows/``, ...). WAL and journal files are not
copied: the snapshot of each database already holds what they held.

Order matters for consistency between files: ``accounts.db`` (the server's jobs) is copied before
``docket.db``, and the databases before the plain files. So a job the backup records as done has
its documents in the index, and every document in the index has its uploaded file; a file
uploaded in the meantime is indexed by its job (requeued when the restored server starts) or by
the next ``docket sync``.

``manifest.json`` (the archive's first member) lists the files with size and SHA-256, the
Docket version, the index's schema version and its document and passage counts. A restore checks
all of it, unpacks into a temporary directory next to the target, checks each database with
``PRAGMA integrity_check`` and only then renames the directory into place.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docket.config import Settings, redact_url
from docket.errors import DocketError, UserError

__all__ = ["BackupResult", "RestoreResult", "backup", "pg_dump_command", "restore"]

FORMAT = "docket-backup"
FORMAT_VERSION = 1
PREFIX = "home"  # every file of the knowledge base lies under home/ in the archive
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal")
_FIRST = ("accounts.db",)  # before docket.db: see the module docstring


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    postgres: str | None = None  # the pg_dump command, when the index lives in PostgreSQL

    def to_dict(self) -> dict[str, Any]:
        out = {
            "path": str(self.path),
            "size": self.path.stat().st_size,
            "files": len(self.manifest["files"]),
            "created": self.manifest["created"],
            "counts": self.manifest["counts"],
        }
        if self.postgres:
            out["pg_dump"] = self.postgres
        return out


@dataclass(frozen=True)
class RestoreResult:
    home: Path
    manifest: dict[str, Any]
    replaced: bool
    postgres: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "home": str(self.home),
            "files": len(self.manifest["files"]),
            "created": self.manifest["created"],
            "counts": self.manifest["counts"],
            "replaced": self.replaced,
        }
        if self.postgres:
            out["pg_restore"] = self.postgres
        return out


def pg_dump_command(url: str, file: str = "docket.dump") -> str:
    """The command that backs up a PostgreSQL store (the password shown as ****)."""
    return f"pg_dump -Fc --dbname '{redact_url(url)}' --file {file}"


def pg_restore_command(url: str, file: str = "docket.dump") -> str:
    return f"pg_restore --clean --if-exists --no-owner --dbname '{redact_url(url)}' {file}"


# ---------------------------------------------------------------------------------------------- backup
def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _files(home: Path, exclude: set[Path]) -> list[Path]:
    """Regular files of the knowledge base (no links, no WAL/journal files), databases first."""
    found = []
    for dirpath, dirnames, filenames in os.walk(home, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".docket-restore-", ".docket-backup-")))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.endswith(_SKIP_SUFFIXES) or path.is_symlink() or not path.is_file():
                continue
            if path.resolve() in exclude or name.endswith(".docket-backup-partial"):
                continue
            found.append(path)

    def order(path: Path) -> tuple[int, int, str]:
        rel = path.relative_to(home).as_posix()
        if not _is_sqlite(path):
            return (2, 0, rel)
        return (0 if rel in _FIRST else 1, 0 if rel == "docket.db" else 1, rel)

    return sorted(found, key=order)


def _snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live database (SQLite's online backup API, in one step)."""
    src = sqlite3.connect(source, timeout=30)  # reads only; read-only mode can't always open a WAL database
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise DocketError(f"cannot back up {source}: {exc}") from exc
    finally:
        src.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _index_facts(db_file: Path) -> tuple[int, dict[str, int]]:
    """(schema version, counts) of a snapshot of docket.db."""
    db = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        docs, chunks = db.execute("SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks)").fetchone()
        return (int(row[0]) if row else 0), {"documents": int(docs), "chunks": int(chunks)}
    except sqlite3.Error:
        return 0, {}
    finally:
        db.close()


def backup(settings: Settings, target: Path) -> BackupResult:
    """Write a backup of ``settings.home`` to ``target`` (a new ``.tar.gz``); safe while Docket runs."""
    from docket.version import __version__

    home = settings.home
    if not home.is_dir():
        raise UserError(f"{home}: no knowledge base there; give the one to back up with --home")
    target = target.expanduser().resolve()
    if target.is_dir():
        raise UserError(f"{target} is a folder; give a file name, e.g. {target / 'docket-backup.tar.gz'}")
    if not target.parent.is_dir():
        raise UserError(f"{target.parent}: no such folder; create it first")
    partial = target.with_name(target.name + ".docket-backup-partial")
    entries: list[dict[str, Any]] = []
    schema_version, counts = 0, dict[str, int]()
    with tempfile.TemporaryDirectory(prefix=".docket-backup-", dir=target.parent) as tmp:  # room is there
        staged: list[tuple[Path, str]] = []
        for path in _files(home, {target}):
            rel = path.relative_to(home).as_posix()
            kind = "sqlite" if "/" not in rel and _is_sqlite(path) else "file"  # uploads stay byte for byte
            if kind == "sqlite":
                copy = Path(tmp) / f"{len(staged)}.db"
                _snapshot_sqlite(path, copy)
                if rel == "docket.db":
                    schema_version, counts = _index_facts(copy)
            else:
                copy = path  # copied and hashed by _write_archive
            staged.append((copy, rel))
            entries.append({"path": rel, "kind": kind})
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "docket_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "home": str(home.resolve()),
            "store": "postgres" if settings.store.url else "sqlite",
            "schema_version": schema_version,
            "counts": counts,
            "files": entries,
        }
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds accounts and keys
            with os.fdopen(fd, "wb") as raw:
                _write_archive(raw, manifest, staged, entries, Path(tmp))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UserError(f"cannot write the backup {target}: {exc.strerror or exc}") from exc
    return BackupResult(target, manifest, pg_dump_command(settings.store.url) if settings.store.url else None)


def _write_archive(
    raw: Any, manifest: dict[str, Any], staged: list[tuple[Path, str]], entries: list[dict[str, Any]], tmp: Path
) -> None:
    """manifest.json, then each file under home/. Each plain file is first copied to ``tmp`` and
    hashed there, so the manifest matches the bytes stored even if the file changes meanwhile."""
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        frozen: list[tuple[Path, str]] = []
        for (copy, rel), entry in zip(staged, entries, strict=True):
            if entry["kind"] == "file":
                held = tmp / f"f{len(frozen)}"
                try:
                    entry["mtime_ns"] = copy.stat().st_mtime_ns  # sync compares it: keep it
                    shutil.copyfile(copy, held)
                except FileNotFoundError:  # deleted since the walk (an upload replaced)
                    entry["missing"] = True
                    continue
                copy = held
            entry["size"] = copy.stat().st_size
            entry["sha256"] = _sha256(copy)
            frozen.append((copy, rel))
        manifest["files"] = [e for e in entries if not e.pop("missing", False)]
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
        tar.addfile(info, io.BytesIO(data))
        for copy, rel in frozen:
            info = tarfile.TarInfo(f"{PREFIX}/{rel}")
            info.size, info.mtime, info.mode = copy.stat().st_size, int(time.time()), 0o600
            with copy.open("rb") as f:
                tar.addfile(info, f)


# ---------------------------------------------------------------------------------------------- restore
def _damaged(archive: Path, why: object) -> UserError:
    return UserError(
        f"{archive} is damaged or not a Docket backup ({why}); nothing was restored. "
        "Use another copy of the backup, or make a new one with: docket backup FILE"
    )


@contextlib.contextmanager
def _open_archive(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 (closed below; its errors are translated first)
    except FileNotFoundError:
        raise UserError(f"{archive}: no such file") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _damaged(archive, exc) from exc
    try:
        yield tar
    finally:
        tar.close()


def _check_manifest(archive: Path, manifest: Any) -> dict[str, Any]:
    from docket.index.sqlite import SCHEMA_VERSION
    from docket.version import __version__

    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("files"), list)
    ):
        raise _damaged(archive, "its manifest.json is not a Docket manifest")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION or int(manifest.get("schema_version", 0)) > (
        SCHEMA_VERSION
    ):
        raise UserError(
            f"{archive} was made by a newer Docket ({manifest.get('docket_version')}, index schema "
            f"{manifest.get('schema_version')}; this one is {__version__}, schema {SCHEMA_VERSION}); "
            "upgrade Docket (pip install -U docket) to restore it"
        )
    for entry in manifest["files"]:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
        ):
            raise _damaged(archive, "its manifest.json lists a file without path, size and SHA-256")
        rel = PurePosixPath(entry["path"])
        if rel.is_absolute() or not rel.parts or ".." in rel.parts:
            raise _damaged(archive, f"the manifest lists a bad path '{rel}'")
    return manifest


def _extract(archive: Path, into: Path) -> dict[str, Any]:
    """Unpack ``archive`` into the (empty) folder ``into``, checking every file against the manifest."""
    with _open_archive(archive) as tar:
        try:
            first = tar.next()
            if first is None or first.name != "manifest.json" or not first.isfile():
                raise _damaged(archive, "it does not start with manifest.json")
            reader = tar.extractfile(first)
            assert reader is not None
            try:
                manifest = _check_manifest(archive, json.loads(reader.read()))
            except ValueError as exc:
                raise _damaged(archive, "its manifest.json is not JSON") from exc
            expected = {f"{PREFIX}/{e['path']}": e for e in manifest["files"]}
            seen: set[str] = set()
            while (member := tar.next()) is not None:
                entry = expected.get(member.name)
                if entry is None or not member.isfile() or member.name in seen:
                    raise _damaged(archive, f"unexpected member '{member.name}'")
                seen.add(member.name)
                target = into / PurePosixPath(entry["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
                if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
                    raise _damaged(archive, f"{entry['path']} does not match its SHA-256 in the manifest")
                if isinstance(entry.get("mtime_ns"), int):
                    os.utime(target, ns=(entry["mtime_ns"], entry["mtime_ns"]))
        except (tarfile.TarError, OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _damaged(archive, exc) from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise _damaged(archive, f"{len(missing)} file(s) of the manifest are missing, e.g. {missing[0]}")
    return manifest


def _check_databases(archive: Path, folder: Path, manifest: dict[str, Any]) -> None:
    for entry in manifest["files"]:
        if entry.get("kind") != "sqlite":
            continue
        path = folder / entry["path"]
        db = sqlite3.connect(path)
        try:
            result = db.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.Error as exc:
            raise _damaged(archive, f"{entry['path']}: {exc}") from exc
        finally:
            db.close()
        if result != [("ok",)]:
            raise _damaged(archive, f"{entry['path']} fails its integrity check: {result[0][0]}")


def _repoint_uploads(folder: Path, old_home: str, new_home: Path) -> None:
    """Sources and queued jobs that name files inside the old home now name the restored copies."""
    new = str(new_home.resolve())
    if not old_home or old_home == new:
        return

    def moved(path: str) -> str:
        return new + path[len(old_home) :] if path == old_home or path.startswith(old_home + os.sep) else path

    if (folder / "docket.db").is_file():
        db = sqlite3.connect(folder / "docket.db")
        try:
            with db:
                for name, config in db.execute("SELECT name, config FROM sources").fetchall():
                    cfg = json.loads(config)
                    if isinstance(cfg.get("path"), str) and moved(cfg["path"]) != cfg["path"]:
                        cfg["path"] = moved(cfg["path"])
                        db.execute("UPDATE sources SET config = ? WHERE name = ?", (json.dumps(cfg), name))
                    if moved(name) != name:  # an upload folder's source is named by its path
                        for table, column in (("sources", "name"), ("documents", "source"), ("failures", "source")):
                            db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (moved(name), name))
        finally:
            db.close()
    if (folder / "accounts.db").is_file():
        db = sqlite3.connect(folder / "accounts.db")
        try:
            with db:
                for job_id, paths in db.execute("SELECT id, paths FROM jobs WHERE state != 'done'").fetchall():
                    items = json.loads(paths)
                    for item in items:
                        if isinstance(item, dict) and isinstance(item.get("path"), str):
                            item["path"] = moved(item["path"])
                    db.execute("UPDATE jobs SET paths = ? WHERE id = ?", (json.dumps(items), job_id))
        except sqlite3.Error:
            pass  # an accounts.db without jobs
        finally:
            db.close()


def restore(settings: Settings, archive: Path, force: bool = False) -> RestoreResult:
    """Restore ``archive`` into ``settings.home``: checked first, then swapped in with a rename."""
    home = settings.home.expanduser().absolute()
    archive = archive.expanduser()
    if not archive.is_file():
        raise UserError(f"{archive}: no such file")
    occupied = home.exists() and (not home.is_dir() or any(home.iterdir()))
    if occupied and not force:
        raise UserError(
            f"{home} is not empty; restore into a new folder with --home, or stop Docket there and "
            "replace it with --force"
        )
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".docket-restore-{home.name}-", dir=home.parent))
    try:
        manifest = _extract(archive, staging)
        _check_databases(archive, staging, manifest)
        _repoint_uploads(staging, str(manifest.get("home", "")), home)
        old: Path | None = None
        if home.exists():
            if occupied:
                old = home.with_name(f".docket-restore-old-{home.name}-{os.getpid()}")
                os.replace(home, old)
            else:
                home.rmdir()
        os.replace(staging, home)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    postgres = pg_restore_command(settings.store.url) if settings.store.url else None
    return RestoreResult(home, manifest, bool(occupied), postgres)
