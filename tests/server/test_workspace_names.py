"""Workspace names are slugs, checked wherever a workspace is named: "." and ".." never pass.

A workspace named ".." once made an upload land in the knowledge base's home, where the run logs
live and were then indexed without an access list.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from docket.config import load_settings
from docket.errors import UserError
from tests.server.conftest import Server

BAD = [".", "..", ".hidden", "a/b", "a\\b", "sales.", "", "x" * 65, "with space", "../hr"]
GOOD = ["Support", "hr", "sales-eu", "team_2", "v1.2", "a"]


@pytest.mark.parametrize("name", BAD)
def test_bad_workspace_names_are_refused(name: str) -> None:
    from docket.types import check_workspace_name

    with pytest.raises(UserError, match="not a valid workspace name"):
        check_workspace_name(name)


@pytest.mark.parametrize("name", GOOD)
def test_good_workspace_names_pass(name: str) -> None:
    from docket.types import check_workspace_name

    assert check_workspace_name(name) == name


@pytest.mark.parametrize("name", [".", "..", "a/b"])
def test_the_api_refuses_them(server: Server, name: str) -> None:
    r = server.client.post("/api/workspaces", json={"name": name}, headers=server.as_("owner"))
    assert r.status_code == 400 and "not a valid workspace name" in r.json()["error"]["message"]
    st: Any = server.state
    assert name not in st.accounts.workspaces.names()


@pytest.mark.parametrize("name", ["%2E%2E", "%2E", ".hidden"])
def test_an_upload_never_lands_outside_the_uploads_folder(server: Server, name: str) -> None:
    home = server.home
    before = {p.name for p in home.iterdir()}
    r = server.client.post(
        f"/api/workspaces/{name}/documents",
        files={"files": ("planted.txt", b"Planted text with the code PLANTED-4242.", "text/plain")},
        headers=server.as_("owner"),
    )
    assert r.status_code in (400, 404), r.text
    assert {p.name for p in home.iterdir()} == before
    assert not list(home.rglob("planted.txt"))


def test_the_accounts_refuse_them(tmp_path: Path) -> None:
    from docket.accounts import Accounts

    accounts = Accounts(tmp_path / "accounts.db")
    for name in ("..", "."):
        with pytest.raises(UserError):
            accounts.workspaces.create(name)
    assert accounts.workspaces.names() == []


def test_ingestion_and_sources_refuse_them(tmp_path: Path) -> None:
    from docket.ingest.sources.sync import add_remote_source
    from docket.kb import KnowledgeBase

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Some text.")
    with KnowledgeBase(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}})) as kb:
        with pytest.raises(UserError):
            kb.ingest([str(docs)], workspace="..")
        with pytest.raises(UserError):
            add_remote_source(kb.store, "site", "web", {"url": "https://example.com/"}, workspace="..")
        assert kb.ledger.sources() == {}


def test_the_command_line_refuses_them(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKET_HOME": str(tmp_path / "kb"), "DOCKET_EMBEDDER__NAME": "fake"}
    created = subprocess.run(
        [sys.executable, "-m", "docket", "workspaces", "create", ".."], capture_output=True, text=True, env=env
    )
    assert created.returncode != 0 and "not a valid workspace name" in created.stdout + created.stderr
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Some text.")
    command = [sys.executable, "-m", "docket", "ingest", str(docs), "--workspace", "."]
    ingested = subprocess.run(command, capture_output=True, text=True, env=env)
    assert ingested.returncode != 0 and "not a valid workspace name" in ingested.stdout + ingested.stderr
