"""Workflows over the API, by incoming webhook and on a schedule.

``POST /api/workflows/{name}/runs`` queues a run (JSON input, or a multipart upload) and answers
202 with its id; ``?wait=true`` does it at once and answers with the finished run. The caller's
runs, their results (JSON or CSV) and the files they wrote are under ``/api/workflows/runs``.
``POST /hooks/{token}`` queues a run with the posted JSON as its one input item (no sign-in: the
token is the secret). Admins manage hooks and schedules under ``/api/admin/hooks`` and
``/api/admin/schedules``. See :mod:`docket.server.runs` for what a run's retrieval may read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from docket.errors import NotFoundError, RateLimitedError, TooLargeError, UserError
from docket.server.deps import CallerDep, ServerState, state
from docket.server.runs import (
    check_items,
    load_named,
    new_run_id,
    new_schedule,
    run_folder,
    workflow_catalog,
)
from docket.server.runs import (
    remove_schedule as remove_stored_schedule,
)

router = APIRouter(tags=["workflows"])

HOOK_BODY_LIMIT = 1024 * 1024


class RunBody(BaseModel):
    input: dict[str, Any] | list[Any] | str = Field(
        description="One item (an object), a list of items, or text (one item, or JSON lines)"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    workspace: str | None = None


class NewHook(BaseModel):
    workflow: str
    workspace: str
    name: str = Field("", max_length=200)


class NewSchedule(BaseModel):
    name: str = Field(max_length=64)
    workflow: str
    cron: str = Field(description="Five fields: minute hour day month weekday, e.g. '0 7 * * 1'")
    input: str = Field(description="A file or folder on the server")
    params: dict[str, Any] = Field(default_factory=dict)
    output: str | None = Field(None, description="A folder on the server each run's results are copied into")
    workspace: str | None = None


# ---------------------------------------------------------------------- runs over the API


@router.get("/api/workflows", summary="The workflows a caller can run, with their inputs schema")
def list_workflows(request: Request, c: CallerDep) -> dict[str, Any]:
    return {"workflows": workflow_catalog(state(request).settings.home)}


@router.post(
    "/api/workflows/{name}/runs",
    status_code=202,
    summary="Run a workflow: JSON {input, params, workspace}, or multipart with a file",
    response_model=None,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": RunBody.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "params": {"type": "string", "description": "A JSON object"},
                            "workspace": {"type": "string"},
                        },
                    }
                },
            },
        }
    },
)
async def start_run(name: str, request: Request, c: CallerDep, wait: bool = False) -> JSONResponse:
    st = state(request)
    flow = await to_thread.run_sync(load_named, st.settings.home, name)  # reads and checks a file
    run_id = new_run_id()
    folder = run_folder(st.settings, run_id)
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            workspace, params, given = await _multipart(st, flow, request, folder)
        else:
            workspace, params, given = await _json_body(flow, request)

        def queue() -> dict[str, Any]:  # in a worker thread: the budget check reads the answer log
            return st.runs.submit_for(
                c, name, input=given, params=params, workspace=workspace, run_id=run_id, wait=wait
            )

        run = await to_thread.run_sync(queue)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return JSONResponse(_view(run), status_code=200 if wait else 202)


async def _json_body(flow: Any, request: Request) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    try:
        body = RunBody.model_validate(await request.json())
    except json.JSONDecodeError:
        raise UserError("the body is not JSON: send {'input': ..., 'params': {...}} or a multipart upload") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise UserError(f"{where}: {err['msg']}") from None
    if isinstance(body.input, str):
        if not body.input.strip():
            raise UserError("input: the text is empty")
        return body.workspace, body.params, {"text": body.input}
    items = [body.input] if isinstance(body.input, dict) else body.input
    if not items:
        raise UserError("input: give at least one item")
    check_items(flow, items)
    return body.workspace, body.params, {"items": items}


async def _multipart(
    st: ServerState, flow: Any, request: Request, folder: Path
) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    from starlette.datastructures import UploadFile

    from docket.server.documents import safe_name
    from docket.server.limits import read_upload_form

    form = await read_upload_form(request, st.settings, max_files=1)  # the file is size-checked as it streams
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UserError("file: send the input file as the multipart field 'file'")
        raw_params = form.get("params") or "{}"
        try:
            params = json.loads(str(raw_params))
        except json.JSONDecodeError as exc:
            raise UserError(f"params: not JSON ({exc.msg}); send a JSON object") from None
        if not isinstance(params, dict):
            raise UserError("params: send a JSON object")
        workspace = form.get("workspace")
        name = safe_name(upload.filename)
        target = folder / "input" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        limit = int(st.settings.server.max_upload_mb * 1024 * 1024)
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(
                        f"{name} is larger than the upload limit of {st.settings.server.max_upload_mb:g} MB "
                        "(server.max_upload_mb)"
                    )
                out.write(chunk)
    finally:
        await form.close()
    return (str(workspace) if workspace else None), params, {"file": str(target)}


def _view(run: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "workflow", "workspace", "trigger", "status", "created", "started", "finished", "error", "summary")
    base = f"/api/workflows/runs/{run['id']}"
    out = {k: run[k] for k in keep}
    files = (run["summary"] or {}).get("files") or []
    out["links"] = {
        "self": base,
        "results": f"{base}/results",
        "files": {name: f"{base}/files/{name}" for name in files},
    }
    return out


@router.get("/api/workflows/runs", summary="The caller's workflow runs (admins: all of them)")
def list_runs(
    request: Request, c: CallerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50, workflow: str | None = None
) -> dict[str, Any]:
    views = []
    for run in state(request).runs.visible_runs(c, workflow=workflow, limit=limit):
        view = _view(run)
        if view["summary"]:
            view["summary"] = {k: v for k, v in view["summary"].items() if k != "results"}
        views.append(view)
    return {"runs": views}


@router.get("/api/workflows/runs/{run_id}", summary="One run: its status and summary")
def get_run(run_id: str, request: Request, c: CallerDep) -> dict[str, Any]:
    return _view(state(request).runs.visible(c, run_id))


@router.get("/api/workflows/runs/{run_id}/results", summary="A run's results: JSON, or CSV with ?format=csv")
def get_results(
    run_id: str, request: Request, c: CallerDep, format: Annotated[str, Query(pattern="^(json|csv)$")] = "json"
) -> Any:
    run, records = state(request).runs.results(c, run_id)
    if format == "json":
        return records
    columns: list[str] = []
    for record in records:
        columns.extend(k for k in record if k not in columns)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for record in records:
        writer.writerow({k: json.dumps(v, default=str) if isinstance(v, dict | list) else v for k, v in record.items()})
    return Response(
        text.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{run["workflow"]}-{run_id}.csv"'},
    )


@router.get("/api/workflows/runs/{run_id}/files/{name:path}", summary="A file a run wrote (report.html, charts)")
def get_file(run_id: str, name: str, request: Request, c: CallerDep) -> FileResponse:
    path = state(request).runs.run_file(c, run_id, name)
    return FileResponse(path, filename=path.name)


# ---------------------------------------------------------------------- incoming webhooks


@router.post("/hooks/{token}", status_code=202, summary="An incoming webhook: the JSON body is one input item")
async def hook(token: str, request: Request) -> JSONResponse:
    st = state(request)
    assert st.hooks is not None
    sender = request.client.host if request.client else "unknown"
    if not st.hooks.hit(sender):
        error = RateLimitedError("too many webhook calls in a short time; wait a minute and send again")
        return JSONResponse(
            error.to_dict(), status_code=error.status, headers={"Retry-After": str(math.ceil(st.hooks.window))}
        )
    found = await to_thread.run_sync(st.accounts.hooks.by_token, token)  # a query: not on the event loop
    if found is None:
        raise NotFoundError("no such hook; an admin creates one with `docket hooks create`")
    raw = await request.body()
    if len(raw) > HOOK_BODY_LIMIT:
        raise TooLargeError("a webhook body is 1 MB at most")
    try:
        item = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError("the body is not JSON; send the item as a JSON object") from None
    run = await to_thread.run_sync(lambda: st.runs.submit_hook(found, item))
    return JSONResponse({"id": run["id"], "status": run["status"], "workflow": run["workflow"]}, status_code=202)


@router.get("/api/admin/hooks", summary="Incoming webhooks (admins)")
def list_hooks(request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    return {"hooks": state(request).accounts.hooks.all()}


@router.post("/api/admin/hooks", status_code=201, summary="Create an incoming webhook (admins); its URL is shown once")
def create_hook(body: NewHook, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    c.require_workspace(body.workspace)
    st = state(request)
    load_named(st.settings.home, body.workflow)
    hook_id, token = st.accounts.hooks.create(body.workflow, body.workspace, body.name)
    st.accounts.audit.record(c.name, "created hook", str(hook_id), workflow=body.workflow, workspace=body.workspace)
    url = str(request.base_url).rstrip("/") + f"/hooks/{token}"
    return {"id": hook_id, "workflow": body.workflow, "workspace": body.workspace, "name": body.name, "url": url}


@router.delete("/api/admin/hooks/{hook_id}", summary="Remove an incoming webhook (admins)")
def remove_hook(hook_id: int, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    st = state(request)
    st.accounts.hooks.remove(hook_id)
    st.accounts.audit.record(c.name, "removed hook", str(hook_id))
    return {"removed": hook_id}


# ---------------------------------------------------------------------- schedules


@router.get("/api/admin/schedules", summary="Schedules, with their last and next run (admins)")
def list_schedules(request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    return {"schedules": state(request).scheduler.listing()}


@router.post("/api/admin/schedules", status_code=201, summary="Schedule a workflow run (admins)")
def create_schedule(body: NewSchedule, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()  # a schedule reads files of the server: a server-wide action
    st = state(request)
    schedule = new_schedule(
        st.scheduler,
        st.settings.home,
        body.name,
        workflow=body.workflow,
        cron=body.cron,
        input=body.input,
        params=body.params,
        output=body.output,
        workspace=body.workspace,
    )
    st.accounts.audit.record(c.name, "created schedule", body.name, workflow=body.workflow, cron=schedule["cron"])
    return schedule


@router.delete("/api/admin/schedules/{name}", summary="Remove a schedule (admins)")
def remove_schedule(name: str, request: Request, c: CallerDep) -> dict[str, Any]:
    c.require_admin()
    st = state(request)
    remove_stored_schedule(st.accounts, name)
    st.accounts.audit.record(c.name, "removed schedule", name)
    return {"removed": name}
