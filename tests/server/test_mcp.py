"""The MCP server with the SDK's own client, over both transports: ``docket mcp`` spawned as a
subprocess (stdio) and ``/mcp`` of a real ``docket serve`` on 127.0.0.1 (streamable HTTP).

One knowledge base: the bundled handbook's benefits section in the workspace ``handbook``, a
document there restricted to ``group:hr-team`` and one in the workspace ``finance``, each with a
secret that may appear in a reply only to a persona who may read its document.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed (pip install 'docket[mcp]')")

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from docket.accounts import Accounts
from docket.config import load_settings
from docket.ingest.sources.sync import add_remote_source
from docket.kb import KnowledgeBase
from tests.conftest import DEMO
from tests.ingest.sources.helpdesk_server import TOKEN, Desk, helpdesk_server
from tests.scripted_model import ScriptedModel, scripted_model_server
from tests.server.test_serve import _port, _serve

RESTRICTED = "Executive salary bands are reviewed each March; the review code is HRBAND-5521."
FINANCE = "The quarterly finance close uses the ledger code FIN-4410 for accruals."
SECRETS = {"restricted": "HRBAND-5521", "finance": "FIN-4410"}
QUERIES = {"restricted": "executive salary bands review code", "finance": "quarterly finance close ledger code"}
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
    k: 5
  - id: found
    kind: compose
    fields:
      texts: passages | map(attribute='text') | list
"""
Session = Callable[[ClientSession], Awaitable[Any]]


@dataclass
class Install:
    home: Path
    keys: dict[str, str] = field(default_factory=dict)
    url: str = ""
    model: ScriptedModel | None = None
    desk: Desk | None = None  # a loopback Zendesk, the source 'desk' of the support workspace


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    root = tmp_path_factory.mktemp("mcp")
    home = root / "kb"
    (home / "workflows").mkdir(parents=True)
    (home / "workflows" / "lookup.yml").write_text(LOOKUP)
    with scripted_model_server(default="neutral") as model, helpdesk_server("zendesk") as desk:
        desk.add_ticket(101, "Refund", "When do I get my refund?", "2026-01-05T09:00:00Z")
        # no server-wide model (answers are extractive); the support workspace answers with the script
        (home / "docket.toml").write_text(f'[model]\nbase_url = "{model.url}"\napi_key = "test"\nmax_retries = 0\n')
        settings = load_settings(home=home)
        kb = KnowledgeBase(settings)
        accounts = Accounts.open(settings)
        try:
            users = {
                name: accounts.users.create(f"{name}@example.com", f"{name}-password", role)
                for name, role in (("owner", "owner"), ("ann", "member"), ("carol", "member"), ("bob", "member"))
            }
            accounts.workspaces.create("handbook")
            accounts.workspaces.create("finance")
            accounts.workspaces.create("support", settings={"model": "openai:scripted"})
            for name in ("ann", "carol"):
                accounts.workspaces.add_member("handbook", users[name].id, "member")
            accounts.workspaces.add_member("finance", users["bob"].id, "member")
            accounts.workspaces.add_member("support", users["ann"].id, "member")
            accounts.groups.create("hr-team")
            accounts.groups.add("hr-team", users["carol"].id)
            shutil.copytree(DEMO / "Benefits and Perks", root / "docs" / "benefits")
            kb.ingest([str(root / "docs" / "benefits")], workspace="handbook")
            for name, workspace, access, text in (
                ("restricted", "handbook", ("group:hr-team",), RESTRICTED),
                ("finance", "finance", (), FINANCE),
                ("support", "support", (), "Refunds are issued within 14 days of the return."),
            ):
                folder = root / "docs" / name
                folder.mkdir()
                (folder / f"{name}.txt").write_text(text)
                kb.ingest([str(folder)], workspace=workspace, access=access)
            desk_settings = {"url": desk.url, "email": "agent@example.com", "token_env": "DOCKET_TEST_DESK_TOKEN"}
            add_remote_source(kb.store, "desk", "zendesk", desk_settings | {"allow_private": True}, workspace="support")
            out = Install(home, model=model, desk=desk)
            for name, user in users.items():
                out.keys[name] = accounts.keys.create(user.id)[1]
            out.keys["owner-finance"] = accounts.keys.create(users["owner"].id, ["finance"])[1]
            revoked, out.keys["revoked"] = accounts.keys.create(users["ann"].id)
            accounts.keys.revoke(revoked)
        finally:
            kb.close()
            accounts.close()
        port = _port()
        os.environ["DOCKET_TEST_DESK_TOKEN"] = TOKEN  # read by the server when it writes a note
        try:
            proc = _serve(home, port, root / "serve.log")
            out.url = f"http://127.0.0.1:{port}/mcp"
            try:
                yield out
            finally:
                proc.terminate()
                proc.wait(20)
        finally:
            del os.environ["DOCKET_TEST_DESK_TOKEN"]


def over_http(install: Install, persona: str | None, work: Session) -> Any:
    headers = {"Authorization": f"Bearer {install.keys[persona]}"} if persona else {}

    async def go() -> Any:
        async with (
            httpx.AsyncClient(headers=headers, timeout=120) as client,
            streamable_http_client(install.url, http_client=client) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(go())


def over_stdio(install: Install, persona: str | None, work: Session) -> Any:
    args = ["-m", "docket", "mcp", "--home", str(install.home)]
    if persona:
        args += ["--api-key", install.keys[persona]]
    params = StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))

    async def go() -> Any:
        with open(os.devnull, "w") as quiet:
            async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return asyncio.run(go())


TRANSPORTS = {"stdio": over_stdio, "http": over_http}


def structured(result: Any) -> dict[str, Any]:
    assert not result.isError, result.content
    data: dict[str, Any] = result.structuredContent
    return data


def secrets_in(value: Any) -> set[str]:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return {name for name, secret in SECRETS.items() if secret in text}


# ---------------------------------------------------------------------- listing, answers, workflows


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_client_lists_the_tools_gets_a_cited_answer_and_runs_a_workflow(install: Install, transport: str) -> None:
    async def work(session: ClientSession) -> dict[str, Any]:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        answer = structured(await session.call_tool("ask", {"question": "How many weeks of sabbatical can I take?"}))
        ran = structured(
            await session.call_tool("workflow_lookup", {"input": {"text": "sabbatical"}, "workspace": "handbook"})
        )
        return {"tools": tools, "answer": answer, "ran": ran}

    got = TRANSPORTS[transport](install, "owner" if transport == "http" else None, work)
    tools = got["tools"]
    expected = {"search", "ask", "get_document", "get_passage", "list_workspaces", "list_sources", "run_workflow"}
    assert expected | {"draft_reply", "list_workflows", "workflow_lookup"} <= set(tools)
    assert tools["ask"].outputSchema["properties"]["citations"]["type"] == "array"
    # the workflow's own inputs schema types the tool's input
    typed = tools["workflow_lookup"].inputSchema["properties"]["input"]
    assert typed["anyOf"][0]["required"] == ["text"] and typed["anyOf"][1]["type"] == "array"

    answer = got["answer"]
    assert not answer["abstained"] and answer["citations"], answer
    first = answer["citations"][0]
    assert first["n"] == 1 and first["path"].endswith("Sabbatical.md") and first["quote"] in json.dumps(answer)
    assert first["document"] and first["chunk_id"] is not None and answer["log_id"] is not None

    assert got["ran"]["status"] == "done" and got["ran"]["workflow"] == "lookup"
    texts = got["ran"]["results"][0]["texts"]
    assert any("abbatical" in t for t in texts)


def test_answers_asked_over_mcp_are_in_the_answer_log_with_their_caller(install: Install) -> None:
    async def work(session: ClientSession) -> Any:
        return structured(await session.call_tool("ask", {"question": "What is the referral bonus?"}))

    log_id = over_http(install, "ann", work)["log_id"]
    accounts = Accounts.open(load_settings(home=install.home))
    try:
        owner = accounts.answers.owner(log_id)
        ann = accounts.users.by_email("ann@example.com")
        surface = accounts.db.one("SELECT surface FROM answers WHERE log_id = ?", (log_id,))[0]
    finally:
        accounts.close()
    assert surface == "mcp" and owner == (ann.id, ["handbook", "support"])  # asked within her workspaces


def test_search_and_ask_narrow_to_documents_whose_profile_matches_where(install: Install) -> None:
    async def work(session: ClientSession) -> Any:
        titled = structured(await session.call_tool("search", {"query": "leave", "where": {"title": "Sabbatical"}}))
        asked = structured(
            await session.call_tool("ask", {"question": "How long is the leave?", "where": {"title": "Sabbatical"}})
        )
        nobody = structured(await session.call_tool("search", {"query": "leave", "where": {"org": "Acme"}}))
        wrong = await session.call_tool("search", {"query": "leave", "where": {"colour": "blue"}})
        return titled, asked, nobody, wrong

    titled, asked, nobody, wrong = over_http(install, "ann", work)
    assert titled["hits"] and {h["path"] for h in titled["hits"]} == {"Sabbatical.md"}
    assert {c["path"] for c in asked["citations"]} <= {"Sabbatical.md"}
    assert nobody["hits"] == []
    assert wrong.isError and "use one of: org, type, year" in wrong.content[0].text


def test_a_workflow_with_typed_input_refuses_an_item_that_breaks_its_schema(install: Install) -> None:
    async def work(session: ClientSession) -> Any:
        return await session.call_tool("run_workflow", {"workflow": "lookup", "input": {"subject": "no text"}})

    result = over_http(install, "owner", work)
    assert result.isError and "text" in result.content[0].text


def test_draft_reply_is_a_cited_draft_waiting_for_review(install: Install) -> None:
    assert install.model is not None
    install.model.replies[:] = ["neutral", "Refunds are issued within 14 days of the return [1]."]

    async def work(session: ClientSession) -> Any:
        return structured(
            await session.call_tool(
                "draft_reply",
                {"text": "When do I get my refund?", "subject": "Refund", "workspace": "support"},
            )
        )

    draft = over_http(install, "ann", work)
    assert "14 days" in draft["draft"] and draft["citations"][0]["n"] == 1
    assert draft["review_id"] is not None and draft["sentiment"] == "neutral"


def test_an_approved_draft_reply_reaches_the_help_desk_as_an_internal_note(install: Install) -> None:
    assert install.model is not None and install.desk is not None
    install.model.replies[:] = ["neutral", "Refunds are issued within 14 days of the return [1]."]
    ticket = {"text": "When do I get my refund?", "workspace": "support", "ticket_id": "101", "helpdesk": "desk"}

    async def work(session: ClientSession) -> Any:
        return structured(await session.call_tool("draft_reply", ticket))

    draft = over_http(install, "ann", work)
    assert install.desk.notes == []  # nothing reaches the customer's ticket before a person approves
    base = install.url.removesuffix("/mcp")
    headers = {"Authorization": f"Bearer {install.keys['ann']}"}
    response = httpx.post(f"{base}/api/reviews/{draft['review_id']}/approve", json={}, headers=headers, timeout=60)

    assert response.status_code == 200, response.text
    assert response.json()["delivery"].startswith("sent: internal note")
    [(ticket_id, note)] = install.desk.notes
    assert ticket_id == 101 and note["public"] is False and "14 days" in note["body"]


def test_draft_reply_names_a_help_desk_only_the_caller_may_read_and_a_ticket_number(install: Install) -> None:
    assert install.desk is not None
    ticket = {"text": "When do I get my refund?", "ticket_id": "101", "helpdesk": "desk"}

    async def work(session: ClientSession) -> list[str]:
        calls = [
            {**ticket, "workspace": "handbook"},  # carol: a workspace she uses, the desk is support's
            {**ticket, "ticket_id": "abc", "workspace": "handbook"},
            {"text": "Hi", "helpdesk": "desk", "workspace": "handbook"},  # no ticket_id
        ]
        results = [await session.call_tool("draft_reply", args) for args in calls]
        assert all(r.isError for r in results), results
        return [r.content[0].text for r in results]

    hidden, number, alone = over_http(install, "carol", work)
    assert "no help-desk source named 'desk'" in hidden
    assert "ticket_id must be the ticket's number in the help desk (got 'abc')" in number
    assert "helpdesk and ticket_id go together" in alone
    [elsewhere] = over_http(install, "ann", work)[:1]  # ann reads the desk, but drafts in handbook
    assert "source 'desk' belongs to workspace 'support', not 'handbook'" in elsewhere


# ---------------------------------------------------------------------- permissions


def _everything(doc_ids: dict[str, str]) -> Session:
    """Search, ask, get_document, get_passage and every resource, for the secrets' documents."""

    async def work(session: ClientSession) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for name, query in QUERIES.items():
            seen[f"search {name}"] = (await session.call_tool("search", {"query": query, "k": 20})).structuredContent
            seen[f"ask {name}"] = (await session.call_tool("ask", {"question": query})).structuredContent
            got = await session.call_tool("get_document", {"id": doc_ids[name]})
            seen[f"get_document {name}"] = got.structuredContent if not got.isError else got.content[0].text
            got = await session.call_tool("get_passage", {"chunk_id": int(doc_ids[f"{name} passage"])})
            seen[f"get_passage {name}"] = got.structuredContent if not got.isError else got.content[0].text
            try:
                read = await session.read_resource(f"docket://documents/{doc_ids[name]}")  # type: ignore[arg-type]
                seen[f"resource {name}"] = [getattr(c, "text", "") for c in read.contents]
            except Exception as exc:  # the SDK raises the server's error
                seen[f"resource {name}"] = str(exc)
        listed = await session.list_resources()
        seen["resources"] = [str(r.uri) for r in listed.resources]
        for resource in listed.resources:
            read = await session.read_resource(resource.uri)
            seen[f"read {resource.uri}"] = [getattr(c, "text", "") for c in read.contents]
        return seen

    return work


@pytest.fixture(scope="module")
def doc_ids(install: Install) -> dict[str, str]:
    """Each secret's document id, and under "NAME passage" the id of its passage."""
    kb = KnowledgeBase(load_settings(home=install.home))
    try:
        ids = {name: next(d.id for d in kb.store.documents() if d.path.endswith(f"{name}.txt")) for name in SECRETS}
        for name, query in QUERIES.items():
            hit = next(h for h in kb.search(query, k=20) if h.doc_id == ids[name])
            ids[f"{name} passage"] = str(hit.chunk_id)
        return ids
    finally:
        kb.close()


MATRIX = {
    # persona: the secrets whose documents they may read
    "ann": set(),  # handbook member, not in hr-team
    "carol": {"restricted"},  # handbook member in hr-team
    "bob": {"finance"},  # finance member only
    "owner": {"restricted", "finance"},
    "owner-finance": {"finance"},  # the owner's key limited to the finance workspace
}


@pytest.mark.parametrize("persona", sorted(MATRIX))
def test_each_persona_sees_only_the_documents_it_may_read(
    install: Install, doc_ids: dict[str, str], persona: str
) -> None:
    seen = over_http(install, persona, _everything(doc_ids))
    allowed = MATRIX[persona]
    for surface, value in seen.items():
        assert secrets_in(value) <= allowed, (persona, surface)
    for name in SECRETS:
        visible = name in allowed
        assert (f"docket://documents/{doc_ids[name]}" in seen["resources"]) == visible
        assert (SECRETS[name] in json.dumps(seen[f"get_document {name}"])) == visible
        assert (SECRETS[name] in json.dumps(seen[f"get_passage {name}"])) == visible
        if not visible:  # worded like an id that does not exist
            assert f"no document {doc_ids[name]}" in json.dumps(seen[f"get_document {name}"])
            assert f"no passage {doc_ids[name + ' passage']}" in json.dumps(seen[f"get_passage {name}"])
        else:
            assert SECRETS[name] in json.dumps(seen[f"search {name}"])


def test_a_reader_over_stdio_with_an_api_key_sees_only_what_the_key_may_read(
    install: Install, doc_ids: dict[str, str]
) -> None:
    seen = over_stdio(install, "ann", _everything(doc_ids))
    assert secrets_in(seen) == set()
    assert seen["resources"] and not any(doc_ids[n] in uri for n in SECRETS for uri in seen["resources"])


def test_a_workspace_limited_key_sees_only_its_workspace(install: Install) -> None:
    async def work(session: ClientSession) -> Any:
        listed = structured(await session.call_tool("list_workspaces", {}))
        elsewhere = await session.call_tool("search", {"query": "sabbatical", "workspace": "handbook"})
        everywhere = structured(await session.call_tool("search", {"query": "sabbatical weeks", "k": 20}))
        sources = structured(await session.call_tool("list_sources", {}))
        return listed, elsewhere, everywhere, sources

    listed, elsewhere, everywhere, sources = over_http(install, "owner-finance", work)
    assert [w["name"] for w in listed["workspaces"]] == ["finance"]
    assert elsewhere.isError and "no workspace 'handbook'" in elsewhere.content[0].text
    assert all(h["path"].endswith("finance.txt") for h in everywhere["hits"])
    assert {s["workspace"] for s in sources["sources"]} == {"finance"}


def test_a_missing_wrong_or_revoked_key_is_refused(install: Install) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    ann = headers | {"Authorization": f"Bearer {install.keys['ann']}"}
    good = httpx.post(install.url, json=body, headers=ann)
    assert good.status_code == 200 and "draft_reply" in good.text  # stateless: no initialize needed (docs/agents.md)
    proxied = httpx.post(install.url, json=body, headers=ann | {"Host": "docket.example.com"})
    assert proxied.status_code == 200  # behind a reverse proxy, under the server's public name
    for auth in (None, "Bearer dk_wrong", f"Bearer {install.keys['revoked']}", "Basic b3duZXI6eA=="):
        sent = headers | ({"Authorization": auth} if auth else {})
        response = httpx.post(install.url, json=body, headers=sent, timeout=30)
        assert response.status_code == 401, (auth, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert install.keys["revoked"] not in response.text

    with pytest.raises(Exception):  # noqa: B017 - the SDK's client raises the HTTP error (in a group)
        over_http(install, "revoked", lambda s: s.list_tools())

    proc = subprocess.run(
        [sys.executable, "-m", "docket", "mcp", "--home", str(install.home), "--api-key", "dk_wrong"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode != 0 and "not valid" in proc.stderr + proc.stdout and "dk_wrong" not in proc.stderr


def test_without_the_mcp_extra_the_endpoint_names_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from docket.server import app as app_module
    from docket.server.mcp import http

    monkeypatch.setattr(http, "mcp_installed", lambda: False)
    app = app_module.create_app(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}))
    with TestClient(app) as client:
        response = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert client.get("/healthz").status_code == 200  # the rest of the server is unaffected
    assert response.status_code == 400 and response.json()["error"]["code"] == "missing_extra"
    assert "pip install 'docket[mcp]'" in response.json()["error"]["message"]
