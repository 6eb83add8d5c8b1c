"""The REST API route by route: sessions and CSRF, setup, uploads and jobs, admin, errors."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app
from tests.conftest import DEMO
from tests.server.conftest import Server


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(home=tmp_path / "kb", overrides={"server": {"max_upload_mb": 0.01, "login_attempts": 3}})
    app = create_app(settings)
    with TestClient(app) as client:
        yield client


def _setup_owner(client: TestClient) -> str:
    token = client.app.state.docket.setup_token  # type: ignore[attr-defined]
    r = client.post("/api/setup", json={"token": token, "email": "owner@example.com", "password": "owner-password"})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])


def _wait_for_job(client: TestClient, job_id: int, csrf: str | None = None) -> dict:
    for _ in range(600):
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_health_and_openapi(server: Server) -> None:
    assert server.client.get("/healthz").json()["status"] == "ok"
    assert "/api/ask" in server.client.get("/openapi.json").json()["paths"]


def test_every_error_has_one_shape(server: Server) -> None:
    owner = server.as_("owner")
    for r in (
        server.client.get("/api/nothing-here", headers=owner),
        server.client.post("/api/ask", json={}, headers=owner),
        server.client.get("/api/search", params={"q": "x"}),
        server.client.get("/api/documents/unknown", headers=owner),
        server.client.post("/api/workspaces", json={"name": "x"}, headers=server.as_("ann")),
    ):
        body = r.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}
        assert body["error"]["status"] == r.status_code
    assert server.client.post("/api/ask", json={}, headers=owner).json()["error"]["message"].startswith("question")


def test_an_unknown_workspace_looks_like_one_the_caller_cannot_see(server: Server) -> None:
    ann = server.as_("ann")
    hidden = server.client.get("/api/search", params={"q": "refund", "workspace": "hr"}, headers=ann)
    missing = server.client.get("/api/search", params={"q": "refund", "workspace": "zz"}, headers=ann)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"].replace("hr", "?") == missing.json()["error"]["message"].replace("zz", "?")


def test_setup_creates_the_owner_once_then_sessions_need_csrf(fresh: TestClient) -> None:
    assert fresh.get("/api/me").status_code == 401
    bad = fresh.post("/api/setup", json={"token": "wrong", "email": "o@example.com", "password": "owner-password"})
    assert bad.status_code == 401
    csrf = _setup_owner(fresh)
    me = fresh.get("/api/me").json()
    assert me["user"]["role"] == "owner" and me["csrf"] == csrf
    again = fresh.post("/api/setup", json={"token": "x", "email": "p@example.com", "password": "owner-password"})
    assert again.status_code == 403
    # a cookie-authenticated change without the CSRF header is refused
    assert fresh.post("/api/workspaces", json={"name": "Sales"}).status_code == 403
    created = fresh.post("/api/workspaces", json={"name": "Sales"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    assert fresh.request("DELETE", "/api/session", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert fresh.get("/api/me").status_code == 401


def test_wrong_passwords_are_generic_and_rate_limited(fresh: TestClient) -> None:
    _setup_owner(fresh)
    fresh.cookies.clear()
    unknown = fresh.post("/api/session", json={"email": "nobody@example.com", "password": "whatever1"})
    wrong = fresh.post("/api/session", json={"email": "owner@example.com", "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"] == "wrong email or password"
    for _ in range(3):
        fresh.post("/api/session", json={"email": "owner@example.com", "password": "whatever1"})
    limited = fresh.post("/api/session", json={"email": "owner@example.com", "password": "owner-password"})
    assert limited.status_code == 429
    audit = fresh.app.state.docket.accounts.audit.log()  # type: ignore[attr-defined]
    assert any(e["action"] == "sign-in failed" for e in audit)


def test_upload_runs_in_the_background_and_bad_files_are_refused(fresh: TestClient) -> None:
    csrf = _setup_owner(fresh)
    h = {"X-CSRF-Token": csrf}
    fresh.post("/api/workspaces", json={"name": "Support"}, headers=h)
    text = (DEMO / "Benefits and Perks" / "Sabbatical.md").read_bytes()
    r = fresh.post("/api/workspaces/Support/documents", files={"files": ("Sabbatical.md", text)}, headers=h)
    assert r.status_code == 202
    job = _wait_for_job(fresh, r.json()["job"]["id"])
    assert job["state"] == "done" and job["report"]["added"] == 1
    docs = fresh.get("/api/documents", params={"workspace": "Support"}).json()["documents"]
    assert [d["path"] for d in docs] == ["Sabbatical.md"] and docs[0]["uploaded"]
    download = fresh.get(f"/api/documents/{docs[0]['id']}/download")
    assert download.content == text
    answer = fresh.post(
        "/api/ask", json={"question": "When can I take a sabbatical?", "workspace": "Support"}, headers=h
    )
    assert answer.json()["citations"][0]["path"] == "Sabbatical.md"
    fb = fresh.post(
        "/api/feedback", json={"log_id": answer.json()["log_id"], "rating": 1, "comment": "good"}, headers=h
    )
    assert fb.status_code == 200
    for name, data, status in (
        ("../evil.md", b"x", 400),
        ("notes.exe", b"x", 415),
        ("big.txt", b"x" * 20_000, 413),
    ):
        refused = fresh.post("/api/workspaces/Support/documents", files={"files": (name, data)}, headers=h)
        assert refused.status_code == status, (name, refused.text)
    assert not any(p.name == "evil.md" for p in Path(fresh.app.state.docket.settings.home).rglob("*"))  # type: ignore[attr-defined]
    deleted = fresh.request("DELETE", f"/api/documents/{docs[0]['id']}", headers=h)
    assert deleted.status_code == 200
    assert fresh.get("/api/documents", params={"workspace": "Support"}).json()["documents"] == []


def test_a_failing_file_is_reported_by_its_job(fresh: TestClient) -> None:
    csrf = _setup_owner(fresh)
    h = {"X-CSRF-Token": csrf}
    fresh.post("/api/workspaces", json={"name": "Support"}, headers=h)
    r = fresh.post("/api/workspaces/Support/documents", files={"files": ("broken.pdf", b"%PDF-1.4 broken")}, headers=h)
    job = _wait_for_job(fresh, r.json()["job"]["id"])
    assert job["report"]["failed"][0]["path"] == "broken.pdf"
    listed = fresh.get("/api/documents", params={"workspace": "Support"}).json()
    assert listed["failures"][0]["path"] == "broken.pdf"
    assert fresh.post(f"/api/jobs/{job['id']}/retry", headers=h).status_code == 202


def test_a_file_that_failed_is_not_parsed_again_by_later_uploads_until_it_changes(fresh: TestClient) -> None:
    csrf = _setup_owner(fresh)
    h = {"X-CSRF-Token": csrf}
    fresh.post("/api/workspaces", json={"name": "Support"}, headers=h)
    kb = fresh.app.state.docket.kb  # type: ignore[attr-defined]

    def upload(name: str, data: bytes, if_exists: str = "rename") -> dict:
        r = fresh.post(
            "/api/workspaces/Support/documents", files={"files": (name, data)}, data={"if_exists": if_exists}, headers=h
        )
        assert r.status_code == 202, r.text
        return _wait_for_job(fresh, r.json()["job"]["id"])

    first = upload("broken.pdf", b"%PDF-1.4 broken")
    (failure,) = first["report"]["failed"]
    assert failure["path"] == "broken.pdf" and kb._sandbox.parsed == 1

    second = upload("refunds.md", b"# Refunds\n\nRefunds are paid within fourteen days.")
    assert second["report"]["added"] == 1 and second["report"]["failed"] == []
    assert second["report"]["failed_before"] == []  # a job reads its own files, not the whole folder again
    assert kb._sandbox.parsed == 2  # the new file only: the broken one was not read again
    listed = fresh.get("/api/documents", params={"workspace": "Support"}).json()
    assert [f["path"] for f in listed["failures"]] == ["broken.pdf"]

    again = upload("broken.pdf", b"%PDF-1.4 broken", "replace")  # the same bytes again: a new time, no new parse
    assert again["report"]["failed_before"] == [failure] and kb._sandbox.parsed == 2

    assert fresh.post(f"/api/jobs/{first['id']}/retry", headers=h).status_code == 202
    retried = _wait_for_job(fresh, first["id"])  # asked for: parsed again, still broken
    assert retried["report"]["failed"] == [failure] and kb._sandbox.parsed == 3

    changed = upload("broken.pdf", b"%PDF-1.7 still broken", "replace")  # new bytes: parsed again
    assert [f["path"] for f in changed["report"]["failed"]] == ["broken.pdf"] and kb._sandbox.parsed == 4


def test_roles_decide_who_changes_what(server: Server) -> None:
    ann = server.as_("ann")
    assert server.client.post("/api/workspaces", json={"name": "mine"}, headers=ann).status_code == 403
    upload = server.client.post("/api/workspaces/support/documents", files={"files": ("a.txt", b"hello")}, headers=ann)
    assert upload.status_code == 403  # members read; editors add documents
    assert server.client.get("/api/users", headers=ann).status_code == 403
    assert server.client.get("/api/audit", headers=ann).status_code == 403
    assert server.client.get("/api/workspaces/support", headers=ann).status_code == 403
    listed = server.client.get("/api/workspaces", headers=ann).json()["workspaces"]
    assert [w["name"] for w in listed] == ["support"] and "members" not in listed[0]


def test_admin_routes_manage_users_groups_members_and_keys(server: Server) -> None:
    owner = server.as_("owner")
    c = server.client
    user = c.post("/api/users", json={"email": "erin@example.com", "password": "erin-password"}, headers=owner)
    assert user.status_code == 201
    assert c.post("/api/groups", json={"name": "finance"}, headers=owner).status_code == 201
    assert (
        "erin@example.com"
        in c.post("/api/groups/finance/members", json={"email": "erin@example.com"}, headers=owner).json()["members"]
    )
    ws = c.post("/api/workspaces/hr/members", json={"email": "erin@example.com", "role": "editor"}, headers=owner)
    assert {"email": "erin@example.com", "role": "editor"} in ws.json()["members"]
    key = c.post("/api/keys", json={"user": "erin@example.com", "workspaces": ["hr"]}, headers=owner).json()
    erin = {"Authorization": f"Bearer {key['key']}"}
    assert c.get("/api/me", headers=erin).json()["workspaces"] == [{"name": "hr", "role": "editor", "public": False}]
    assert c.post("/api/keys", json={}, headers=erin).status_code == 403  # a scoped key stays in its scope
    assert c.post("/api/keys", json={"workspaces": ["hr"]}, headers=erin).status_code == 201
    assert c.request("DELETE", f"/api/keys/{key['id']}", headers=owner).status_code == 200
    assert c.get("/api/me", headers=erin).status_code == 401
    disabled = c.patch(f"/api/users/{user.json()['id']}", json={"disabled": True}, headers=owner)
    assert disabled.json()["disabled"] is True
    support = c.get("/api/workspaces/support", headers=owner).json()
    assert support["public"] and "widget.js" in support["widget_snippet"]
    events = {e["action"] for e in c.get("/api/audit", headers=owner).json()["events"]}
    assert {"created user", "added to group", "added member", "created API key", "revoked API key"} <= events
    usage = c.get("/api/usage", headers=owner).json()["workspaces"]
    assert all({"answers", "cost", "prompt_tokens"} <= set(row) for row in usage)


def test_unanswered_questions_are_listed(server: Server) -> None:
    owner = server.as_("owner")
    asked = server.client.post("/api/ask", json={"question": "What is the capital of Peru?"}, headers=owner).json()
    assert asked["abstained"]
    questions = server.client.get("/api/unanswered", headers=owner).json()["questions"]
    assert any(q["log_id"] == asked["log_id"] for q in questions)
    assert all(
        q["log_id"] != asked["log_id"]
        for q in server.client.get("/api/unanswered", headers=server.as_("ann")).json()["questions"]
    )


def test_workspace_settings_choose_the_model_add_instructions_and_cap_spending(fresh: TestClient) -> None:
    csrf = _setup_owner(fresh)
    h = {"X-CSRF-Token": csrf}
    fresh.post("/api/workspaces", json={"name": "Support"}, headers=h)
    text = (DEMO / "Benefits and Perks" / "Sabbatical.md").read_bytes()
    job = fresh.post("/api/workspaces/Support/documents", files={"files": ("Sabbatical.md", text)}, headers=h)
    _wait_for_job(fresh, job.json()["job"]["id"])
    bad = fresh.patch("/api/workspaces/Support", json={"settings": {"colour": "red"}}, headers=h)
    assert bad.status_code == 400 and "valid: allowed_origins, daily_budget, model, prompt" in bad.text
    settings = {"model": "fake", "prompt": "Always answer in one sentence."}
    assert fresh.patch("/api/workspaces/Support", json={"settings": settings}, headers=h).status_code == 200
    answer = fresh.post(
        "/api/ask", json={"question": "When can I take a sabbatical?", "workspace": "Support"}, headers=h
    )
    assert answer.json()["model"] == "fake:fake"
    prompt = fresh.get(f"/api/logs/{answer.json()['log_id']}").json()["prompt"]
    assert "Also, from the business:\nAlways answer in one sentence." in prompt
    capped = {**settings, "daily_budget": 0}
    fresh.patch("/api/workspaces/Support", json={"settings": capped}, headers=h)
    refused = fresh.post(
        "/api/ask", json={"question": "When can I take a sabbatical?", "workspace": "Support"}, headers=h
    )
    assert refused.status_code == 402 and "daily model budget" in refused.json()["error"]["message"]


def test_widget_origins_must_be_a_list_of_sites(server: Server) -> None:
    owner = server.as_("owner")
    for bad in ("https://example.com", ["example.com"], ["https://example.com/path"]):
        r = server.client.patch("/api/workspaces/support", json={"settings": {"allowed_origins": bad}}, headers=owner)
        assert r.status_code == 400, bad


def test_documents_carry_their_parse_quality_and_a_route_gives_the_pages(tmp_path: Path) -> None:
    pdfs = Path(__file__).resolve().parents[1] / "data" / "pdf"
    app = create_app(load_settings(home=tmp_path / "kb"))
    with TestClient(app) as client:
        h = {"X-CSRF-Token": _setup_owner(client)}
        client.post("/api/workspaces", json={"name": "Support"}, headers=h)
        files = [
            ("files", ("protocol.pdf", (pdfs / "clinical-protocol-NCT06149832.pdf").read_bytes())),
            ("files", ("scan.pdf", (pdfs / "scanned-NCT06155240.pdf").read_bytes())),
            ("files", ("notes.md", b"# Notes\n\nThe sabbatical policy applies after five years.")),
        ]
        job = _wait_for_job(
            client, client.post("/api/workspaces/Support/documents", files=files, headers=h).json()["job"]["id"]
        )
        assert job["state"] == "done" and job["report"]["failed"] == []
        docs = {d["path"]: d for d in client.get("/api/documents", params={"workspace": "Support"}).json()["documents"]}
        protocol = docs["protocol.pdf"]["quality"]
        assert protocol["pages"] == 6 and protocol["readers"] == {"pypdfium2": 6}
        assert "page_details" not in protocol  # the listing stays light: pages come from the route below
        ocr = shutil.which("tesseract") is not None  # the OCR engine (CI installs it)
        if ocr:
            assert docs["scan.pdf"]["quality"]["ocr_pages"] == [1] and job["report"]["pages_ocr"] == 1
        else:
            assert docs["scan.pdf"]["quality"]["pages_without_text"] == [1]
        assert docs["notes.md"]["quality"]["parser"] == "markdown"
        detail = client.get(f"/api/documents/{docs['scan.pdf']['id']}/quality").json()
        assert detail["path"] == "scan.pdf"
        page = detail["quality"]["page_details"][0]
        if ocr:
            assert page["reader"] == "tesseract" and 0 < page["ocr_confidence"] <= 1
        else:
            assert page["skipped"] == "image"
        missing = client.get("/api/documents/no-such-id/quality")
        assert missing.status_code == 404


def test_a_workspace_admin_corrects_a_profile_and_members_may_not(server: Server) -> None:
    docs = server.client.get("/api/documents", headers=server.as_("owner")).json()["documents"]
    doc = next(d for d in docs if d["workspace"] == "support" and not d["access"])
    assert "profile" in doc and "label" in doc["profile"]
    url = f"/api/documents/{doc['id']}/profile"
    refused = server.client.patch(url, json={"organizations": ["Acme Inc."]}, headers=server.as_("ann"))
    assert refused.status_code == 403  # a member may read the document, not correct it
    bad = server.client.patch(url, json={"colour": "red"}, headers=server.as_("owner"))
    assert bad.status_code == 400 and "colour" in bad.text
    set_ = server.client.patch(
        url, json={"organizations": ["Acme Inc."], "fiscal_year": 2024}, headers=server.as_("owner")
    )
    assert set_.status_code == 200, set_.text
    profile = set_.json()["profile"]
    assert profile["organizations"] == ["Acme Inc."] and profile["fiscal_year"] == 2024
    assert set(profile["edited"]) == {"organizations", "fiscal_year"}
    listed = server.client.get(f"/api/documents/{doc['id']}", headers=server.as_("ann")).json()
    assert listed["profile"]["organizations"] == ["Acme Inc."]
    cleared = server.client.patch(url, json={"organizations": None, "fiscal_year": None}, headers=server.as_("owner"))
    assert cleared.json()["profile"]["edited"] == []
