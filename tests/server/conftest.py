"""A server with two workspaces, restricted documents and one persona per kind of caller."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app

# Each secret appears in exactly one document; a persona's responses may contain a secret only if
# that persona may read its document.
DOCS = {
    # workspace, access list, file, text
    "faq": ("support", (), "faq.txt", "Refunds are issued within 14 days of the return. Code PUBLIC-1001."),
    "leads": ("support", ("group:leads",), "leads.txt", "Refund exceptions for team leads use code LEADS-7731."),
    "dave": ("support", ("user:dave@example.com",), "dave.txt", "Dave's personal refund exception is DAVE-9921."),
    "hr": ("hr", (), "salaries.txt", "Refund of salary advances goes through payroll, code HR-5512."),
}
SECRETS = {"faq": "PUBLIC-1001", "leads": "LEADS-7731", "dave": "DAVE-9921", "hr": "HR-5512"}


@dataclass
class Server:
    client: TestClient
    state: object
    home: Path
    keys: dict[str, str] = field(default_factory=dict)

    def as_(self, persona: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[persona]}"}


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    settings = load_settings(home=root / "kb", overrides={"server": {"widget_requests_per_minute": 1000}})
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        st = app.state.docket
        accounts = st.accounts
        owner = accounts.users.create("owner@example.com", "owner-password", "owner")
        ann = accounts.users.create("ann@example.com", "ann-password", "member")
        bob = accounts.users.create("bob@example.com", "bob-password", "member")
        carol = accounts.users.create("carol@example.com", "carol-password", "member")
        dave = accounts.users.create("dave@example.com", "dave-password", "member")
        accounts.workspaces.create("support", public=True)
        accounts.workspaces.create("hr")
        for user in (ann, carol, dave):
            accounts.workspaces.add_member("support", user.id, "member")
        accounts.workspaces.add_member("hr", bob.id, "member")
        accounts.groups.create("leads")
        accounts.groups.add("leads", carol.id)
        for name, (workspace, access, filename, text) in DOCS.items():
            folder = root / "docs" / name
            folder.mkdir(parents=True)
            (folder / filename).write_text(text)
            st.kb.ingest([str(folder)], workspace=workspace, access=access)
        srv = Server(client, st, root / "kb")
        for persona, user in (("owner", owner), ("ann", ann), ("bob", bob), ("carol", carol), ("dave", dave)):
            srv.keys[persona] = accounts.keys.create(user.id)[1]
        revoked_id, srv.keys["revoked"] = accounts.keys.create(ann.id)
        accounts.keys.revoke(revoked_id)
        yield srv
