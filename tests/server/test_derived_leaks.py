"""Drafts in the review queue and workflow runs carry the documents they were built from, and a
caller sees them only if they may read every one of those documents.

The leak matrix for what workflows make: a workspace admin of ``support`` who is not on the
access lists of ``leads.txt`` (group leads) and ``dave.txt`` (user dave) must not see a run or a
draft built from them — not in a list, not by id, not its results or files — while the owner, and
members whose own runs read only what they may read, keep seeing theirs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.scripted_model import ScriptedModel
from tests.server.conftest import SECRETS, Server
from tests.server.test_workflows_api import model, srv  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def personas(srv: Server) -> Iterator[Server]:  # noqa: F811 (the fixture)
    st: Any = srv.state
    boss = st.accounts.users.create("boss@example.com", "boss-password", "member")
    st.accounts.workspaces.add_member("support", boss.id, "admin")  # a workspace admin, not on the access lists
    srv.keys["boss"] = st.accounts.keys.create(boss.id)[1]
    yield srv


def _doc_ids(app: Server) -> dict[str, str]:
    docs = app.client.get("/api/documents", headers=app.as_("owner")).json()["documents"]
    return {d["path"]: d["id"] for d in docs}


def _lookup(app: Server, persona: str) -> dict[str, Any]:
    r = app.client.post(
        "/api/workflows/lookup/runs?wait=true",
        json={"input": {"text": "refund exception code"}, "workspace": "support"},
        headers=app.as_(persona),
    )
    assert r.status_code == 200, r.text
    return r.json()


def _secrets_in(payload: object) -> set[str]:
    text = json.dumps(payload)
    return {name for name, secret in SECRETS.items() if secret in text}


def test_a_workspace_admin_never_sees_a_run_built_from_documents_they_may_not_read(personas: Server) -> None:
    app = personas
    owners = _lookup(app, "owner")
    assert _secrets_in(owners) >= {"leads", "dave"}  # the owner's run read the restricted documents
    anns = _lookup(app, "ann")
    assert _secrets_in(anns) == {"faq"}
    for run, visible in ((owners, False), (anns, True)):
        base = f"/api/workflows/runs/{run['id']}"
        one = app.client.get(base, headers=app.as_("boss"))
        results = app.client.get(f"{base}/results", headers=app.as_("boss"))
        csv = app.client.get(f"{base}/results", params={"format": "csv"}, headers=app.as_("boss"))
        if visible:
            assert one.status_code == results.status_code == csv.status_code == 200
            assert _secrets_in([one.json(), results.json(), csv.text]) == {"faq"}
        else:
            assert one.status_code == results.status_code == csv.status_code == 404
            assert _secrets_in([one.json(), results.json(), csv.text]) == set()
    listed = app.client.get("/api/workflows/runs", params={"limit": 500}, headers=app.as_("boss")).json()["runs"]
    ids = {r["id"] for r in listed}
    assert anns["id"] in ids and owners["id"] not in ids
    assert _secrets_in(listed) <= {"faq"}
    # the owner sees both; ann sees her own run, never the owner's
    assert app.client.get(f"/api/workflows/runs/{owners['id']}", headers=app.as_("owner")).status_code == 200
    assert app.client.get(f"/api/workflows/runs/{owners['id']}", headers=app.as_("ann")).status_code == 404
    assert app.client.get(f"/api/workflows/runs/{anns['id']}", headers=app.as_("ann")).status_code == 200


def test_a_run_records_the_documents_it_read(personas: Server) -> None:
    app = personas
    ids = _doc_ids(app)
    run = _lookup(app, "carol")
    st: Any = app.state
    recorded = set(st.accounts.runs.get(run["id"])["documents"])
    assert ids["leads.txt"] in recorded and ids["dave.txt"] not in recorded  # carol may not read dave's


def _latest_draft(app: Server) -> dict[str, Any]:
    reviews = app.client.get("/api/reviews", headers=app.as_("owner")).json()["reviews"]
    return reviews[0]


def test_a_member_never_sees_a_draft_built_from_documents_they_may_not_read(
    personas: Server,
    model: ScriptedModel,  # noqa: F811
) -> None:
    app = personas
    ids = _doc_ids(app)
    model.replies[:] = ["neutral", "Team leads use the exception code LEADS-7731 [1]."]
    ticket = {"subject": "Refund", "text": "Which refund exception code do team leads use?"}
    r = app.client.post(
        "/api/workflows/support-reply/runs?wait=true",
        json={"input": ticket, "workspace": "support"},
        headers=app.as_("owner"),
    )
    assert r.status_code == 200, r.text
    draft = _latest_draft(app)
    assert draft["workspace"] == "support" and ids["leads.txt"] in draft["documents"]
    for persona in ("ann", "boss", "dave", "carol"):
        listed = app.client.get("/api/reviews", headers=app.as_(persona)).json()["reviews"]
        assert draft["id"] not in {d["id"] for d in listed}, persona
        assert _secrets_in(listed) <= {"faq"}
        one = app.client.get(f"/api/reviews/{draft['id']}", headers=app.as_(persona))
        assert one.status_code == 404 and _secrets_in(one.json()) == set()
        decided = app.client.post(f"/api/reviews/{draft['id']}/approve", json={}, headers=app.as_(persona))
        assert decided.status_code == 404
    assert app.client.get(f"/api/reviews/{draft['id']}", headers=app.as_("owner")).status_code == 200


def test_a_draft_from_open_documents_stays_visible_to_the_workspace(
    personas: Server,
    model: ScriptedModel,  # noqa: F811
) -> None:
    app = personas
    model.replies[:] = ["neutral", "Refunds are issued within 14 days of the return [1]."]
    ticket = {"subject": "Refund", "text": "How long do refunds take?"}
    r = app.client.post(
        "/api/workflows/support-reply/runs?wait=true",
        json={"input": ticket, "workspace": "support"},
        headers=app.as_("ann"),  # ann may read faq only: her run reads nothing else
    )
    assert r.status_code == 200, r.text
    draft = _latest_draft(app)
    for persona in ("ann", "boss", "carol", "dave"):
        one = app.client.get(f"/api/reviews/{draft['id']}", headers=app.as_(persona))
        assert one.status_code == 200, persona
    assert app.client.get(f"/api/reviews/{draft['id']}", headers=app.as_("bob")).status_code == 404
