"""The documents as the server shows them: looked up by id for a caller, their files (uploaded
ones kept per workspace and access list), and jobs as a caller may see them.

An upload is saved under ``uploads/<workspace>/`` in the knowledge base (one hidden sub-folder per
access list); with the server's records in PostgreSQL the bytes are kept in the database too, so
every server can ingest, download and delete them (:mod:`docket.accounts.uploads`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docket.accounts.principal import Principal, check_access_entry
from docket.errors import NotFoundError, UserError
from docket.index import document_by_id
from docket.ingest.profiles import profile_of
from docket.ingest.quality import summary_of
from docket.server.deps import ServerState
from docket.server.permissions import DocumentGate
from docket.types import Document, check_workspace_name

__all__ = [
    "IF_EXISTS",
    "check_if_exists",
    "doc_dict",
    "document",
    "file_of",
    "job_view",
    "keep_uploads",
    "parse_access",
    "safe_name",
    "upload_folder",
    "uploads_root",
]

_BAD_NAME = re.compile(r"[\x00-\x1f/\\]")
IF_EXISTS = ("rename", "replace")  # what an upload does with a file of the same name: keep both, or replace it


def uploads_root(st: ServerState) -> Path:
    from docket.accounts import uploads

    return uploads.root(st.accounts.uploads, st.settings)


def upload_folder(st: ServerState, workspace: str, access: tuple[str, ...]) -> Path:
    root = uploads_root(st)
    folder = root / check_workspace_name(workspace)
    if folder.resolve().parent != root.resolve():  # never the home or another folder of the server
        raise UserError(f"'{workspace}' is not a valid workspace name")
    if access:  # hidden: the workspace's own folder source skips it; it is a source of its own
        folder = folder / (".restricted-" + hashlib.sha256(",".join(sorted(access)).encode()).hexdigest()[:16])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(name: str | None) -> str:
    raw = (name or "").strip()
    if not raw or _BAD_NAME.search(raw) or raw in (".", "..") or raw.startswith(".") or ".." in raw:
        raise UserError(f"the file name '{raw}' is not allowed: no folders, no leading dot, no '..'")
    if len(raw) > 200:
        raise UserError(f"the file name '{raw[:40]}…' is too long (200 characters at most)")
    return raw


def check_if_exists(value: str) -> str:
    if value not in IF_EXISTS:
        raise UserError(f"if_exists must be one of {', '.join(IF_EXISTS)} (got '{value}'): rename keeps both files")
    return value


def _free_name(name: str, taken: Callable[[str], bool]) -> str:
    """``name`` if it is free, else "name (2).ext", "name (3).ext"… the first that is."""
    if not taken(name):
        return name
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    for k in itertools.count(2):
        candidate = f"{stem} ({k}){dot}{ext}"
        if not taken(candidate):
            return candidate
    raise AssertionError("unreachable")


def keep_uploads(st: ServerState, folder: Path, staged: list[tuple[Path, str]], if_exists: str) -> list[dict[str, Any]]:
    """Move the staged files (temporary path, name sent) into the upload ``folder``: an empty file
    is skipped; a name already there is kept apart ("name (2).ext") or replaced, as ``if_exists``
    says. Returns what happened to each, in order (``name``, ``stored_as``, ``status``, ``reason``)."""
    from docket.accounts import uploads

    where = uploads.place(uploads_root(st), folder) if st.accounts.shared else None
    shared = set(st.accounts.uploads.names(*where)) if where is not None else set()
    kept: set[str] = set()

    def taken(name: str) -> bool:
        return name in kept or name in shared or (folder / name).exists()

    results: list[dict[str, Any]] = []
    for tmp, name in staged:
        if tmp.stat().st_size == 0:
            tmp.unlink()
            results.append({"name": name, "stored_as": None, "status": "skipped", "reason": "the file is empty"})
            continue
        if if_exists == "replace":
            stored, status = name, ("replaced" if taken(name) else "added")
        else:
            while True:  # the name is claimed by creating the file: another server process may be choosing too
                stored = _free_name(name, taken)
                try:
                    (folder / stored).open("xb").close()
                    break
                except FileExistsError:
                    continue
            status = "added" if stored == name else "renamed"
        if where is not None:  # several servers: the bytes go into the database, for all of them
            uploads.save(st.accounts.uploads, uploads_root(st), folder, stored, tmp.read_bytes())
            tmp.unlink()
        else:
            shutil.move(str(tmp), folder / stored)
        kept.add(stored)
        results.append({"name": name, "stored_as": stored, "status": status, "reason": None})
    return results


def parse_access(value: str) -> tuple[str, ...]:
    """An upload form's ``access`` field (comma-separated ``user:EMAIL`` / ``group:NAME``), sorted."""
    parts = (p.strip() for p in value.split(","))
    return tuple(sorted(check_access_entry(part, f"access '{part}'") for part in parts if part))


def document(st: ServerState, c: Principal, doc_id: str) -> Document:
    """The document ``doc_id`` if the caller may read it, else "not found" (whether it exists or not):
    one query with the caller's access filter inside it."""
    doc = document_by_id(st.kb.store, doc_id, c.access())
    if doc is None:
        raise NotFoundError(f"no document {doc_id}")
    return doc


def file_of(st: ServerState, doc: Document) -> Path:
    cfg = st.kb.ledger.sources().get(doc.source)
    if cfg is None or cfg.path is None:  # gone, or a remote source (no file on the server)
        raise NotFoundError(f"the source of {doc.path} is gone")
    root = Path(cfg.path)
    path = root if cfg.type == "file" else root / doc.path
    if not path.is_file() and st.accounts.shared:  # uploaded through another server: fetch it
        from docket.accounts import uploads

        uploads.materialize(st.accounts.uploads, uploads_root(st), path.parent)
    if not path.is_file():
        raise NotFoundError(f"{doc.path} is no longer on the server")
    return path


def doc_dict(st: ServerState, doc: Document) -> dict[str, Any]:
    cfg = st.kb.ledger.sources().get(doc.source)
    uploaded = bool(cfg and cfg.path and cfg.path.startswith(str(uploads_root(st))))
    return {
        "id": doc.id,
        "path": doc.path,
        "title": doc.title,
        "workspace": doc.workspace,
        "filetype": doc.filetype,
        "size": doc.size,
        "modified": doc.mtime,
        "tags": list(doc.tags),
        "access": list(doc.access),
        "uploaded": uploaded,
        "quality": summary_of(doc.metadata),  # None: indexed before parse-quality records were kept
        "profile": profile_of(doc.metadata).to_dict(),
    }


def job_view(gate: DocumentGate, job: dict[str, Any]) -> dict[str, Any]:
    """A job as the caller may see it: the names of files they may not read (an upload restricted
    to others) are left out of its paths, progress and report, keeping the counts."""
    if gate.may_read_sources(job["workspace"], [item.get("access") or () for item in job["paths"]]):
        return job
    report = job.get("report")
    if report:
        report = {k: (len(v) if isinstance(v, list) else v) for k, v in report.items()}
    progress = {k: v for k, v in (job.get("progress") or {}).items() if k not in ("file", "files")}
    return {**job, "paths": [], "progress": progress, "report": report, "restricted": True}
