"""The documents as the server shows them: looked up by id for a caller, their files (uploaded
ones kept per workspace and access list), and jobs as a caller may see them.

An upload is saved under ``uploads/<workspace>/`` in the knowledge base (one hidden sub-folder per
access list); with the server's records in PostgreSQL the bytes are kept in the database too, so
every server can ingest, download and delete them (:mod:`docket.accounts.uploads`).
"""

from __future__ import annotations

import hashlib
import re
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
    "doc_dict",
    "document",
    "file_of",
    "job_view",
    "parse_access",
    "safe_name",
    "upload_folder",
    "uploads_root",
]

_BAD_NAME = re.compile(r"[\x00-\x1f/\\]")


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
    progress = {k: v for k, v in (job.get("progress") or {}).items() if k != "file"}
    return {**job, "paths": [], "progress": progress, "report": report, "restricted": True}
