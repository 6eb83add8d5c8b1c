"""Workflow runs on the server: over the API, by incoming webhook and on a schedule.

A run is queued in the ``workflow_runs`` table of the accounts database and done by one worker
thread (a sibling of the ingestion :class:`~docket.server.jobs.JobRunner`), so a server that stops
mid-run finds it again on start (with the accounts in PostgreSQL, runs are claimed and leased
like upload jobs, so several servers share the queue); a batch run resumes where it was (its ``results.jsonl.progress``
file remembers the finished items). Each run has a folder ``<home>/runs/<id>/`` holding its
uploaded input, ``results.jsonl`` and the files it wrote (report.html, report.pdf, charts); with
the accounts in PostgreSQL those files are kept in the database too (:func:`keep_run_files`), so
any server can do a run queued on another and serve its results (:func:`fetch_run_folder`).

A run's retrieval sees only what its caller may read: a user's run is re-checked when it starts
(a disabled user, or one no longer in the workspace, fails it), a webhook's run sees the
workspace's documents that have no access list, and a schedule's run (set up by an admin) sees the
whole workspace, or everything without one. The model is the workspace's ``model`` setting, else
the server's ``model.name``.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from docket.accounts import Accounts
from docket.accounts.principal import Principal
from docket.config import Settings
from docket.errors import DocketError, ModelNotConfiguredError, NotFoundError, UserError
from docket.server.background import QueueThread
from docket.server.permissions import DocumentGate
from docket.types import Access
from docket.work import Table

__all__ = ["RUNS", "WorkflowRunner", "check_items", "load_named", "run_folder", "workflow_catalog", "workflow_files"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
RESULTS = "results.jsonl"
INLINE_RESULTS = 100  # a run's summary carries at most this many result records
# the queue of runs (docket.work): oldest first, in the order they were created
RUNS = Table("workflow_runs", order=("created, rowid", "created, seq"))


# ---------------------------------------------------------------------- the workflows a server offers


def workflow_files(home: Path) -> dict[str, Path]:
    """Workflow name → definition: the built-in ones, then ``<home>/workflows/*.yml`` (which
    replace a built-in of the same name)."""
    from docket.workflows import BUILTIN

    files = {p.stem: p for p in sorted(BUILTIN.glob("*.yml"))}
    custom = home / "workflows"
    if custom.is_dir():
        for path in sorted([*custom.glob("*.yml"), *custom.glob("*.yaml")]):
            if _NAME.match(path.stem):
                files[path.stem] = path
    return files


def load_named(home: Path, name: str) -> Any:
    """The workflow called ``name`` (never a path: names come from the network)."""
    from docket.workflows import load_workflow

    files = workflow_files(home)
    if not _NAME.match(name) or name not in files:
        raise NotFoundError(
            f"no workflow '{name}'. Workflows: {', '.join(sorted(files))} "
            f"(add your own as {home / 'workflows' / 'NAME.yml'})"
        )
    return load_workflow(files[name])


def workflow_catalog(home: Path) -> list[dict[str, Any]]:
    """What ``GET /api/workflows`` lists: name, description, inputs schema, parameters."""
    from docket.workflows import BUILTIN

    out = []
    for name, path in sorted(workflow_files(home).items()):
        try:
            flow = load_named(home, name)
        except DocketError as exc:
            out.append({"name": name, "error": str(exc), "builtin": path.parent == BUILTIN})
            continue
        out.append(
            {
                "name": name,
                "description": " ".join(flow.description.split()),
                "builtin": path.parent == BUILTIN,
                "batch": flow.batch,
                "needs_model": flow.needs_model,
                "inputs": flow.inputs,
                "params": flow.params,
                "output": flow.output,
            }
        )
    return out


def check_items(workflow: Any, items: list[Any]) -> None:
    """Refuse (400, naming the item and field) input items that break the workflow's inputs schema."""
    from docket.workflows.schemas import schema_problem

    if not workflow.batch and "path" in (workflow.inputs.get("required") or ()):
        raise UserError(f"input: the '{workflow.name}' workflow reads a file; upload it as the multipart field 'file'")
    for n, item in enumerate(items):
        where = "input" if len(items) == 1 else f"input[{n}]"
        if not isinstance(item, dict):
            raise UserError(f"{where}: an input item is a JSON object, not {type(item).__name__}")
        if "path" in item:
            raise UserError(
                f"{where}.path: a run over the network cannot name a file on the server; "
                "upload the file as the multipart field 'file' instead"
            )
        problem = schema_problem(workflow.inputs, item)
        if problem is not None:
            field, _, why = problem.partition(": ")
            missing = re.fullmatch(r"'(.+)' is a required property", why)
            if field == "(whole object)" and missing:
                field, why = missing.group(1), "required, and missing"
            shown = where if field == "(whole object)" else f"{where}.{field}"
            raise UserError(f"{shown}: {why} (the '{workflow.name}' workflow's inputs schema)")


def network_params(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Parameters from the network are values, never server paths: a report ``spec`` (a mapping
    or YAML text) and an inline ``schema`` (a mapping) are written into the run's folder."""
    out = dict(params)
    spec = out.get("spec")
    if spec is not None:
        if isinstance(spec, dict):
            text = json.dumps(spec)
        elif isinstance(spec, str) and ("\n" in spec or ":" in spec):
            text = spec
        else:
            raise UserError("params.spec: give the report spec itself (a JSON object or YAML text), not a file name")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "spec.yml").write_text(text, encoding="utf-8")
        out["spec"] = str(folder / "spec.yml")
    schema = out.get("schema")
    if isinstance(schema, dict):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
        out["schema"] = str(folder / "schema.json")
    elif schema is not None and not (isinstance(schema, str) and re.fullmatch(r"[\w-]+", schema)):
        raise UserError("params.schema: give a built-in schema name (invoice) or the JSON schema itself")
    return out


def run_folder(settings: Settings, run_id: str) -> Path:
    return settings.home / "runs" / run_id


def fetch_run_folder(accounts: Accounts, settings: Settings, run_id: str) -> Path:
    """A run's folder on this server: with the accounts in PostgreSQL, the files another server
    kept for the run (its input, results, reports) are written into it first."""
    folder = run_folder(settings, run_id)
    if accounts.shared:
        from docket.accounts.uploads import write_file

        for name in accounts.runs.file_names(run_id):
            path = folder / name
            if not path.is_file():
                data = accounts.runs.file_data(run_id, name)
                if data is not None:
                    write_file(path, data)
    return folder


def keep_run_files(accounts: Accounts, folder: Path, run_id: str) -> None:
    """Keep the files of a run's folder in PostgreSQL for the other servers (not progress files)."""
    if not accounts.shared or not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".progress") and not path.name.startswith(".part-"):
            accounts.runs.save_file(run_id, path.relative_to(folder).as_posix(), path.read_bytes())


def _here(value: Any, run_id: str, folder: Path) -> Any:
    """A path into a run's folder as another server wrote it (its home), as the path on this server."""
    marker = f"/runs/{run_id}/"
    if isinstance(value, str) and marker in value:
        return str(folder / value.split(marker, 1)[1])
    return value


def new_run_id() -> str:
    return time.strftime("%Y%m%d-") + uuid.uuid4().hex[:12]


def access_dict(access: Access) -> dict[str, Any]:
    return {
        "workspaces": None if access.workspaces is None else list(access.workspaces),
        "principals": list(access.principals),
        "all_documents": access.all_documents,
    }


def _access(data: dict[str, Any]) -> Access:
    workspaces = data.get("workspaces")
    return Access(
        workspaces=None if workspaces is None else tuple(workspaces),
        principals=tuple(data.get("principals") or ()),
        all_documents=bool(data.get("all_documents")),
    )


# ---------------------------------------------------------------------- the worker


class WorkflowRunner(QueueThread):
    """Queues workflow runs and does them, one at a time, in a background thread."""

    thread_name = "docket-workflows"
    table = RUNS

    def load(self, key: Any) -> dict[str, Any]:
        return self.accounts.runs.get(str(key))

    def work(self, run: dict[str, Any]) -> None:
        self.execute(run)  # leases itself: execute also serves ?wait=true runs

    # ------------------------------------------------------------------ queueing
    def model_for(self, workspace: str | None) -> Any:
        """The workspace's model setting, else the server's ``model.name``; None when neither."""
        spec = None
        if workspace is not None:
            spec = self.accounts.workspaces.get(workspace)["settings"].get("model") or None
        return self.kb.answering_model(spec)

    def require_model(self, workflow: Any, workspace: str | None) -> None:
        if workflow.needs_model and self.model_for(workspace) is None:
            from docket.models.chat import NO_MODEL_MESSAGE

            where = f" or the workspace's model setting ('{workspace}')" if workspace else ""
            raise ModelNotConfiguredError(f"workflow '{workflow.name}': {NO_MODEL_MESSAGE}{where}")

    def submit(
        self,
        workflow: str,
        *,
        input: dict[str, Any],
        params: dict[str, Any] | None = None,
        workspace: str | None = None,
        access: Access,
        trigger: str,
        user_id: int | None = None,
        scope: tuple[str, ...] | None = None,
        output: str | None = None,
        run_id: str | None = None,
        wait: bool = False,
    ) -> dict[str, Any]:
        """Queue a run of ``workflow`` (or, with ``wait``, do it now) and return its record.

        ``input`` is ``{"items": [...]}``, ``{"text": "..."}`` or ``{"file": PATH}``."""
        flow = load_named(self.settings.home, workflow)
        self.require_model(flow, workspace)
        run = self.accounts.runs.create(
            run_id or new_run_id(),
            workflow,
            workspace,
            user_id,
            access_dict(access),
            trigger,
            input,
            params or {},
            scope=scope,
            output=output,
            status="running" if wait else "queued",
        )
        if wait:  # leased from the start: another server's restart leaves it alone
            self.queue.lease(run["id"])
        keep_run_files(self.accounts, run_folder(self.settings, run["id"]), run["id"])  # its uploaded input
        if wait:
            self.execute(run)
            return self.accounts.runs.get(run["id"])
        self.wake()
        return run

    def submit_schedule(self, schedule: dict[str, Any]) -> dict[str, Any]:
        """Queue the run a workflow schedule asks for (an admin set it up: its retrieval sees its
        whole workspace, or everything when it names none)."""
        workspace = schedule["workspace"]
        access = Access(workspaces=(workspace,), all_documents=True) if workspace else Access.owner()
        return self.submit(
            schedule["workflow"],
            input={"file": schedule["input"]},
            params=schedule["params"],
            workspace=workspace,
            access=access,
            trigger=f"schedule:{schedule['name']}",
            output=schedule["output"],
        )

    def submit_for(
        self,
        caller: Principal,
        workflow: str,
        *,
        input: dict[str, Any],
        params: dict[str, Any],
        workspace: str | None,
        run_id: str,
        wait: bool = False,
    ) -> dict[str, Any]:
        """Queue (or, with ``wait``, do) ``caller``'s run over the API: in a workspace they may use
        (else 404) and within its daily budget (else 402); a report needs its spec."""
        access = caller.access(workspace)
        params = network_params(params, run_folder(self.settings, run_id) / "input")
        if load_named(self.settings.home, workflow).name == "report" and not params.get("spec"):
            raise UserError("the report workflow needs a report spec: send it as params.spec (see docs/workflows.md)")
        if workspace is not None:
            self.accounts.budgets.check(workspace, self.kb.ledger)
        return self.submit(
            workflow,
            input=input,
            params=params,
            workspace=workspace,
            access=access,
            trigger="api",
            user_id=caller.user_id,
            scope=caller.workspaces if caller.via == "key" else None,
            run_id=run_id,
            wait=wait,
        )

    def submit_hook(self, hook: dict[str, Any], item: Any) -> dict[str, Any]:
        """Queue the run an incoming webhook asks for: its retrieval sees the workspace's documents
        without an access list."""
        check_items(load_named(self.settings.home, hook["workflow"]), [item])
        workspace = hook["workspace"]
        return self.submit(
            hook["workflow"],
            input={"items": [item]},
            workspace=workspace,
            access=Access(workspaces=(workspace,), principals=(), all_documents=False),
            trigger=f"hook:{hook['id']}",
        )

    # ------------------------------------------------------------------ who sees which run
    def visible(self, caller: Principal, run_id: str, *, finished: bool = False) -> dict[str, Any]:
        """A run ``caller`` may see (their own; any for admins; a workspace's for its admins; one
        that has ended only when they may read every document it read), else 404; with
        ``finished``, one still queued or running is a 400."""
        run = self.accounts.runs.get(run_id)
        if not self._may_see(caller, DocumentGate(self.kb.store, caller), run):
            raise NotFoundError(f"no workflow run '{run_id}'; GET /api/workflows/runs lists them")
        if finished and run["status"] not in ("done", "failed"):
            raise UserError(f"the run '{run_id}' is still {run['status']}; ask again when it is done")
        return run

    def visible_runs(self, caller: Principal, *, workflow: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs ``caller`` may see (of ``workflow``), at most ``limit``."""
        gate = DocumentGate(self.kb.store, caller)
        runs = self.accounts.runs.visible_to(caller, workflow=workflow, limit=2000)
        return [r for r in runs if self._may_see(caller, gate, r)][:limit]

    def _may_see(self, caller: Principal, gate: DocumentGate, run: dict[str, Any]) -> bool:
        if not self.accounts.runs.may_see(caller, run):
            return False
        if run["status"] in ("queued", "running"):
            return True  # nothing of the documents shows before it ends
        # its results, files, notes and errors hold what it read: the caller must be able to read it all
        return gate.may_read_all(run.get("documents"), run["workspace"])

    def run_file(self, caller: Principal, run_id: str, name: str) -> Path:
        """A file a finished run the caller may see wrote (not its input), else 404."""
        self.visible(caller, run_id, finished=True)  # what it read is known (and checked) once it ends
        folder = fetch_run_folder(self.accounts, self.settings, run_id).resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(folder) or path.relative_to(folder).parts[:1] == ("input",) or not path.is_file():
            raise NotFoundError(f"the run '{run_id}' wrote no file '{name}'")
        return path

    def results(self, caller: Principal, run_id: str) -> tuple[dict[str, Any], list[Any]]:
        """A finished run the caller may see, and its result records."""
        run = self.visible(caller, run_id, finished=True)
        return run, read_results(fetch_run_folder(self.accounts, self.settings, run_id))

    # ------------------------------------------------------------------ running
    def execute(self, run: dict[str, Any]) -> None:
        """Do one run (already marked running) and record how it ended; never raises. With the
        accounts in PostgreSQL the run's lease is renewed meanwhile, so no other server takes it."""
        try:
            with self.queue.renewing(run["id"]):
                summary = self._execute(run)
        except DocketError as exc:
            self._finish(run["id"], None, str(exc))
        except Exception as exc:  # a worker must survive any one run
            self._finish(run["id"], None, f"{type(exc).__name__}: {exc}")
        else:
            documents = summary.pop("documents", [])
            self._finish(run["id"], summary, documents=documents)

    def _finish(
        self, run_id: str, summary: dict[str, Any] | None, error: str | None = None, documents: Any = ()
    ) -> None:
        """Record how a run ended, with the ids of the documents it read (who may see it depends on them)."""
        self.queue.finish(
            run_id,
            error,
            summary=None if summary is None else json.dumps(summary, default=str),
            documents=json.dumps(sorted(set(documents))),
        )

    def _run_access(self, run: dict[str, Any]) -> Access:
        if run["user_id"] is None:
            return _access(run["access"])
        user = self.accounts.users.get(int(run["user_id"]))
        if user.disabled:
            raise UserError(f"the account {user.email} that started this run is disabled")
        scope = None if run["scope"] is None else tuple(run["scope"])
        return self.accounts.principal(user, scope).access(run["workspace"])

    def _execute(self, run: dict[str, Any]) -> dict[str, Any]:
        from docket.workflows import run_workflow

        flow = load_named(self.settings.home, run["workflow"])
        access = self._run_access(run)
        chat = self.model_for(run["workspace"])
        if chat is None and flow.needs_model:
            self.require_model(flow, run["workspace"])
        folder = fetch_run_folder(self.accounts, self.settings, run["id"])
        folder.mkdir(parents=True, exist_ok=True)
        given = {key: _here(value, run["id"], folder) for key, value in run["input"].items()}
        params = {key: _here(value, run["id"], folder) for key, value in run["params"].items()}
        stdin = None
        if "file" in given:
            source = str(given["file"])
        elif "items" in given:
            source, stdin = "-", io.StringIO("\n".join(json.dumps(item) for item in given["items"]))
        else:
            source, stdin = "-", io.StringIO(str(given.get("text", "")))
        results_file = folder / RESULTS
        reviews = None  # one server: the review steps open HOME/reviews.db
        if self.accounts.shared:  # several: the review queue shares the accounts' PostgreSQL pool
            from docket.workflows.review import ReviewQueue

            reviews = ReviewQueue(self.accounts.db, owned=False)
        summary = run_workflow(
            flow,
            source,
            model=chat,
            params=params,
            output=results_file if flow.batch else folder,
            kb=lambda: self.kb,
            runs_dir=self.settings.home / "runs",
            price=self.settings.model.prices.get(chat.name) if chat is not None else None,
            stdin=stdin,
            access=access,
            workspace=run["workspace"],
            reviews=reviews,
        )
        if not flow.batch:
            with results_file.open("w", encoding="utf-8") as f:
                for record in summary.results if isinstance(summary.results, list) else []:
                    f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        keep_run_files(self.accounts, folder, run["id"])  # its results and reports, for every server
        records = read_results(folder)
        out = {
            "ok": summary.ok,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "notes": summary.notes,
            "results": records[:INLINE_RESULTS],
            "result_count": len(records),
            "files": run_files(folder),
            "log": Path(summary.log).name if summary.log else None,
            "documents": summary.documents,  # kept beside the summary (finish_run), not in it
        }
        if run["output"]:
            dest = Path(run["output"]) / f"{run['workflow']}-{time.strftime('%Y%m%d-%H%M%S')}"
            shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("input", "*.progress"), dirs_exist_ok=True)
            out["output"] = str(dest)
        return out


def read_results(folder: Path) -> list[Any]:
    path = folder / RESULTS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_files(folder: Path) -> list[str]:
    """The files a run wrote (not its input, results or progress), as names inside its folder."""
    if not folder.is_dir():
        return []
    names = (p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    return sorted(
        n.as_posix() for n in names if n.parts[0] != "input" and n.name != RESULTS and not n.name.endswith(".progress")
    )


# ---------------------------------------------------------------------- schedules


def new_schedule(
    scheduler: Any,
    home: Path,
    name: str,
    *,
    workflow: str,
    cron: str,
    input: str,
    params: dict[str, Any] | None = None,
    output: str | None = None,
    workspace: str | None = None,
) -> dict[str, Any]:
    """Check and store a workflow schedule (its input, spec and output are paths on the server)."""
    flow = load_named(home, workflow)
    source = Path(input).expanduser()
    if not source.exists():
        raise UserError(f"no input '{input}': give a file or folder on the server")
    params = dict(params or {})
    if flow.name == "report" and not params.get("spec"):
        raise UserError("the report workflow needs a report spec: pass --spec SPEC.yml (see docs/workflows.md)")
    if params.get("spec"):
        spec = Path(str(params["spec"])).expanduser()
        if not spec.is_file():
            raise UserError(f"no report spec '{params['spec']}': give a YAML file on the server")
        params["spec"] = str(spec.resolve())
    return dict(
        scheduler.add_schedule(
            name,
            cron,
            workflow=workflow,
            input=str(source.resolve()),
            params=params,
            output=str(Path(output).expanduser().resolve()) if output else None,
            workspace=workspace,
        )
    )


def remove_schedule(accounts: Accounts, name: str) -> None:
    if accounts.schedules.get(name)["kind"] == "periodic":
        raise UserError(f"'{name}' is a periodic job the server registers itself; it cannot be removed")
    accounts.schedules.remove(name)
