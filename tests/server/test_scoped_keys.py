"""A key limited to some workspaces is limited on every route, admin routes included.

The owner's key limited to ``support`` must act as an admin of ``support`` only: every
server-wide action (users, password resets, groups, the audit log, creating or deleting
workspaces, sources, hooks, schedules, other people's keys) is refused, and every listing shows
``support`` only.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import SECRETS, Server


@pytest.fixture(scope="module")
def scoped(server: Server) -> dict[str, str]:
    st: Any = server.state
    owner = st.accounts.users.by_email("owner@example.com")
    return {"Authorization": f"Bearer {st.accounts.keys.create(owner.id, ['support'], name='support only')[1]}"}


def _ids(server: Server) -> dict[str, int]:
    st: Any = server.state
    return {
        "ann": st.accounts.users.by_email("ann@example.com").id,
        "bob_key": next(k["id"] for k in st.accounts.keys.all(None) if k["user"] == "bob@example.com"),
    }


# (method, path, JSON body): each is an admin action outside the key's workspace, or server-wide
OUTSIDE = [
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"email": "mallory@example.com", "password": "mallory-password", "role": "admin"}),
    ("PATCH", "/api/users/{ann}", {"password": "reset-by-a-scoped-key"}),
    ("PATCH", "/api/users/{ann}", {"disabled": True}),
    ("GET", "/api/groups", None),
    ("POST", "/api/groups", {"name": "intruders"}),
    ("POST", "/api/groups/leads/members", {"email": "bob@example.com"}),
    ("DELETE", "/api/groups/leads/members/carol@example.com", None),
    ("GET", "/api/audit", None),
    ("POST", "/api/workspaces", {"name": "shadow"}),
    ("GET", "/api/workspaces/hr", None),
    ("PATCH", "/api/workspaces/hr", {"public": True}),
    ("DELETE", "/api/workspaces/hr", None),
    ("POST", "/api/workspaces/hr/members", {"email": "ann@example.com", "role": "admin"}),
    ("DELETE", "/api/workspaces/hr/members/bob@example.com", None),
    ("POST", "/api/keys", {"user": "bob@example.com"}),
    ("POST", "/api/keys", {"workspaces": ["hr"]}),
    ("DELETE", "/api/keys/{bob_key}", None),
    ("GET", "/api/sources", None),
    ("POST", "/api/workspaces/hr/sources", {"path": "/"}),
    ("POST", "/api/workspaces/support/sources", {"path": "/"}),  # a folder of the server: server-wide
    ("GET", "/api/admin/sources", None),
    ("POST", "/api/admin/sources", {"type": "web", "name": "x", "settings": {"url": "https://example.com/"}}),
    ("GET", "/api/admin/hooks", None),
    ("POST", "/api/admin/hooks", {"workflow": "lookup", "workspace": "hr"}),
    ("GET", "/api/admin/schedules", None),
    ("GET", "/api/export?workspace=hr", None),
    ("GET", "/api/unanswered?workspace=hr", None),
    ("GET", "/api/jobs?workspace=hr", None),
    ("GET", "/api/documents?workspace=hr", None),
    ("GET", "/api/search?q=refund&workspace=hr", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OUTSIDE, ids=[f"{m} {p}" for m, p, _ in OUTSIDE])
def test_a_scoped_admin_key_is_refused_outside_its_workspaces(
    server: Server, scoped: dict[str, str], method: str, path: str, body: Any
) -> None:
    url = path.format(**_ids(server))
    r = server.client.request(method, url, json=body, headers=scoped)
    assert r.status_code in (403, 404), f"{method} {url} answered {r.status_code}: {r.text[:200]}"
    assert set(r.json()) == {"error"}
    st: Any = server.state
    assert all(u.email != "mallory@example.com" for u in st.accounts.users.all())
    assert st.accounts.users.verify_password("ann@example.com", "ann-password") is not None
    assert "hr" in st.accounts.workspaces.names()


def test_a_scoped_admin_key_lists_only_its_workspaces(server: Server, scoped: dict[str, str]) -> None:
    c = server.client
    # the owner asks in hr too, so there is something to hide
    c.post("/api/ask", json={"question": "salary advances refund?", "workspace": "hr"}, headers=server.as_("owner"))
    workspaces = c.get("/api/workspaces", headers=scoped).json()["workspaces"]
    assert [w["name"] for w in workspaces] == ["support"] and workspaces[0]["role"] == "admin"
    assert {w["name"] for w in c.get("/api/me", headers=scoped).json()["workspaces"]} == {"support"}
    assert {row["workspace"] for row in c.get("/api/usage", headers=scoped).json()["workspaces"]} <= {"support"}
    assert c.get("/api/workspaces/support", headers=scoped).status_code == 200
    keys = c.get("/api/keys", headers=scoped).json()["keys"]
    assert {k["user"] for k in keys} == {"owner@example.com"}
    logs = c.get("/api/logs", params={"limit": 500}, headers=scoped).json()["logs"]
    assert "HR-5512" not in str(logs)
    everyone = c.get("/api/logs", params={"limit": 500}, headers=server.as_("owner")).json()["logs"]
    hr_answers = [r["id"] for r in everyone if SECRETS["hr"] in str(r)]
    assert hr_answers
    for log_id in hr_answers:
        assert c.get(f"/api/logs/{log_id}", headers=scoped).status_code == 404
    hits = c.get("/api/search", params={"q": "refund code", "k": 50}, headers=scoped).json()["hits"]
    assert SECRETS["hr"] not in str(hits) and SECRETS["leads"] in str(hits)  # admin of support: all of it


def test_an_unscoped_admin_key_still_manages_the_server(server: Server) -> None:
    c = server.client
    assert c.get("/api/users", headers=server.as_("owner")).status_code == 200
    assert c.get("/api/audit", headers=server.as_("owner")).status_code == 200
    assert c.get("/api/admin/sources", headers=server.as_("owner")).status_code == 200
