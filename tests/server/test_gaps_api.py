"""GET /api/gaps: knowledge gaps for the owner and admins (everything) and workspace admins (their
workspaces' questions only); members are refused, and a workspace the caller may not see is a 404."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app


@dataclass
class Gaps:
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)
    disliked: int = 0

    def get(self, persona: str | None, **params: str) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.keys[persona]}"} if persona else {}
        r = self.client.get("/api/gaps", params=params, headers=headers)
        return r.status_code, r.json()

    def ask(self, persona: str, question: str, workspace: str | None = None) -> dict:
        body = {"question": question, **({"workspace": workspace} if workspace else {})}
        r = self.client.post("/api/ask", json=body, headers={"Authorization": f"Bearer {self.keys[persona]}"})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def gaps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gaps]:
    root: Path = tmp_path_factory.mktemp("gaps-api")
    app = create_app(load_settings(home=root / "kb", environ={}), start_jobs=False)
    with TestClient(app) as client:
        st = app.state.docket
        accounts = st.accounts
        users = {
            "owner": accounts.users.create("owner@example.com", "owner-password", "owner"),
            "wsadmin": accounts.users.create("wsadmin@example.com", "wsadmin-password", "member"),
            "member": accounts.users.create("member@example.com", "member-password", "member"),
        }
        accounts.workspaces.create("support")
        accounts.workspaces.create("hr")
        accounts.workspaces.add_member("support", users["wsadmin"].id, "admin")
        accounts.workspaces.add_member("support", users["member"].id, "member")
        accounts.workspaces.add_member("hr", users["member"].id, "member")
        folder = root / "docs"
        folder.mkdir()
        (folder / "refunds.txt").write_text("Refunds are issued within 14 days of the return of the goods.")
        st.kb.ingest([str(folder)], workspace="support")
        g = Gaps(client, {name: accounts.keys.create(u.id)[1] for name, u in users.items()})
        for question in ("How do I reset my VPN password?", "My VPN password reset link does not work"):
            assert g.ask("member", question, "support")["abstained"]
        for question in ("How many days of parental leave do we get?", "Is parental leave paid?"):
            assert g.ask("member", question, "hr")["abstained"]
        assert g.ask("owner", "What is the office wifi password?")["abstained"]  # no workspace: admins only
        answered = g.ask("member", "When are refunds issued after a return?", "support")
        assert not answered["abstained"]
        r = client.post(
            "/api/feedback",
            json={"log_id": answered["log_id"], "rating": -1, "comment": "too vague"},
            headers={"Authorization": f"Bearer {g.keys['member']}"},
        )
        assert r.status_code == 200, r.text
        g.disliked = answered["log_id"]
        yield g


def _questions(body: dict) -> set[str]:
    return {q for gap in body["gaps"] for q in gap["examples"]}


def test_the_owner_sees_every_gap(gaps: Gaps) -> None:
    status, body = gaps.get("owner")
    assert status == 200
    assert body["questions"] == 6 and body["considered"] == 6
    assert "What is the office wifi password?" in _questions(body)
    assert any(gaps.disliked in g["log_ids"] and "negative feedback" in g["reasons"] for g in body["gaps"])
    assert sum(g["count"] for g in body["gaps"]) == 6
    status, hr = gaps.get("owner", workspace="hr")
    assert status == 200 and _questions(hr) == {
        "How many days of parental leave do we get?",
        "Is parental leave paid?",
    }


def test_a_workspace_admin_sees_only_their_workspaces_questions(gaps: Gaps) -> None:
    status, body = gaps.get("wsadmin")
    assert status == 200
    assert _questions(body) == {
        "How do I reset my VPN password?",
        "My VPN password reset link does not work",
        "When are refunds issued after a return?",
    }
    assert gaps.get("wsadmin", workspace="support")[1]["gaps"] == body["gaps"]
    status, hidden = gaps.get("wsadmin", workspace="hr")
    assert status == 404 and hidden["error"]["status"] == 404


def test_members_and_strangers_are_refused(gaps: Gaps) -> None:
    assert gaps.get("member")[0] == 403
    assert gaps.get("member", workspace="support")[0] == 403
    status, body = gaps.get(None)
    assert status == 401 and set(body) == {"error"}


def test_the_web_app_has_a_knowledge_gaps_page() -> None:
    from docket.server.routes.web import WEB_ROOT

    main = (WEB_ROOT / "js" / "main.js").read_text()
    assert 'import * as gaps from "./gaps.js";' in main
    assert 'path: "gaps", label: "Knowledge gaps"' in main
    page = (WEB_ROOT / "js" / "gaps.js").read_text()
    assert "/api/gaps" in page and "export async function render" in page
