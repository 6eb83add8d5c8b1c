"""Documents, uploads, server-side folders and ingestion jobs.

An upload is saved under ``uploads/<workspace>/`` in the knowledge base (one hidden sub-folder per
access list) and ingested by the background worker: the request returns a job at once. With the
server's records in PostgreSQL the bytes are kept in the database too, so every server can ingest,
download and delete them (:mod:`docket.accounts.uploads`). Listing,
download and export only ever see the documents the caller may read (the store applies the
caller's access inside its query); a document the caller may not read is "not found".
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from docket.errors import NotFoundError, UserError
from docket.index import document_page
from docket.ingest.quality import QUALITY_KEY, source_summaries
from docket.ledger import SourceConfig
from docket.server.auth import Caller
from docket.server.deps import CallerDep, ServerState, state
from docket.server.documents import (
    IF_EXISTS,
    check_if_exists,
    doc_dict,
    document,
    file_of,
    job_view,
    keep_uploads,
    parse_access,
    safe_name,
    upload_folder,
    uploads_root,
)
from docket.server.permissions import DocumentGate
from docket.types import DEFAULT_WORKSPACE, Document, Filters, check_workspace_name

router = APIRouter(prefix="/api", tags=["documents"])


class SourceBody(BaseModel):
    path: str


class ProfileBody(BaseModel):
    """Fields of a document's profile to set by hand; null clears a hand-set field (the rules read it again)."""

    model_config = {"extra": "forbid"}

    organizations: list[str] | None = None
    doc_type: str | None = None
    date: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None
    title: str | None = None


DOCUMENT_STATUSES = ("indexed", "failed")
MAX_PER_PAGE = 100


@router.get("/documents", summary="A page of the documents the caller may read, with the files that failed")
def list_documents(
    request: Request,
    c: CallerDep,
    workspace: str | None = None,
    q: Annotated[str, Query(max_length=200, description="Words the path or title contains (any case)")] = "",
    source: Annotated[str | None, Query(description="Only the documents of this source")] = None,
    filetype: Annotated[str | None, Query(alias="type", description="Only this file type: pdf, md, docx…")] = None,
    status: Annotated[
        str | None, Query(description="indexed: only the documents; failed: only the files that could not be read")
    ] = None,
    org: Annotated[str | None, Query(description="Only documents about this organisation (their profile)")] = None,
    doc_type: Annotated[str | None, Query(description="Only this kind of document (profile: 10-Q, policy…)")] = None,
    year: Annotated[str | None, Query(description="Only this fiscal year (its profile: 2023, FY2023)")] = None,
    page: Annotated[int, Query(ge=1, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Documents a page (100 at most)")] = 50,
) -> dict[str, Any]:
    from docket.answer.scope import resolve_where

    st = state(request)
    if status is not None and status not in DOCUMENT_STATUSES:
        raise UserError(f"status must be one of {', '.join(DOCUMENT_STATUSES)}, not '{status}'")
    access = c.access(workspace)
    text = q.strip()
    conditions = [(k, v) for k, v in (("org", org), ("type", doc_type), ("year", year)) if v and v.strip()]
    # profile conditions become the ids of matching documents among those the caller may read
    ids = resolve_where(conditions, st.kb.catalog(access)) if conditions else None
    filters = Filters(sources=(source,) if source else (), filetypes=(filetype,) if filetype else (), documents=ids)
    docs: list[Document] = []
    total = 0
    if status != "failed":
        offset = (page - 1) * per_page
        docs, total = document_page(st.kb.store, filters, access, text=text, offset=offset, limit=per_page)
    # the sources the caller may read (in the workspace asked for): what the source filter offers; a
    # failed file's name is its content too, so failures are listed only from these
    visible_sources = {
        name: cfg
        for name, cfg in st.kb.ledger.sources().items()
        if access.permits(cfg.workspace, cfg.access) and (workspace is None or cfg.workspace == workspace)
    }
    failures: list[dict[str, Any]] = []
    if status != "indexed" and not conditions and not filetype:  # a file that failed has no profile nor type
        failures = [
            {"path": f["path"], "error": f["error"]}
            for f in st.kb.ledger.failures()
            if f["source"] in visible_sources
            and (not source or f["source"] == source)
            and text.lower() in f["path"].lower()
        ]
    return {
        "documents": [doc_dict(st, d) for d in docs],
        "total": total,
        "page": page,
        "per_page": per_page,
        "failures": failures,
        # source names are server paths and URLs: for admins only, as GET /api/sources
        "sources": [_source_entry(st, n, cfg) for n, cfg in sorted(visible_sources.items())]
        if c.is_server_admin
        else [],
    }


def _source_entry(st: ServerState, name: str, cfg: SourceConfig) -> dict[str, str]:
    """A source as the documents list's filter offers it: its name and a short label."""
    uploads = str(uploads_root(st))
    where = cfg.path or cfg.display or name
    if where.startswith(uploads):
        label = "restricted uploads" if Path(where).name.startswith(".restricted-") else "uploads"
    else:
        label = Path(where.rstrip("/")).name or where if cfg.path else (cfg.display or name)
    return {"name": name, "type": cfg.type, "label": label}


UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files",
                        },
                        "access": {
                            "type": "string",
                            "description": "Only these may read them: user:EMAIL or group:NAME, comma-separated",
                        },
                        "if_exists": {
                            "type": "string",
                            "enum": list(IF_EXISTS),
                            "default": "rename",
                            "description": "A file of the same name is there already: rename (keep both, the new one "
                            "stored as 'name (2).ext') or replace it",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/workspaces/{workspace}/documents",
    status_code=202,
    summary="Upload files; ingestion runs in the background",
    openapi_extra=UPLOAD_FORM,
)
async def upload(workspace: str, request: Request, c: CallerDep) -> JSONResponse:
    # Only the form streams in on the event loop; the checks against the database, the files'
    # staging and keeping, the job and the audit record run in the server's bounded thread pool
    # (anyio's default limiter, as every sync route), so a slow disk or a locked database never
    # stalls the other requests of the process.
    from starlette.datastructures import UploadFile

    from docket.server.limits import read_upload_form

    st = state(request)
    await to_thread.run_sync(_may_upload, st, c, workspace)
    form = await read_upload_form(request, st.settings, max_files=st.settings.server.max_upload_files)
    try:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        access, if_exists = str(form.get("access") or ""), str(form.get("if_exists") or "rename")
        body = await to_thread.run_sync(_store_upload, st, c, workspace, files, access, if_exists)
    finally:
        await form.close()
    return JSONResponse(body, status_code=202)


def _may_upload(st: ServerState, c: Caller, workspace: str) -> None:
    """An editor's upload to a workspace that exists (before the body is read)."""
    c.require_role(workspace, "editor")
    check_workspace_name(workspace)
    if workspace != DEFAULT_WORKSPACE:
        st.accounts.workspaces.get(workspace)  # 404 for a workspace that does not exist (admins pass require_role)


def _store_upload(
    st: ServerState, c: Caller, workspace: str, files: list[Any], access: str, if_exists: str
) -> dict[str, Any]:
    """The upload's files kept in its folder and a job to ingest them (in a worker thread): the
    response's body. The form's files were spooled while it streamed; they are read from there."""
    from docket.ingest.parsers import parser_for

    if not files:
        raise UserError("files: send one or more files in the multipart field 'files'")
    principals = parse_access(access)
    if_exists = check_if_exists(if_exists)
    names = [safe_name(f.filename) for f in files]
    staged: list[tuple[Path, str]] = []
    try:
        for upload_file, name in zip(files, names, strict=True):
            parser_for(name)  # UnsupportedFileError (415) names the type
            tmp = Path(tempfile.mkstemp(prefix="docket-upload-")[1])
            staged.append((tmp, name))
            upload_file.file.seek(0)
            with tmp.open("wb") as out:  # sizes were checked while the form streamed in
                shutil.copyfileobj(upload_file.file, out, 1024 * 1024)
        folder = upload_folder(st, workspace, principals)
        results = keep_uploads(st, folder, staged, if_exists)
        staged = []
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    stored = [r["stored_as"] for r in results if r["stored_as"] is not None]
    warnings = [f"{r['name']}: skipped, {r['reason']}" for r in results if r["status"] == "skipped"]
    job = None
    if stored:  # only the files of this upload are read: not the whole upload folder again
        item = {"path": str(folder), "access": list(principals), "files": stored}
        job_id = st.jobs.submit(workspace, c.user.id if c.user else None, [item])
        job = st.accounts.jobs.get(job_id)
    st.accounts.audit.record(
        c.name, "uploaded", workspace, files=stored, skipped=len(results) - len(stored), job=job["id"] if job else None
    )
    return {"job": job, "files": results, "warnings": warnings}


@router.get("/documents/{doc_id}", summary="One document's details")
def get_document(doc_id: str, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    return doc_dict(st, document(st, c, doc_id))


@router.get("/documents/{doc_id}/quality", summary="How well the document's text was read, page by page")
def quality(doc_id: str, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    doc = document(st, c, doc_id)
    stored = doc.metadata.get(QUALITY_KEY)
    return {"id": doc.id, "path": doc.path, "quality": stored if isinstance(stored, dict) else None}


@router.get("/quality/sources", summary="Each source's parse-quality totals over the documents the caller may read")
def quality_sources(
    request: Request,
    c: CallerDep,
    workspace: Annotated[str | None, Query(description="Only this workspace's documents")] = None,
) -> dict[str, Any]:
    """Per source, the totals of `docket documents --quality`: files per parser, pages, pages read by
    OCR and their confidence, pages without text per reason, files with warnings. Counted from the
    quality records of only the documents the caller may read, without their text. Source names are
    server paths and URLs: admins get them; others get name null and a label (uploads, restricted
    uploads, or the source's type, numbered when several share it)."""
    st = state(request)
    totals = source_summaries(st.kb.store.documents(access=c.access(workspace)))
    configs = st.kb.ledger.sources()
    entries: list[dict[str, Any]] = []
    for name in sorted(totals):
        cfg = configs.get(name)
        where: dict[str, Any] = {**_source_entry(st, name, cfg)} if cfg else {"name": name, "type": "", "label": name}
        if not c.is_server_admin:
            label = where["label"] if where["label"] in ("uploads", "restricted uploads") else where["type"] or "source"
            where = {"name": None, "type": where["type"], "label": label}
        entries.append({**where, **totals[name]})
    if not c.is_server_admin:
        _number_shared_labels(entries)
    return {"workspace": workspace, "sources": entries}


def _number_shared_labels(entries: list[dict[str, Any]]) -> None:
    """Several sources of one label are told apart by a number: "folder 1", "folder 2"."""
    counts = Counter(e["label"] for e in entries)
    seen: Counter[str] = Counter()
    for entry in entries:
        label = entry["label"]
        if counts[label] > 1:
            seen[label] += 1
            entry["label"] = f"{label} {seen[label]}"


@router.patch("/documents/{doc_id}/profile", summary="Correct what a document is about (workspace admins)")
def set_profile(doc_id: str, body: ProfileBody, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    doc = document(st, c, doc_id)
    c.require_role(doc.workspace, "admin")
    fields = body.model_dump(exclude_unset=True)
    if not fields:
        raise UserError("give at least one profile field to set (or null to clear one)")
    profile = st.kb.set_profile(doc.id, **fields)
    st.accounts.audit.record(c.name, "set document profile", doc.workspace, path=doc.path, fields=sorted(fields))
    return {"id": doc.id, "path": doc.path, "profile": profile.to_dict()}


@router.get("/documents/{doc_id}/download", summary="The original file", response_model=None)
def download(doc_id: str, request: Request, c: CallerDep) -> FileResponse:
    st = state(request)
    doc = document(st, c, doc_id)
    return FileResponse(file_of(st, doc), filename=Path(doc.path).name)


@router.get("/documents/{doc_id}/text", summary="The document's extracted text")
def text(doc_id: str, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    doc = document(st, c, doc_id)
    return {"id": doc.id, "path": doc.path, "text": st.kb.store.document_text(doc.id)}


@router.delete("/documents/{doc_id}", summary="Delete an uploaded document and its file")
def delete_document(doc_id: str, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    doc = document(st, c, doc_id)
    c.require_role(doc.workspace, "editor")
    path = file_of(st, doc) if doc_dict(st, doc)["uploaded"] else None
    if path is None:
        raise UserError(f"{doc.path} comes from a folder on the server; remove it there, or remove the source")
    path.unlink(missing_ok=True)
    if st.accounts.shared:
        from docket.accounts import uploads

        where = uploads.place(uploads_root(st), path.parent)
        if where is not None:
            st.accounts.uploads.remove(where[0], where[1], path.name)
    st.kb.store.delete_document(doc.id)
    st.accounts.audit.record(c.name, "deleted document", doc.workspace, path=doc.path)
    return {"deleted": doc.id}


@router.post("/documents/{doc_id}/resync", status_code=202, summary="Re-read the document's source")
def resync(doc_id: str, request: Request, c: CallerDep) -> JSONResponse:
    st = state(request)
    doc = document(st, c, doc_id)
    c.require_role(doc.workspace, "editor")
    cfg = st.kb.ledger.sources()[doc.source]
    if cfg.path is None:
        raise UserError(f"{doc.path} comes from the remote source '{doc.source}': sync that source instead")
    job_id = st.jobs.submit(
        doc.workspace, c.user.id if c.user else None, [{"path": cfg.path, "access": list(cfg.access)}]
    )
    return JSONResponse({"job": st.accounts.jobs.get(job_id)}, status_code=202)


@router.get("/sources", summary="Folders and files indexed on the server (admins)")
def sources(request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    st = state(request)
    return {"sources": [{"name": n, **cfg.to_dict()} for n, cfg in st.kb.ledger.sources().items()]}


@router.post("/workspaces/{workspace}/sources", status_code=202, summary="Index a folder on the server (admins)")
def add_source(workspace: str, body: SourceBody, request: Request, c: CallerDep) -> JSONResponse:
    c.require_admin()
    st = state(request)
    st.accounts.workspaces.get(check_workspace_name(workspace))
    path = Path(body.path).expanduser()
    if not path.exists():
        raise NotFoundError(f"{body.path}: no such file or folder on the server")
    job_id = st.jobs.submit(workspace, c.user.id if c.user else None, [{"path": str(path.resolve()), "access": []}])
    st.accounts.audit.record(c.name, "added source", workspace, path=str(path))
    return JSONResponse({"job": st.accounts.jobs.get(job_id)}, status_code=202)


@router.get("/jobs", summary="Ingestion jobs in the caller's workspaces")
def jobs(
    request: Request, c: CallerDep, workspace: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    st = state(request)
    if workspace is not None:
        c.require_workspace(workspace)
    scope = [workspace] if workspace else (None if c.is_server_admin else list(c.workspaces or ()))
    gate = DocumentGate(st.kb.store, c)
    return {"jobs": [job_view(gate, j) for j in st.accounts.jobs.recent(scope, limit)]}


@router.get("/jobs/{job_id}", summary="One ingestion job: state, progress, per-file errors")
def job(job_id: int, request: Request, c: CallerDep) -> dict[str, Any]:
    st = state(request)
    found = st.accounts.jobs.get(job_id)
    c.require_workspace(found["workspace"])
    return job_view(DocumentGate(st.kb.store, c), found)


@router.post("/jobs/{job_id}/retry", status_code=202, summary="Run a job again (its failed files are retried)")
def retry(job_id: int, request: Request, c: CallerDep) -> JSONResponse:
    st = state(request)
    found = st.accounts.jobs.get(job_id)
    c.require_role(found["workspace"], "editor")
    st.accounts.jobs.retry(job_id)
    st.jobs.wake()
    return JSONResponse({"job": st.accounts.jobs.get(job_id)}, status_code=202)


@router.get("/export", summary="A workspace's documents with their text (workspace admins)")
def export(request: Request, c: CallerDep, workspace: Annotated[str, Query()]) -> dict[str, Any]:
    st = state(request)
    c.require_role(workspace, "admin")
    access = c.access(workspace)
    docs = []
    for doc in st.kb.store.documents(access=access):
        docs.append({**doc_dict(st, doc), "text": st.kb.store.document_text(doc.id)})
    return {"workspace": workspace, "documents": docs}
