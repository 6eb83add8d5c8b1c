"""Workflows over the API and by incoming webhook, against a real app with a loopback model.

Each persona runs a retrieval-only workflow (``lookup``, a definition in ``<home>/workflows``) and
the built-in ``support-reply`` (answered by a scripted OpenAI-compatible server on 127.0.0.1): what
comes back, and every prompt sent to the model, holds only text the persona may read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app
from tests.scripted_model import ScriptedModel, scripted_model_server
from tests.server.conftest import DOCS, SECRETS, Server

LOOKUP = """\
version: 1
name: lookup
description: The passages about a question (no model needed).
inputs:
  type: object
  required: [text]
  properties:
    text: {type: string, minLength: 1}
steps:
  - id: passages
    kind: retrieve
    query: "{{ inputs.text }}"
    k: 10
  - id: found
    kind: compose
    fields:
      texts: passages | map(attribute='text') | list
"""

SALES = "ORDERDATE,PRODUCTLINE,SALES\n2024-01-05,Bikes,100\n2024-02-07,Cars,250\n2025-03-01,Bikes,50\n"
SPEC = "title: Sales\ndate_column: ORDERDATE\nperiod: year\nmetrics:\n  - {name: revenue, column: SALES, agg: sum}\n"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with scripted_model_server(default="neutral") as script:
        yield script


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, model: ScriptedModel) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("workflows-api")
    home = root / "kb"
    (home / "workflows").mkdir(parents=True)
    (home / "workflows" / "lookup.yml").write_text(LOOKUP)
    settings = load_settings(
        home=home,
        overrides={
            "embedder": {"name": "fake"},
            "answer": {"min_relevance": 0.0},  # the fake embedder's scores are low: always ask the model
            "model": {"name": "openai:scripted", "base_url": model.url, "api_key": "test", "max_retries": 0},
            "server": {"hook_requests_per_minute": 1000},
        },
    )
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        st = app.state.docket
        accounts = st.accounts
        users = {
            name: accounts.users.create(f"{name}@example.com", f"{name}-password", role)
            for name, role in (("owner", "owner"), ("ann", "member"), ("bob", "member"))
        }
        users["carol"] = accounts.users.create("carol@example.com", "carol-password", "member")
        users["dave"] = accounts.users.create("dave@example.com", "dave-password", "member")
        accounts.workspaces.create("support")
        accounts.workspaces.create("hr")
        for name in ("ann", "carol", "dave"):
            accounts.workspaces.add_member("support", users[name].id, "member")
        accounts.workspaces.add_member("hr", users["bob"].id, "member")
        accounts.groups.create("leads")
        accounts.groups.add("leads", users["carol"].id)
        for name, (workspace, access, filename, text) in DOCS.items():
            folder = root / "docs" / name
            folder.mkdir(parents=True)
            (folder / filename).write_text(text)
            st.kb.ingest([str(folder)], workspace=workspace, access=access)
        server = Server(client, st, home)
        for persona, user in users.items():
            server.keys[persona] = accounts.keys.create(user.id)[1]
        server.keys["owner-hr-only"] = accounts.keys.create(users["owner"].id, ["hr"])[1]
        yield server


def _run(srv: Server, persona: str, workflow: str, body: dict[str, Any], wait: bool = True) -> Any:
    return srv.client.post(
        f"/api/workflows/{workflow}/runs" + ("?wait=true" if wait else ""), json=body, headers=srv.as_(persona)
    )


def _secrets_in(text: str) -> set[str]:
    return {name for name, secret in SECRETS.items() if secret in text}


def _wait_done(srv: Server, persona: str, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        run = srv.client.get(f"/api/workflows/runs/{run_id}", headers=srv.as_(persona)).json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run}")


# ---------------------------------------------------------------------- listing and running


def test_list_shows_builtins_and_home_definitions_with_their_inputs_schema(srv: Server) -> None:
    listed = {w["name"]: w for w in srv.client.get("/api/workflows", headers=srv.as_("ann")).json()["workflows"]}
    assert {"report", "support-reply", "ticket-triage", "lookup"} <= set(listed)
    assert listed["lookup"]["builtin"] is False and listed["lookup"]["needs_model"] is False
    assert listed["support-reply"]["inputs"]["required"] == ["text"]
    assert "draft reply" in listed["support-reply"]["description"]


@pytest.mark.parametrize(
    ("persona", "workspace", "allowed"),
    [
        ("ann", "support", {"faq"}),
        ("carol", "support", {"faq", "leads"}),
        ("dave", "support", {"faq", "dave"}),
        ("bob", "hr", {"hr"}),
        ("ann", None, {"faq"}),
        ("owner", None, {"faq", "leads", "dave", "hr"}),
        ("owner-hr-only", None, {"hr"}),
    ],
)
def test_a_runs_retrieval_sees_only_what_its_caller_may_read(
    srv: Server, persona: str, workspace: str | None, allowed: set[str]
) -> None:
    response = _run(srv, persona, "lookup", {"input": {"text": "refund code"}, "workspace": workspace})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "done" and run["summary"]["ok"] == 1
    assert _secrets_in(json.dumps(run)) == allowed


def test_a_workspace_the_caller_is_not_in_is_404(srv: Server) -> None:
    assert _run(srv, "ann", "lookup", {"input": {"text": "refund"}, "workspace": "hr"}).status_code == 404
    response = _run(srv, "owner-hr-only", "lookup", {"input": {"text": "refund"}, "workspace": "support"})
    assert response.status_code == 404


def test_support_reply_of_a_member_never_sends_another_workspaces_text_to_the_model(
    srv: Server, model: ScriptedModel
) -> None:
    model.prompts.clear()
    model.replies[:] = ["neutral", "Refunds are issued within 14 days of the return [1]."]
    ticket = {"subject": "Refund", "text": "What is the refund code and how long do refunds take?"}
    response = _run(srv, "ann", "support-reply", {"input": ticket, "workspace": "support"})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "done", run
    result = run["summary"]["results"][0]
    assert result["sentiment"] == "neutral" and "14 days" in result["draft"]
    sent = "\n".join(model.prompts)
    assert "PUBLIC-1001" in sent  # the workspace's own document reached the model
    assert _secrets_in(sent) <= {"faq"} and _secrets_in(json.dumps(run)) <= {"faq"}


def test_a_queued_run_is_done_by_the_worker_and_its_results_come_as_json_or_csv(srv: Server) -> None:
    body = {"input": [{"text": "refund"}, {"text": "salary advances"}], "workspace": "hr"}
    response = _run(srv, "bob", "lookup", body, wait=False)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] in ("queued", "running") and queued["links"]["results"].endswith("/results")
    run = _wait_done(srv, "bob", queued["id"])
    assert run["status"] == "done" and run["summary"]["ok"] == 2 and run["summary"]["result_count"] == 2
    results = srv.client.get(f"/api/workflows/runs/{queued['id']}/results", headers=srv.as_("bob")).json()
    assert [r["line"] for r in results] == [1, 2] and "HR-5512" in results[0]["texts"][0]
    csv_text = srv.client.get(f"/api/workflows/runs/{queued['id']}/results?format=csv", headers=srv.as_("bob")).text
    assert csv_text.splitlines()[0] == "line,texts" and len(csv_text.splitlines()) == 3


def test_runs_are_listed_for_their_caller_and_all_for_admins(srv: Server) -> None:
    mine = _run(srv, "dave", "lookup", {"input": {"text": "exception"}, "workspace": "support"}).json()
    daves = srv.client.get("/api/workflows/runs", headers=srv.as_("dave")).json()["runs"]
    assert mine["id"] in {r["id"] for r in daves}
    assert all(
        r["id"] != mine["id"] for r in srv.client.get("/api/workflows/runs", headers=srv.as_("ann")).json()["runs"]
    )
    assert srv.client.get(f"/api/workflows/runs/{mine['id']}", headers=srv.as_("ann")).status_code == 404
    everyone = srv.client.get("/api/workflows/runs", headers=srv.as_("owner")).json()["runs"]
    assert mine["id"] in {r["id"] for r in everyone}


def test_input_that_breaks_the_inputs_schema_is_400_naming_the_field(srv: Server) -> None:
    response = _run(srv, "ann", "support-reply", {"input": {"text": 42}, "workspace": "support"})
    assert response.status_code == 400
    assert "input.text" in response.json()["error"]["message"]
    response = _run(srv, "ann", "support-reply", {"input": [{"text": "ok"}, {"subject": "no text"}]})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("input[1].text: required, and missing")


def test_network_input_cannot_name_files_on_the_server(srv: Server) -> None:
    response = _run(srv, "owner", "report", {"input": {"path": str(srv.home / "accounts.db")}})
    assert response.status_code == 400 and "multipart" in response.json()["error"]["message"]
    response = _run(srv, "owner", "lookup", {"input": {"text": "x", "path": "/etc/passwd"}})
    assert response.status_code == 400 and "input.path" in response.json()["error"]["message"]
    files = {"file": ("sales.csv", SALES.encode(), "text/csv")}
    data = {"params": json.dumps({"spec": "/etc/passwd"})}
    response = srv.client.post("/api/workflows/report/runs", files=files, data=data, headers=srv.as_("owner"))
    assert response.status_code == 400 and "params.spec" in response.json()["error"]["message"]


def test_unknown_workflow_is_404_listing_the_names(srv: Server) -> None:
    response = _run(srv, "ann", "../../etc/passwd", {"input": {"text": "x"}})
    assert response.status_code == 404
    response = _run(srv, "ann", "nope", {"input": {"text": "x"}})
    assert response.status_code == 404 and "support-reply" in response.json()["error"]["message"]


def test_report_from_an_upload_serves_its_files_and_refuses_path_traversal(srv: Server, model: ScriptedModel) -> None:
    model.replies[:] = ["Sales were strong."]
    files = {"file": ("sales.csv", SALES.encode(), "text/csv")}
    data = {"params": json.dumps({"spec": SPEC})}
    response = srv.client.post("/api/workflows/report/runs?wait=true", files=files, data=data, headers=srv.as_("owner"))
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "done", run
    assert {"report.html", "report.pdf"} <= set(run["summary"]["files"])
    base = f"/api/workflows/runs/{run['id']}/files"
    html = srv.client.get(f"{base}/report.html", headers=srv.as_("owner"))
    assert html.status_code == 200 and "<table" in html.text and "Sales" in html.text
    pdf = srv.client.get(f"{base}/report.pdf", headers=srv.as_("owner"))
    assert pdf.content.startswith(b"%PDF")
    for bad in ("..%2F..%2Faccounts.db", "../../accounts.db", "input/sales.csv", "%2Fetc%2Fpasswd", "nothing.png"):
        assert srv.client.get(f"{base}/{bad}", headers=srv.as_("owner")).status_code == 404, bad
    assert srv.client.get(f"{base}/report.html", headers=srv.as_("ann")).status_code == 404


def test_without_a_model_a_model_workflow_says_how_to_configure_one(server: Server) -> None:
    response = server.client.post(
        "/api/workflows/support-reply/runs",
        json={"input": {"text": "Where is my refund?"}, "workspace": "support"},
        headers=server.as_("ann"),
    )
    assert response.status_code == 400
    assert "model" in response.json()["error"]["message"] and response.json()["error"]["code"] == "model_not_configured"


def test_a_workspaces_model_setting_is_used(srv: Server, model: ScriptedModel) -> None:
    srv.state.accounts.workspaces.update("hr", settings={"model": "openai:hr-model"})  # type: ignore[attr-defined]
    try:
        model.replies[:] = ["positive"]
        response = _run(srv, "bob", "support-reply", {"input": {"text": "Payroll question"}, "workspace": "hr"})
        log = Path(srv.home / "runs" / response.json()["summary"]["log"]).read_text()
        assert '"model": "openai:hr-model"' in log
    finally:
        srv.state.accounts.workspaces.update("hr", settings={})  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- incoming webhooks


def test_a_hook_queues_a_run_with_the_body_as_its_item(srv: Server) -> None:
    created = srv.client.post(
        "/api/admin/hooks",
        json={"workflow": "lookup", "workspace": "support", "name": "helpdesk"},
        headers=srv.as_("owner"),
    ).json()
    token = created["url"].rsplit("/", 1)[1]
    response = srv.client.post(f"/hooks/{token}", json={"text": "refund exception code"})
    assert response.status_code == 202, response.text
    run = _wait_done(srv, "owner", response.json()["id"])
    assert run["trigger"] == f"hook:{created['id']}" and run["status"] == "done"
    assert _secrets_in(json.dumps(run)) == {"faq"}  # not the restricted support documents, nor hr's
    accounts_db = (srv.home / "accounts.db").read_bytes()
    assert token.encode() not in accounts_db
    listed = srv.client.get("/api/admin/hooks", headers=srv.as_("owner")).json()["hooks"]
    assert any(h["id"] == created["id"] and h["last_used"] for h in listed)
    assert "url" not in json.dumps(listed)


def test_a_hook_refuses_an_unknown_token_and_a_body_outside_the_schema(srv: Server) -> None:
    assert srv.client.post("/hooks/wh_not-a-token", json={"text": "x"}).status_code == 404
    created = srv.client.post(
        "/api/admin/hooks", json={"workflow": "support-reply", "workspace": "support"}, headers=srv.as_("owner")
    ).json()
    token = created["url"].rsplit("/", 1)[1]
    response = srv.client.post(f"/hooks/{token}", json={"subject": "Help", "text": ""})
    assert response.status_code == 400 and "input.text" in response.json()["error"]["message"]
    response = srv.client.post(f"/hooks/{token}", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert srv.client.delete(f"/api/admin/hooks/{created['id']}", headers=srv.as_("owner")).status_code == 200
    assert srv.client.post(f"/hooks/{token}", json={"text": "hello"}).status_code == 404


def test_hooks_and_schedules_are_for_admins(srv: Server) -> None:
    body = {"workflow": "lookup", "workspace": "support"}
    assert srv.client.post("/api/admin/hooks", json=body, headers=srv.as_("ann")).status_code == 403
    assert srv.client.get("/api/admin/hooks", headers=srv.as_("ann")).status_code == 403
    assert srv.client.get("/api/admin/schedules", headers=srv.as_("ann")).status_code == 403
    assert srv.client.post("/api/admin/hooks", json=body).status_code == 401


def test_hooks_are_rate_limited(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "kb", overrides={"server": {"hook_requests_per_minute": 2}})
    with TestClient(create_app(settings, start_jobs=False)) as client:
        codes = [client.post("/hooks/wh_guess", json={}).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


# ---------------------------------------------------------------------- schedules and restarts


def test_schedules_over_the_admin_api(srv: Server, tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text(json.dumps({"text": "refund"}) + "\n")
    body = {"name": "weekly", "workflow": "lookup", "cron": "0 7 * * 1", "input": str(tickets), "workspace": "support"}
    created = srv.client.post("/api/admin/schedules", json=body, headers=srv.as_("owner"))
    assert created.status_code == 201, created.text
    assert created.json()["next_run"] > time.time()
    bad = srv.client.post(
        "/api/admin/schedules", json=body | {"name": "bad", "cron": "every monday"}, headers=srv.as_("owner")
    )
    assert bad.status_code == 400 and "cron" in bad.json()["error"]["message"]
    scoped = srv.client.post(
        "/api/admin/schedules", json=body | {"name": "all", "workspace": None}, headers=srv.as_("owner-hr-only")
    )
    assert scoped.status_code == 403  # a key limited to hr cannot schedule a run that reads everything
    listed = srv.client.get("/api/admin/schedules", headers=srv.as_("owner")).json()["schedules"]
    assert [s["name"] for s in listed if s["kind"] == "workflow"] == ["weekly"]
    ran = srv.state.scheduler.tick(created.json()["next_run"])  # type: ignore[attr-defined]
    assert "weekly" in ran  # with "sources", the periodic source-sync check every server registers
    run_id = srv.state.accounts.schedules.get("weekly")["last_result"]["run"]  # type: ignore[attr-defined]
    run = _wait_done(srv, "owner", run_id)
    assert run["trigger"] == "schedule:weekly" and _secrets_in(json.dumps(run)) == {"faq", "leads", "dave"}
    assert srv.client.delete("/api/admin/schedules/weekly", headers=srv.as_("owner")).status_code == 200


def test_a_restart_requeues_an_interrupted_run(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    (home / "workflows").mkdir(parents=True)
    (home / "workflows" / "lookup.yml").write_text(LOOKUP)
    settings = load_settings(home=home, overrides={"embedder": {"name": "fake"}})
    with TestClient(create_app(settings, start_jobs=False)) as client:
        st = client.app.state.docket  # type: ignore[attr-defined]
        owner = st.accounts.users.create("owner@example.com", "owner-password", "owner")
        key = st.accounts.keys.create(owner.id)[1]
        headers = {"Authorization": f"Bearer {key}"}
        queued = client.post("/api/workflows/lookup/runs", json={"input": {"text": "x"}}, headers=headers).json()
        assert st.runs.claim()["id"] == queued["id"]  # its worker took it ... and the server stopped
    with TestClient(create_app(settings, start_jobs=True)) as client:
        for _ in range(600):
            run = client.get(f"/api/workflows/runs/{queued['id']}", headers=headers).json()
            if run["status"] == "done":
                break
            time.sleep(0.05)
    assert run["status"] == "done" and run["summary"]["ok"] == 1


def test_a_workspace_past_its_daily_budget_is_refused_before_queueing(srv: Server) -> None:
    srv.state.accounts.workspaces.update("hr", settings={"daily_budget": 0})  # type: ignore[attr-defined]
    try:
        before = len(srv.client.get("/api/workflows/runs", headers=srv.as_("bob")).json()["runs"])
        response = _run(srv, "bob", "lookup", {"input": {"text": "refund"}, "workspace": "hr"}, wait=False)
        assert response.status_code == 402 and "daily" in response.json()["error"]["message"]
        assert len(srv.client.get("/api/workflows/runs", headers=srv.as_("bob")).json()["runs"]) == before
    finally:
        srv.state.accounts.workspaces.update("hr", settings={})  # type: ignore[attr-defined]
