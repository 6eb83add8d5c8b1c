"""The review API: who sees and decides which drafts, decisions audited, stats."""

from __future__ import annotations

import uuid
from typing import Any

from docket.workflows.review import ReviewQueue
from tests.server.conftest import Server


def _park(server: Server, workspace: str | None, draft: Any, workflow: str) -> int:
    with ReviewQueue.for_home(server.home) as queue:
        return queue.add(workflow, draft, title=f"draft in {workspace}", workspace=workspace)


def _flow() -> str:
    return f"flow-{uuid.uuid4().hex[:8]}"


def test_members_see_their_workspaces_drafts_and_admins_all(server: Server) -> None:
    flow = _flow()
    support = _park(server, "support", {"draft": "Refunds take 14 days."}, flow)
    hr = _park(server, "hr", {"draft": "Payroll runs monthly."}, flow)
    loose = _park(server, None, "no workspace", flow)

    def ids(persona: str) -> set[int]:
        response = server.client.get("/api/reviews", params={"workflow": flow}, headers=server.as_(persona))
        assert response.status_code == 200, response.text
        return {r["id"] for r in response.json()["reviews"]}

    assert ids("owner") == {support, hr, loose}
    assert ids("ann") == {support}
    assert ids("bob") == {hr}
    one = server.client.get(f"/api/reviews/{support}", headers=server.as_("ann")).json()
    assert one["draft"] == {"draft": "Refunds take 14 days."} and one["status"] == "pending"
    for persona, item in (("bob", support), ("ann", hr), ("ann", loose)):
        response = server.client.get(f"/api/reviews/{item}", headers=server.as_(persona))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert server.client.get("/api/reviews").status_code == 401


def test_a_member_approves_with_an_edit_and_the_decision_is_audited(server: Server) -> None:
    flow = _flow()
    item = _park(server, "support", {"draft": "Refunds take 14 days.", "confidence": 0.8}, flow)
    final = {"draft": "Refunds take 14 days after we receive the return.", "confidence": 0.8}
    response = server.client.post(f"/api/reviews/{item}/approve", json={"final": final}, headers=server.as_("ann"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "edited" and body["final"] == final and body["reviewer"] == "ann@example.com"
    assert 0 < body["edit_size"] < 1
    again = server.client.post(f"/api/reviews/{item}/approve", json={}, headers=server.as_("ann"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    entries = server.state.accounts.audit.log(20)  # type: ignore[attr-defined]
    assert any(
        e["action"] == "review.edited" and e["actor"] == "ann@example.com" and e["target"] == f"review:{item}"
        for e in entries
    )


def test_reject_keeps_the_reason_and_others_cannot_decide(server: Server) -> None:
    flow = _flow()
    item = _park(server, "support", {"draft": "We never refund."}, flow)
    denied = server.client.post(f"/api/reviews/{item}/reject", json={"reason": "x"}, headers=server.as_("bob"))
    assert denied.status_code == 404
    response = server.client.post(
        f"/api/reviews/{item}/reject", json={"reason": "promises too little"}, headers=server.as_("carol")
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected" and response.json()["comment"] == "promises too little"
    entries = server.state.accounts.audit.log(20)  # type: ignore[attr-defined]
    assert any(e["action"] == "review.rejected" and e["detail"]["reason"] == "promises too little" for e in entries)


def test_only_admins_decide_drafts_without_a_workspace(server: Server) -> None:
    flow = _flow()
    item = _park(server, None, "loose", flow)
    assert server.client.post(f"/api/reviews/{item}/approve", headers=server.as_("ann")).status_code == 404
    response = server.client.post(f"/api/reviews/{item}/approve", headers=server.as_("owner"))
    assert response.status_code == 200 and response.json()["status"] == "approved"


def test_stats_give_the_acceptance_rate_per_workflow(server: Server) -> None:
    flow = _flow()
    a = _park(server, "support", {"draft": "one two three four"}, flow)
    b = _park(server, "support", {"draft": "five"}, flow)
    _park(server, "hr", {"draft": "six"}, flow)
    server.client.post(
        f"/api/reviews/{a}/approve", json={"final": {"draft": "one two three FOUR"}}, headers=server.as_("ann")
    )
    server.client.post(f"/api/reviews/{b}/reject", json={"reason": "no"}, headers=server.as_("ann"))
    stats = server.client.get("/api/reviews/stats", params={"workflow": flow}, headers=server.as_("ann")).json()
    [row] = stats["workflows"]
    assert row["pending"] == 0 and row["edited"] == 1 and row["rejected"] == 1  # hr's draft is not ann's
    assert row["acceptance_rate"] == 0.5 and row["mean_edit_size"] == round(4 / 18, 4)
    everything = server.client.get("/api/reviews/stats", params={"workflow": flow}, headers=server.as_("owner"))
    assert everything.json()["workflows"][0]["pending"] == 1


def test_a_bad_status_filter_says_which_ones_exist(server: Server) -> None:
    response = server.client.get("/api/reviews", params={"status": "done"}, headers=server.as_("owner"))
    assert response.status_code == 400
    assert "pending, approved, edited, rejected" in response.json()["error"]["message"]
