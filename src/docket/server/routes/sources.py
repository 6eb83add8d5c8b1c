"""Sources (folders, websites, mailboxes, databases) for admins: list, add, sync now, remove.

A sync started here runs in a background thread (one at a time per source) and answers 202 at
once; the list shows each source's last result, its error and its next scheduled run.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from docket.errors import NotFoundError, UserError
from docket.server.deps import CallerDep, state
from docket.types import DEFAULT_WORKSPACE, check_workspace_name

router = APIRouter(prefix="/api/admin/sources", tags=["sources"])


_LOCK = threading.Lock()  # guards each app's set of sources being synced


def _running(request: Request) -> set[str]:
    """The sources this server is syncing now (kept on the app, not in a module global)."""
    with _LOCK:
        if not hasattr(request.app.state, "syncing_sources"):
            request.app.state.syncing_sources = set()
        running: set[str] = request.app.state.syncing_sources
    return running


class NewSource(BaseModel):
    type: str = Field(description="web, imap, sql... (folders are added with `docket ingest` or an upload)")
    name: str = Field(max_length=100)
    settings: dict[str, Any] = Field(
        default_factory=dict, description="The connector's options, e.g. {url, allow_prefixes, allow_private}"
    )
    schedule: str | None = Field(None, description="A cron expression: sync on this schedule inside the server")
    workspace: str = DEFAULT_WORKSPACE
    tags: list[str] = Field(default_factory=list)
    access: list[str] = Field(default_factory=list)


def _rows(request: Request) -> list[dict[str, Any]]:
    from docket.ingest.sources.sync import describe_sources, redact_secrets

    rows = describe_sources(state(request).kb.store)
    running = _running(request)
    for row in rows:
        row["syncing"] = row["name"] in running
        row.pop("checkpoint", None)  # connector internals (crawl links, mailbox UIDs): not for the page
        settings = row.get("settings") or {}
        if row.get("last_error"):  # stored by an older version, or by a sync on the command line
            row["last_error"] = redact_secrets(str(row["last_error"]), settings)
        last = row.get("last_result") or {}
        for failure in [*(last.get("failed") or ()), *(last.get("failed_before") or ())]:
            failure["error"] = redact_secrets(str(failure.get("error", "")), settings)
    return rows


@router.get("", summary="Every source with its documents, last result, error and next run (admins)")
def list_sources(request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    return {"sources": _rows(request)}


@router.post("", status_code=201, summary="Add a remote source; nothing is fetched until it syncs (admins)")
def add_source(body: NewSource, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    from docket.ingest.sources.sync import add_remote_source, check_secret_references

    st = state(request)
    check_workspace_name(body.workspace)
    server = st.settings.server
    check_secret_references(body.settings, server.secret_env_prefix, server.secrets_dir or st.settings.home / "secrets")
    if body.workspace != DEFAULT_WORKSPACE:
        st.accounts.workspaces.get(body.workspace)  # a 404 naming it when it does not exist
    config = add_remote_source(
        st.kb.store,
        body.name,
        body.type,
        body.settings,
        schedule=body.schedule,
        workspace=body.workspace,
        tags=body.tags,
        access=body.access,
    )
    st.accounts.audit.record(c.name, "added source", body.name, type=body.type)
    return {"name": body.name, **config.to_json()}


@router.post("/{name:path}/sync", status_code=202, summary="Sync a source now, in the background (admins)")
def sync_source(name: str, request: Request, c: CallerDep, retry_failed: bool = False) -> dict[str, Any]:
    """``retry_failed``: parse again the items that failed before, even if they have not changed."""
    c.require_admin()
    st = state(request)
    if name not in st.kb.ledger.sources():
        raise NotFoundError(f"no source named '{name}'")
    running = _running(request)
    with _LOCK:
        if name in running:
            return {"name": name, "status": "already running"}
        running.add(name)

    def run() -> None:
        from docket.kb.sources import sync_one

        try:
            sync_one(st.kb, name, retry_failed=retry_failed)
        finally:
            with _LOCK:
                running.discard(name)

    threading.Thread(target=run, name=f"docket-sync-{name}", daemon=True).start()
    st.accounts.audit.record(c.name, "synced source", name)
    return {"name": name, "status": "started"}


@router.delete("/{name:path}", summary="Remove a source and everything indexed from it (admins)")
def remove_source(name: str, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    st = state(request)
    if name not in st.kb.ledger.sources():
        raise NotFoundError(f"no source named '{name}'; GET /api/admin/sources lists them")
    if name in _running(request):
        raise UserError(f"source '{name}' is syncing; wait for it to finish, then remove it")
    st.kb.remove_source(name)  # a folder's files stay on the server: only the index forgets them
    st.accounts.audit.record(c.name, "removed source", name)
    return {"removed": name}
