"""Workflow runs (table ``workflow_runs``) and, on PostgreSQL, the files of their folders
(``run_files``): recorded here and read back for the API. Claiming, leasing and finishing them
is :mod:`docket.work`'s lease queue (``RUNS`` in :mod:`docket.server.runs`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from docket.accounts.principal import Principal
from docket.accounts.schema import is_value
from docket.errors import NotFoundError
from docket.records import Records

__all__ = ["Runs"]


class Runs:
    def __init__(self, db: Records) -> None:
        self.db = db

    _RUN_COLUMNS = (
        "id, workflow, workspace, user_id, scope, access, trigger, status, input, params, output, summary, error, "
        "created, started, finished, documents"
    )

    def create(
        self,
        run_id: str,
        workflow: str,
        workspace: str | None,
        user_id: int | None,
        access: dict[str, Any],
        trigger: str,
        input: dict[str, Any],
        params: dict[str, Any],
        *,
        scope: Sequence[str] | None = None,
        output: str | None = None,
        status: str = "queued",
    ) -> dict[str, Any]:
        """Record a workflow run (``queued``, or ``running`` for one the caller runs at once: the
        caller leases it, :meth:`docket.work.LeaseQueue.lease`, before anything else)."""
        now = time.time()
        with self.db.tx() as db:
            db.execute(
                f"INSERT INTO workflow_runs ({self._RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "
                "?, ?, NULL, NULL)",
                (
                    run_id,
                    workflow,
                    workspace,
                    user_id,
                    None if scope is None else json.dumps(list(scope)),
                    json.dumps(access),
                    trigger,
                    status,
                    json.dumps(input),
                    json.dumps(params),
                    output,
                    now,
                    now if status == "running" else None,
                ),
            )
        return self.get(run_id)

    def _run(self, row: Any) -> dict[str, Any]:
        names = [c.strip() for c in self._RUN_COLUMNS.split(",")]
        run = dict(zip(names, row, strict=True))
        for key in ("scope", "access", "input", "params", "summary", "documents"):
            run[key] = None if run[key] is None else json.loads(run[key])
        return run

    def get(self, run_id: str) -> dict[str, Any]:
        row = self.db.one(f"SELECT {self._RUN_COLUMNS} FROM workflow_runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFoundError(f"no workflow run '{run_id}'; GET /api/workflows/runs lists them")
        return self._run(row)

    def recent(self, user_id: int | None = None, *, everyone: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """The newest runs: all of them with ``everyone``, else those ``user_id`` started."""
        where, params = ("", ()) if everyone else is_value("user_id", user_id)
        where = f" WHERE {where}" if where else ""
        rows = self.db.all(
            f"SELECT {self._RUN_COLUMNS} FROM workflow_runs{where} ORDER BY created DESC LIMIT ?", (*params, limit)
        )
        return [self._run(r) for r in rows]

    def visible_to(self, caller: Principal, *, workflow: str | None = None, limit: int = 2000) -> list[dict[str, Any]]:
        """The newest runs ``caller`` may see, before their documents are checked: every run for
        server admins; otherwise their own (within the workspaces their key is limited to) and
        every run of a workspace they administer."""
        where: list[str] = []
        params: list[Any] = []
        if not caller.is_server_admin:
            mine, mine_params = ("user_id = ?", (caller.user.id,)) if caller.user is not None else ("1 = 0", ())
            workspaces = list(caller.workspaces or ())
            inside = "1 = 1" if caller.workspaces is None else "workspace IS NULL"
            if workspaces:
                inside += f" OR workspace IN ({', '.join('?' * len(workspaces))})"
            candidates = workspaces if caller.workspaces is not None else [w for w, _ in caller.roles]
            admin_of = [w for w in candidates if caller.role_in(w) == "admin"]
            either = f"({mine} AND ({inside}))"
            if admin_of:
                either += f" OR workspace IN ({', '.join('?' * len(admin_of))})"
            where.append(f"({either})")
            params += [*mine_params, *workspaces, *admin_of]
        if workflow is not None:
            where.append("workflow = ?")
            params.append(workflow)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.all(
            f"SELECT {self._RUN_COLUMNS} FROM workflow_runs{clause} ORDER BY created DESC LIMIT ?", (*params, limit)
        )
        return [self._run(r) for r in rows]

    @staticmethod
    def may_see(caller: Principal, run: dict[str, Any]) -> bool:
        """The rule :meth:`visible_to` applies in SQL, for one run."""
        if caller.is_server_admin:
            return True
        workspace = run["workspace"]
        if caller.workspaces is not None and workspace is not None and workspace not in caller.workspaces:
            return False
        mine = caller.user is not None and run["user_id"] == caller.user.id
        return mine or (workspace is not None and caller.role_in(workspace) == "admin")

    def save_file(self, run_id: str, name: str, data: bytes) -> None:
        """Keep a file of a workflow run's folder (its input, results, reports) for every server."""
        self.db.execute(
            "INSERT INTO run_files VALUES (?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET data = excluded.data",
            (run_id, name, data),
        )

    def file_names(self, run_id: str) -> list[str]:
        return [str(r[0]) for r in self.db.all("SELECT name FROM run_files WHERE run_id = ? ORDER BY name", (run_id,))]

    def file_data(self, run_id: str, name: str) -> bytes | None:
        row = self.db.one("SELECT data FROM run_files WHERE run_id = ? AND name = ?", (run_id, name))
        return None if row is None else bytes(row[0])
