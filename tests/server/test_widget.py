"""The website widget: public workspaces only, per-visitor rate limits, allowed origins and CORS."""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from fastapi import FastAPI
from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.errors import ModelError
from docket.server.app import ServerState, create_app
from docket.server.routes.public import WIDGET_JS, widget_snippet
from docket.types import Access

PER_MINUTE = 3
SHOP = "https://shop.example.com"
FAQ = (
    "# Returns\n\nRefunds are issued within 14 days of receiving the returned item. "
    "Return shipping is free for orders over 50 euros.\n\n# Delivery\n\nOrders ship within 2 working days.\n"
)
INTERNAL = "# Refund exceptions\n\nSupport leads may approve refund exceptions with code LEADS-7731.\n"
HR = "# Salaries\n\nRefunds of salary advances go through payroll with code HR-5512.\n"


@dataclass
class Site:
    app: FastAPI
    client: TestClient
    state: ServerState


def _folder(root: Path, name: str, text: str) -> str:
    folder = root / "docs" / name
    folder.mkdir(parents=True)
    (folder / f"{name}.md").write_text(text)
    return str(folder)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``support`` is public for shop.example.com, holding one document only a named user may read;
    ``anyone`` is public for every site; ``quiet`` is public with no allowed origins; ``broke`` has spent
    its daily budget; ``hr`` is private."""
    root = tmp_path_factory.mktemp("widget")
    settings = load_settings(home=root / "kb", overrides={"server": {"widget_requests_per_minute": PER_MINUTE}})
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        st: ServerState = app.state.docket
        st.accounts.workspaces.create("support", public=True, settings={"allowed_origins": [SHOP + "/"]})
        st.accounts.workspaces.create("anyone", public=True, settings={"allowed_origins": ["*"]})
        st.accounts.workspaces.create("quiet", public=True)
        st.accounts.workspaces.create("hr")
        st.accounts.workspaces.create("broke", public=True, settings={"model": "fake", "daily_budget": 0})
        st.kb.ingest([_folder(root, "faq", FAQ)], workspace="support")
        st.kb.ingest([_folder(root, "internal", INTERNAL)], workspace="support", access=["user:lead@example.com"])
        st.kb.ingest([_folder(root, "anyfaq", FAQ)], workspace="anyone")
        st.kb.ingest([_folder(root, "hr", HR)], workspace="hr")
        yield Site(app, client, st)


_visitors = iter(range(1, 250))


@contextmanager
def visitor(site: Site) -> Iterator[TestClient]:
    """A client from an address no other test uses, so each test starts under the rate limit."""
    client = TestClient(site.app, client=(f"203.0.113.{next(_visitors)}", 40000))
    try:
        yield client
    finally:
        client.close()


def ask(client: TestClient, workspace: str, question: str, **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    return client.post(f"/api/public/{workspace}/ask", json={"question": question, **extra}, headers=headers)


def test_public_workspace_answers_with_citations(site: Site) -> None:
    with visitor(site) as client:
        r = ask(client, "support", "How long do refunds take?")
    assert r.status_code == 200
    body = r.json()
    assert "14 days" in body["answer"] and "[1]" in body["answer"] and not body["abstained"]
    citation = body["citations"][0]
    assert citation["path"] == "faq.md" and "14 days" in citation["quote"] and citation["location"]["label"]
    assert "sources" not in body and "download" not in r.text  # no passages beyond the quotes, no links
    log_id = site.state.kb.ledger.answer_logs(limit=1)[0]["id"]
    assert site.state.accounts.answers.owner(log_id) == (None, ["support"])
    assert site.state.accounts.answers.conversation_owner(body["conversation"]) == (None, "support")


def test_private_workspace_is_the_same_404_as_a_missing_one(site: Site) -> None:
    with visitor(site) as client:
        for name in ("hr", "no-such-workspace"):
            for method in ("POST", "OPTIONS"):
                if method == "POST":
                    r = ask(client, name, "How are salary advances refunded?")
                else:
                    r = client.options(f"/api/public/{name}/ask", headers={"Origin": SHOP})
                assert r.status_code == 404
                assert r.json() == {
                    "error": {"code": "not_found", "message": f"no public workspace '{name}'", "status": 404}
                }
                assert "access-control-allow-origin" not in r.headers


def test_restricted_documents_never_appear(site: Site) -> None:
    with visitor(site) as client:
        for question in ("What is the code for refund exceptions?", "Can support leads approve refund exceptions?"):
            r = ask(client, "support", question)
            assert r.status_code == 200
            assert "LEADS-7731" not in r.text and "internal.md" not in r.text
            assert "HR-5512" not in r.text
    # the document is there, for those who may read it
    hits = site.state.kb.search("What is the code for refund exceptions?", access=Access.owner())
    assert any(h.path == "internal.md" for h in hits)


def test_question_outside_the_documents_abstains(site: Site) -> None:
    with visitor(site) as client:
        r = ask(client, "support", "Who won the football world cup in 1954?")
    assert r.status_code == 200 and r.json()["abstained"] is True and r.json()["citations"] == []


def test_visitors_are_not_told_budgets_or_server_failures(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    with visitor(site) as client:
        spent = ask(client, "broke", "How long do refunds take?", headers={"Origin": "http://testserver"})
        assert spent.status_code == 402 and spent.headers["access-control-allow-origin"] == "http://testserver"
        assert spent.json()["error"]["message"] == (
            "this help service has answered all it can for today; try again tomorrow"
        )

        def failing(*_: Any, **__: Any) -> Any:
            raise ModelError("the model server at http://10.0.0.7:8080 refused the key sk-secret")

        monkeypatch.setattr(site.state.kb, "chat", failing)
        failed = ask(client, "support", "How long do refunds take?")
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "model_error"
    assert "10.0.0.7" not in failed.text and "sk-secret" not in failed.text


def test_each_visitor_is_rate_limited(site: Site) -> None:
    with visitor(site) as client, visitor(site) as other:
        for _ in range(PER_MINUTE):
            assert ask(client, "support", "How long do refunds take?").status_code == 200
        r = ask(client, "support", "How long do refunds take?", headers={"Origin": SHOP})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "60"
        assert r.headers["access-control-allow-origin"] == SHOP  # so the widget can read why
        assert r.json()["error"]["code"] == "rate_limited"
        assert ask(other, "support", "How long do refunds take?").status_code == 200  # another visitor
        assert ask(client, "anyone", "How long do refunds take?").status_code == 200  # another workspace


def test_allowed_origin_gets_cors_headers(site: Site) -> None:
    with visitor(site) as client:
        r = ask(client, "support", "How long do refunds take?", headers={"Origin": SHOP})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == SHOP
        assert "origin" in r.headers["vary"].lower()
        own = ask(client, "quiet", "How long do refunds take?", headers={"Origin": "http://testserver"})
        assert own.status_code == 200 and own.headers["access-control-allow-origin"] == "http://testserver"
        anywhere = ask(client, "anyone", "How long do refunds take?", headers={"Origin": "https://blog.example.org"})
        assert anywhere.headers["access-control-allow-origin"] == "https://blog.example.org"


@pytest.mark.parametrize(
    ("workspace", "origin"),
    [("support", "https://evil.example.net"), ("support", "http://shop.example.com"), ("quiet", SHOP)],
)
def test_other_origins_are_refused(site: Site, workspace: str, origin: str) -> None:
    with visitor(site) as client:
        r = ask(client, workspace, "How long do refunds take?", headers={"Origin": origin})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden" and "allowed origins" in r.json()["error"]["message"]
        assert "access-control-allow-origin" not in r.headers
        assert "14 days" not in r.text
        preflight = client.options(
            f"/api/public/{workspace}/ask",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers


def test_preflight_for_an_allowed_origin(site: Site) -> None:
    with visitor(site) as client:
        r = client.options(
            "/api/public/support/ask",
            headers={
                "Origin": SHOP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == SHOP
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"].lower()


def test_follow_up_continues_the_widget_conversation(site: Site) -> None:
    with visitor(site) as client:
        first = ask(client, "support", "How long do refunds take?").json()
        follow = ask(client, "support", "and for return shipping?", conversation=first["conversation"]).json()
        assert follow["conversation"] == first["conversation"]
        assert "refunds" in follow["query"].lower() and "shipping" in follow["query"]
        # a conversation that is not this widget's is never continued (nor shown)
        mine = site.state.kb.chat("What is the salary advance code?", access=Access.owner())
        site.state.accounts.answers.claim_conversation(mine.conversation, 1, "hr")
        other = ask(client, "support", "and the code?", conversation=mine.conversation).json()
        assert other["conversation"] != mine.conversation
        assert "salary" not in other["query"] and "HR-5512" not in str(other)


def test_widget_js_is_self_contained_javascript(site: Site, tmp_path: Path) -> None:
    r = site.client.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    script = r.text
    assert script == WIDGET_JS
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", script, re.IGNORECASE)  # loads nothing else
    assert "import(" not in script and 'createElement("script")' not in script
    for needed in ("data-workspace", "data-server", "/api/public/", "aria-label", "Escape", "textContent"):
        assert needed in script
    assert "innerHTML" not in script  # server text is never parsed as HTML
    node = shutil.which("node")
    if node is not None:  # a syntax check where Node.js is installed
        (tmp_path / "widget.js").write_text(script)
        subprocess.run([node, "--check", str(tmp_path / "widget.js")], check=True, capture_output=True)


def test_snippet_names_server_and_workspace() -> None:
    snippet = widget_snippet("https://docs.example.com/", "support")
    assert snippet == (
        '<script src="https://docs.example.com/widget.js" data-server="https://docs.example.com" '
        'data-workspace="support" async></script>'
    )
    assert '"><script>' not in widget_snippet("https://docs.example.com", 'x"><script>alert(1)</script>')


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on a free loopback port (lifespan off: the ``site`` fixture owns start and stop)."""
    import httpx
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextmanager
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch()
        except sync_api.Error:
            executable = shutil.which("chromium") or shutil.which("chromium-browser")
            if executable is None:
                pytest.skip("no Chromium for playwright (playwright install chromium)")
            browser = p.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def host_site(page_html: str) -> Iterator[int]:
    """A web server on a free loopback port serving ``page_html`` at every path (Chrome lets only
    pages on loopback addresses call a server on 127.0.0.1, so the embedding site is one too)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page_html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield int(httpd.server_address[1])
        finally:
            httpd.shutdown()
            thread.join(10)


def test_widget_in_a_real_browser_on_another_site(site: Site, tmp_path: Path) -> None:
    """A page on another site embeds the snippet; the widget asks the real server across origins.
    The site's page is served as http://127.0.0.1:PORT (allowed) and http://localhost:PORT (not)."""
    with chromium() as browser, serving(site.app) as base:
        host_page = f"<!doctype html><title>Shop</title><h1>Shop</h1>{widget_snippet(base, 'shopfront')}"
        with host_site(host_page) as port:
            allowed = f"http://127.0.0.1:{port}"
            site.state.accounts.workspaces.create("shopfront", public=True, settings={"allowed_origins": [allowed]})
            site.state.kb.ingest([_folder(tmp_path, "shopfront", FAQ)], workspace="shopfront")
            page = browser.new_page()
            page.goto(f"{allowed}/")
            bubble = page.get_by_role("button", name="Open help chat: Ask our documents")
            bubble.click()
            question = page.get_by_label("Your question")
            assert question.evaluate("el => el.getRootNode().activeElement === el")  # focus moved into the panel
            question.fill("How long do refunds take?")
            question.press("Enter")
            sources = page.get_by_role("list", name="Sources")
            sources.wait_for(timeout=30_000)
            assert "[1] shopfront.md" in sources.inner_text() and "14 days" in sources.inner_text()
            assert "14 days" in page.get_by_role("log").inner_text()
            question.fill("Who won the football world cup in 1954?")
            question.press("Enter")
            page.get_by_text("Sorry, that is not in our documents.").wait_for(timeout=30_000)
            page.keyboard.press("Escape")
            assert page.get_by_role("dialog").is_hidden()
            assert bubble.get_attribute("aria-expanded") == "false"
            assert bubble.evaluate("el => el.getRootNode().activeElement === el")  # focus back on the bubble

            refused = browser.new_page()  # the same page on a site that is not allowed
            refused.goto(f"http://localhost:{port}/")
            refused.get_by_role("button", name="Open help chat: Ask our documents").click()
            refused.get_by_label("Your question").fill("How long do refunds take?")
            refused.get_by_label("Your question").press("Enter")
            refused.get_by_text("could not be reached").wait_for(timeout=30_000)
            assert "14 days" not in refused.get_by_role("log").inner_text()
