"""The web app: its files are served right, and a real browser can use it from setup to sign-out.

The browser test drives Debian's Chromium through Playwright against a real uvicorn server:
first-run setup, a workspace, an upload (file picker and drag-and-drop) indexed by the background
worker, a streamed chat answer whose citation opens the passage with the quote highlighted,
feedback, search, a phone-sized screen, sign-out and sign-in. It skips, saying why, when Chromium
or Playwright is missing (``apt-get install chromium``; ``pip install playwright``, no
``playwright install`` needed). Screenshots go to ``tests/server/artifacts/webapp/`` (or
``$DOCKET_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import ServerState, create_app
from docket.server.routes.web import WEB_ROOT
from tests.conftest import DEMO, REPO

ARTIFACTS = Path(os.environ.get("DOCKET_TEST_ARTIFACTS") or REPO / "tests" / "server" / "artifacts" / "webapp")
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
OWNER_EMAIL, OWNER_PASSWORD = "owner@example.com", "a long owner password"
TIMEOUT_MS = 60_000
INDEX_TIMEOUT_MS = 240_000  # the first job loads the embedding model

CONTENT_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}
VENDOR = WEB_ROOT / "vendor"


# ---------------------------------------------------------------------------------------- no browser


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(load_settings(home=tmp_path / "kb"), start_jobs=False)
    with TestClient(app) as c:
        yield c


def test_index_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app/js/main.js"></script>' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_asset_is_served_with_its_content_type(client: TestClient) -> None:
    files = [p for p in WEB_ROOT.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".html", ".css", ".js", ".svg"}
    for path in files:
        rel = path.relative_to(WEB_ROOT).as_posix()
        response = client.get(f"/app/{rel}")
        assert response.status_code == 200, rel
        assert response.headers["content-type"].startswith(CONTENT_TYPES[path.suffix]), rel
        assert response.content == path.read_bytes(), rel


def test_every_reference_between_the_files_resolves() -> None:
    """index.html's assets and every module a script imports exist in the package."""
    index = (WEB_ROOT / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="/app/([^"]+)"', index):
        assert (WEB_ROOT / ref).is_file(), ref
    for script in (WEB_ROOT / "js").glob("*.js"):
        text = script.read_text()
        refs = re.findall(r'^import .*? from "(\.\.?/[^"]+)";', text, flags=re.M | re.S)
        refs += re.findall(r'^import "(\.\.?/[^"]+)";', text, flags=re.M)
        for ref in refs:
            assert (script.parent / ref).resolve().is_file(), f"{script.name} imports {ref}"


def test_nothing_is_fetched_from_another_site() -> None:
    """The product runs offline: no CDN, no web font, no remote script or stylesheet. (The vendored
    libraries name their home pages in comments and test URLs in code: they fetch nothing either.)"""
    allowed = {"http://www.w3.org/2000/svg", "https://www.example.com"}
    for path in VENDOR.iterdir():
        if path.suffix in (".js", ".mjs"):
            code = path.read_text()
            assert not re.search(r"\bfetch\(|XMLHttpRequest|import\(|importScripts", code), path.name
    for path in WEB_ROOT.rglob("*"):
        if path.is_file() and path.parent != VENDOR:
            urls = set(re.findall(r"https?://[^\s\"'`)]+", path.read_text()))
            assert urls <= allowed, f"{path.name}: {urls - allowed}"


def test_files_outside_the_web_app_are_not_served(client: TestClient) -> None:
    for probe in ("/app/../routes/web.py", "/app/%2e%2e/accounts.py", "/app/js/missing.js", "/app/"):
        response = client.get(probe)
        assert response.status_code == 404, probe
        assert response.json()["error"]["status"] == 404


def test_the_web_app_ships_in_the_package() -> None:
    """Hatchling puts every file under src/docket in the wheel; the app must live there."""
    assert WEB_ROOT.is_relative_to(REPO / "src" / "docket")
    assert (WEB_ROOT / "index.html").is_file() and (WEB_ROOT / "js" / "main.js").is_file()


def test_the_vendored_libraries_are_the_pinned_builds_with_their_licences() -> None:
    """markdown-it and DOMPurify are copied unmodified from npm: their sums are the ones listed in
    vendor/VERSIONS.txt, their licences ship beside them and NOTICE names them."""
    import hashlib

    versions = (VENDOR / "VERSIONS.txt").read_text()
    for name in ("markdown-it.min.js", "purify.es.mjs"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in versions, f"{name} differs from the pinned build"
    assert "MIT" in (VENDOR / "markdown-it-LICENSE.txt").read_text()
    assert "Apache License" in (VENDOR / "dompurify-LICENSE.txt").read_text()
    notice = (REPO / "NOTICE").read_text()
    assert "markdown-it 14.3.3" in notice and "DOMPurify 3.5.0" in notice


# ---------------------------------------------------------------------------------------- browser


@dataclass
class Browser:
    executable: str
    sync_api: Any  # the playwright.sync_api module


@pytest.fixture
def browser_tools() -> Browser:
    """Chromium and Playwright, or a skip that says which one is missing (checked before a server starts)."""
    for candidate in (os.environ.get("DOCKET_CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            break
    else:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set DOCKET_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    return Browser(candidate, sync_api)


@dataclass
class LiveServer:
    url: str
    state: ServerState
    setup_token: str


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    import uvicorn

    tokens: list[str | None] = []
    # the review page's then_webhook goes to a receiver on loopback, listed as an intranet help desk would be
    settings = load_settings(home=tmp_path / "kb", overrides={"network": {"allow_private_hosts": ["127.0.0.1"]}})
    app = create_app(settings, on_ready=tokens.append)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="webapp-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    assert tokens and tokens[0], "a server without users hands out a setup token"
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app.state.docket, str(tokens[0]))
    finally:
        server.should_exit = True
        thread.join(60)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


RUNNING_JOB = {
    "id": 99,
    "workspace": "handbook",
    "state": "running",
    "progress": {"done": 1, "total": 3, "file": "handbook.pdf", "eta_seconds": 12.2},
    "report": None,
    "error": None,
    "created": 1_700_000_000.0,
    "started": 1_700_000_001.0,
    "finished": None,
}

# counts the text pieces added to a streaming answer while it streams
COUNT_STREAMED_PIECES = """() => {
    window.streamedPieces = 0;
    new MutationObserver((records) => {
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.nodeType === Node.TEXT_NODE && node.parentElement.classList.contains("streaming")) {
                    window.streamedPieces += 1;
                }
            }
        }
    }).observe(document.getElementById("main"), { childList: true, subtree: true });
}"""


def _drop_file(page: Any, selector: str, name: str, text: str) -> None:
    """Drop a file on an element the way a user dragging it from their desktop would."""
    page.evaluate(
        """([selector, name, text]) => {
            const zone = document.querySelector(selector);
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/markdown" }));
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
            }
        }""",
        [selector, name, text],
    )


@pytest.mark.slow
def test_a_user_sets_up_uploads_asks_checks_a_citation_and_signs_out(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    sync_api = browser_tools.sync_api
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    sabbatical = DEMO / "Benefits and Perks" / "Sabbatical.md"
    vacation = DEMO / "Benefits and Perks" / "Vacation and Sick Leave.md"
    upload = tmp_path / "upload" / sabbatical.name
    upload.parent.mkdir()
    shutil.copy(sabbatical, upload)

    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=browser_tools.executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console: {msg.text}")
                    if msg.type == "error" and "status of 401" not in msg.text
                    else None
                ),
            )

            # ---- first run: the setup link creates the owner, who is signed in at once
            page.goto(f"{base}/?setup={live_server.setup_token}")
            expect(page.get_by_role("heading", name="Set up Docket")).to_be_visible()
            page.get_by_label("Your name").fill("Olive Owner")
            page.get_by_label("Email").fill(OWNER_EMAIL)
            page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
            page.get_by_label("Password again").fill(OWNER_PASSWORD)
            page.screenshot(path=artifacts / "01-setup.png")
            page.get_by_role("button", name="Create the owner account").click()

            # ---- a workspace, picked in the workspace picker
            expect(page.get_by_role("heading", name="Workspaces", exact=True)).to_be_visible()
            expect(page.locator("#who")).to_contain_text("Olive Owner")
            page.get_by_label("Name", exact=True).fill("handbook")
            page.get_by_role("button", name="Create workspace").click()
            expect(page.locator("article.workspace[data-workspace='handbook']")).to_be_visible()
            expect(page.get_by_label("Workspace", exact=True)).to_have_value("handbook")
            page.screenshot(path=artifacts / "02-workspaces.png", full_page=True)

            # ---- upload one file with the file picker and drop another; both get indexed
            # (first, how a running job looks: the server's answer is replaced by one mid-job)
            jobs_url = re.compile(r".*/api/jobs\?.*")
            page.route(jobs_url, lambda route: route.fulfill(json={"jobs": [RUNNING_JOB]}))
            page.get_by_role("link", name="Documents").click()
            expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
            running = page.locator("li.job[data-state='running']")
            expect(running.locator("progress")).to_have_attribute("max", "3")
            expect(running.locator("progress")).to_have_attribute("value", "1")
            expect(running).to_contain_text("1 of 3 files · handbook.pdf · about 12 s left")
            page.screenshot(path=artifacts / "03-job-progress.png")
            page.unroute(jobs_url)
            expect(page.locator("li.job")).to_have_count(0)  # polled again: the real (empty) list
            page.get_by_label("Files").set_input_files(str(upload))
            page.get_by_role("button", name="Upload").click()
            expect(page.locator("li.job").first).to_be_visible()
            expect(page.locator("li.job[data-state='done']")).to_have_count(1, timeout=INDEX_TIMEOUT_MS)
            _drop_file(page, "form.dropzone", vacation.name, vacation.read_text())
            expect(page.locator("li.job")).to_have_count(2)
            expect(page.locator("li.job[data-state='done']")).to_have_count(2, timeout=INDEX_TIMEOUT_MS)
            docs = page.locator("section[aria-labelledby='docs-title'] table")
            expect(docs).to_contain_text("Sabbatical.md")
            expect(docs).to_contain_text("Vacation and Sick Leave.md")
            expect(page.locator("li.job").first).to_contain_text("1 added")
            page.screenshot(path=artifacts / "04-documents-indexed.png", full_page=True)

            # ---- ask: the answer arrives with [n] citations as buttons
            page.get_by_role("link", name="Chat").click()
            expect(page.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
            question = page.get_by_label("Your question")
            question.fill("How long is the paid sabbatical?")
            question.press("Enter")
            answer = page.locator("li.turn .answer[aria-busy='false']").first
            expect(answer).to_contain_text("12 contiguous weeks")
            cite = answer.locator("button.cite").first
            expect(cite).to_be_visible()
            expect(cite).to_have_accessible_name(re.compile(r"^Source \d+: .*Sabbatical\.md"))
            page.screenshot(path=artifacts / "05-chat-answer.png")

            # ---- the citation opens the passage with the quoted sentence highlighted
            cite.click()
            panel = page.locator("#panel")
            expect(panel).to_be_visible()
            expect(panel.locator(".path")).to_have_text("Sabbatical.md")
            mark = panel.locator(".passage-text mark.quote")
            expect(mark).to_be_visible()
            quoted = mark.inner_text()
            assert "sabbatical" in quoted.lower() and quoted.strip() in sabbatical.read_text()
            link = panel.get_by_role("link", name="Download the document")
            href = link.get_attribute("href")
            assert href and href.startswith("/api/documents/")
            downloaded = page.request.get(base + href)
            assert downloaded.ok and downloaded.text() == sabbatical.read_text()
            page.screenshot(path=artifacts / "06-citation-panel.png", full_page=True)
            page.keyboard.press("Escape")
            expect(panel).to_be_hidden()
            expect(cite).to_be_focused()
            # every citation of the answer finds its own sentence in its own passage
            for i in range(answer.locator("button.cite").count()):
                answer.locator("button.cite").nth(i).click()
                expect(mark).to_be_visible()
                expect(answer).to_contain_text(mark.inner_text().strip())
                page.get_by_role("button", name="Close the source panel").click()
                expect(panel).to_be_hidden()

            # ---- feedback: thumbs up, recorded on the server for this answer
            answer.get_by_role("button", name="Helpful", exact=True).click()
            expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
            expect(answer.locator(".feedback-status")).to_contain_text("helpful")
            ratings = [f["rating"] for f in live_server.state.accounts.answers.feedback()]
            assert ratings == [1]

            # ---- the conversation goes on: the follow-up is a second turn of the same one
            question.fill("And how far in advance must I tell my team about it?")
            question.press("Enter")
            expect(page.locator("li.turn .answer[aria-busy='false']")).to_have_count(2)
            follow_up = page.locator("li.turn .answer").nth(1)
            expect(follow_up.locator(".rewritten")).to_contain_text("Searched for: How long is the paid sabbatical?")
            expect(follow_up).to_contain_text("4 weeks in advance")
            expect(page.locator(".conversation-list a")).to_have_count(1)
            expect(page.locator(".conversation-list a")).to_contain_text("2 turns")
            conversation = re.search(r"#/chat/.+", page.url)
            assert conversation, page.url
            page.screenshot(path=artifacts / "07-conversation.png")

            # ---- search: ranked passages with score, file and location
            page.get_by_role("link", name="Search").click()
            expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
            page.get_by_label("Search the documents").fill("sick days")
            page.get_by_role("button", name="Search", exact=True).click()
            hits = page.locator("li.hit")
            expect(hits.first).to_be_visible()
            expect(hits.first.locator(".score")).to_contain_text("score ")
            expect(page.locator(".hits")).to_contain_text("Vacation and Sick Leave.md")
            page.screenshot(path=artifacts / "08-search.png", full_page=True)

            # ---- a question the documents cannot answer shows up for the admins
            page.get_by_role("link", name="Chat").click()
            page.get_by_role("link", name="New conversation").click()
            expect(page.locator("li.turn")).to_have_count(0)
            question.fill("What is the office wifi password?")
            question.press("Enter")
            expect(page.locator("li.turn .answer[aria-busy='false']")).to_have_class(re.compile("abstained"))
            page.get_by_role("link", name="Unanswered").click()
            expect(page.get_by_role("heading", name="Unanswered questions")).to_be_visible()
            expect(page.locator("table")).to_contain_text("What is the office wifi password?")

            # ---- administration: a user, a member, a group, an API key shown once and revoked
            page.get_by_role("link", name="Admin").click()
            admin_nav = page.get_by_role("navigation", name="Administration")
            admin_nav.get_by_role("link", name="Users").click()
            expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
            page.get_by_label("Email").fill("ann@example.com")
            page.get_by_label("Password").fill("ann's long password")
            page.get_by_role("button", name="Create user").click()
            expect(page.locator("table")).to_contain_text("ann@example.com")
            page.get_by_label("Role of ann@example.com").select_option("editor")
            expect(page.locator("#announcer")).to_contain_text("ann@example.com is now editor")
            page.get_by_role("button", name="Disable ann@example.com").click()
            page.get_by_role("button", name="Enable ann@example.com").click()
            expect(page.get_by_role("button", name="Disable ann@example.com")).to_be_visible()
            assert not live_server.state.accounts.users.by_email("ann@example.com").disabled
            admin_nav.get_by_role("link", name="Workspaces").click()
            expect(page.get_by_role("heading", name="Workspaces", exact=True)).to_be_visible()
            card = page.locator("article.workspace[data-workspace='handbook']")
            card.get_by_label("Email").fill("ann@example.com")
            card.get_by_label("Role").select_option("editor")
            card.get_by_role("button", name="Add member").click()
            expect(card.locator("table")).to_contain_text("ann@example.com")
            expect(card.locator("table")).to_contain_text("editor")
            card.get_by_label("Public: anyone may ask it through the website widget").check()
            expect(page.locator("#announcer")).to_contain_text("handbook is now public")
            expect(card.get_by_text("Website widget snippet")).to_be_visible()
            admin_nav.get_by_role("link", name="Groups").click()
            expect(page.get_by_role("heading", name="Groups", exact=True)).to_be_visible()
            page.get_by_label("Name").fill("hr")
            page.get_by_role("button", name="Create group").click()
            page.locator("article.card", has_text="hr").get_by_label("Email").fill("ann@example.com")
            page.get_by_role("button", name="Add to group").click()
            expect(page.locator("article.card", has_text="hr")).to_contain_text("ann@example.com")
            page.get_by_role("link", name="API keys").click()
            expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
            page.get_by_label("Name").fill("intranet bot")
            page.get_by_label("handbook").check()
            page.get_by_role("button", name="Create key").click()
            key = page.get_by_label("New API key").input_value()
            assert key.startswith("dk_")
            searched = page.request.get(
                f"{base}/api/search?q=sabbatical&workspace=handbook", headers={"Authorization": f"Bearer {key}"}
            )
            assert searched.ok and searched.json()["hits"]
            page.screenshot(path=artifacts / "09-api-key.png", full_page=True)
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Revoke intranet bot").click()
            expect(page.locator("table")).to_contain_text("revoked")
            revoked = page.request.get(f"{base}/api/search?q=x", headers={"Authorization": f"Bearer {key}"})
            assert revoked.status == 401
            page.get_by_role("link", name="Admin").click()
            admin_nav.get_by_role("link", name="Usage").click()
            expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()
            expect(page.locator("table")).to_contain_text("handbook")
            admin_nav.get_by_role("link", name="Audit log").click()
            expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
            expect(page.locator("table")).to_contain_text("created workspace")
            expect(page.locator("table")).to_contain_text("revoked API key")
            page.screenshot(path=artifacts / "10-audit.png", full_page=True)

            # ---- with a model set for the workspace, the answer streams in piece by piece
            page.get_by_role("link", name="Admin").click()
            expect(page.get_by_role("heading", name="Workspaces", exact=True)).to_be_visible()
            card.get_by_text("Settings", exact=True).click()
            card.get_by_label("Model for answers").fill("fake")
            card.get_by_role("button", name="Save settings").click()
            expect(page.locator("#announcer")).to_contain_text("Settings of handbook saved")
            page.get_by_role("link", name="Chat").click()
            expect(page.locator("li.turn")).to_have_count(0)
            page.evaluate(COUNT_STREAMED_PIECES)
            question.fill("How long is the paid sabbatical?")
            question.press("Enter")
            streamed = page.locator("li.turn .answer[aria-busy='false']")
            expect(streamed).to_contain_text("Written by fake")
            assert page.evaluate("window.streamedPieces") > 3, "the answer was shown piece by piece as it streamed"
            expect(streamed.locator("button.cite")).to_have_count(1)
            streamed.locator("button.cite").click()
            expect(mark).to_be_visible()
            page.keyboard.press("Escape")

            # ---- documents: re-sync one (nothing changed), delete another
            page.get_by_role("link", name="Documents").click()
            expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
            page.get_by_role("button", name="Re-sync Sabbatical.md").click()
            expect(page.locator("li.job")).to_have_count(3)
            expect(page.locator("li.job[data-state='done']")).to_have_count(3, timeout=INDEX_TIMEOUT_MS)
            expect(page.locator("li.job").first).to_contain_text("unchanged")
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Delete Vacation and Sick Leave.md").click()
            expect(docs).not_to_contain_text("Vacation and Sick Leave.md")
            expect(docs).to_contain_text("Sabbatical.md")

            # ---- a phone-sized screen: the menu folds away behind a button; a past conversation
            # reopens with its citations
            page.set_viewport_size({"width": 390, "height": 844})
            page.evaluate("hash => { window.location.hash = hash; }", conversation.group(0))
            expect(page.locator("li.turn")).to_have_count(2)
            expect(page.locator("li.turn button.cite").first).to_be_visible()
            menu = page.get_by_role("button", name="Menu")
            expect(menu).to_be_visible()
            expect(page.locator("#nav")).to_be_hidden()
            page.screenshot(path=artifacts / "11-phone.png")
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            page.screenshot(path=artifacts / "12-phone-menu.png")

            # ---- sign out, then back in with the password
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            expect(page.locator("#shell")).to_be_hidden()
            assert page.request.get(f"{base}/api/me").status == 401
            page.set_viewport_size({"width": 1280, "height": 860})
            page.screenshot(path=artifacts / "13-signed-out.png")
            page.get_by_label("Email").fill(OWNER_EMAIL)
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_contain_text("wrong email or password")
            page.get_by_label("Password").fill(OWNER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#who")).to_contain_text("Olive Owner")
            expect(page.get_by_role("heading", name="Chat", exact=True)).to_be_focused()  # each view takes the focus
            url = page.url
            page.get_by_role("link", name="Skip to content").focus()
            page.keyboard.press("Enter")
            expect(page.locator("#main")).to_be_focused()
            assert page.url == url
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        finally:
            browser.close()
    assert not problems, problems


def test_the_api_reference_is_served_from_the_package_with_no_network(tmp_path: Path) -> None:
    """/docs loads Swagger UI from the server itself: no CDN, so it works offline and tells nobody
    else which admin opened it."""
    app = create_app(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}), start_jobs=False)
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # nothing from another site
        assets = re.findall(r"(?:src|href)=\"(/docs/assets/[^\"]+)\"", page.text)
        assert {a.rsplit("/", 1)[1] for a in assets} == {
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "docs.js",
            "favicon-32x32.png",
        }
        for asset in assets:
            r = client.get(asset)
            assert r.status_code == 200 and len(r.content) > 100, asset
        assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
        assert "/openapi.json" in client.get("/docs/assets/docs.js").text
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs/assets/..%2F..%2Fapp.py").status_code == 404
        assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered
    licence = WEB_ROOT.parent / "swagger" / "LICENSE"
    assert "Apache License" in licence.read_text() and (WEB_ROOT.parent / "swagger" / "NOTICE").is_file()


@pytest.mark.slow
def test_the_document_list_shows_how_well_each_file_was_read(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    """Parse quality in the library: pages, characters per page, readers, pages without text, each
    page on demand, and the totals of each source."""
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    st = live_server.state
    st.accounts.users.create(OWNER_EMAIL, OWNER_PASSWORD, "owner", name="Olive Owner")
    st.accounts.workspaces.create("library")
    folder = tmp_path / "library"
    folder.mkdir()
    pdfs = REPO / "tests" / "data" / "pdf"
    shutil.copy(pdfs / "clinical-protocol-NCT06149832.pdf", folder / "protocol.pdf")
    shutil.copy(pdfs / "scanned-NCT06155240.pdf", folder / "scan.pdf")
    assert st.kb.ingest([str(folder)], workspace="library").failed == []

    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=browser_tools.executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.goto(live_server.url)
            page.get_by_label("Email").fill(OWNER_EMAIL)
            page.get_by_label("Password").fill(OWNER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#who")).to_contain_text("Olive Owner")
            page.get_by_label("Workspace", exact=True).select_option("library")
            page.get_by_role("link", name="Documents").click()
            docs = page.locator("section[aria-labelledby='docs-title'] table")
            expect(docs.locator("th", has_text="Parse quality")).to_be_visible()
            scan = docs.locator("tr", has_text="scan.pdf").locator(".quality")
            expect(scan).to_contain_text("1 page")
            ocr = shutil.which("tesseract") is not None  # the OCR engine (CI installs it)
            if ocr:
                expect(scan.locator(".badge", has_text="OCR: p. 1")).to_be_visible()
                expect(scan).to_contain_text("read with tesseract")
            else:
                expect(scan.locator(".badge.warn")).to_have_text("no text: p. 1")
            protocol = docs.locator("tr", has_text="protocol.pdf").locator(".quality")
            expect(protocol).to_contain_text("6 pages")
            expect(protocol).to_contain_text("read with pypdfium2")
            protocol.locator("details.quality-pages > summary").click()
            rows = protocol.locator(".pages-box tbody tr")
            expect(rows).to_have_count(6)
            expect(rows.first).to_contain_text("pypdfium2")
            scan.locator("details.quality-pages > summary").click()
            expect(scan.locator(".pages-box tbody tr")).to_contain_text(
                "OCR, confidence" if ocr else "image only (scanned?)"
            )
            # the source's totals under the list (an admin sees the folder's path)
            totals = page.locator(".source-quality li", has_text=str(folder))
            expect(totals).to_contain_text("2 files · 7 pages")
            if ocr:
                expect(totals).to_contain_text("1 read by OCR (confidence ")
            else:
                expect(totals.locator(".warn-text")).to_have_text("1 page without text")
            page.screenshot(path=artifacts / "20-parse-quality.png", full_page=True)
        finally:
            browser.close()
    assert not problems, problems


def test_a_job_lists_the_files_that_failed_before_and_retry_parses_them_again(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    st = live_server.state
    st.accounts.users.create(OWNER_EMAIL, OWNER_PASSWORD, "owner", name="Olive Owner")
    st.accounts.workspaces.create("library")
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")

    def run_job() -> int:
        job_id = st.jobs.submit("library", None, [{"path": str(folder), "access": []}])
        deadline = time.monotonic() + 120  # a hang guard, not a speed assertion
        while st.accounts.jobs.get(job_id)["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, f"job {job_id} did not finish"
            time.sleep(0.05)
        return job_id

    run_job()
    second = run_job()
    assert st.kb._sandbox is not None and st.kb._sandbox.parsed == 1  # the second job did not parse it

    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=browser_tools.executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.goto(live_server.url)
            page.get_by_label("Email").fill(OWNER_EMAIL)
            page.get_by_label("Password").fill(OWNER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#who")).to_contain_text("Olive Owner")
            page.get_by_label("Workspace", exact=True).select_option("library")
            page.get_by_role("link", name="Documents").click()
            job = page.locator(f"li.job[data-job='{second}']")
            expect(job.locator(".badge")).to_have_text("done with errors")
            expect(job.locator("ul.failed-before")).to_contain_text("broken.pdf")
            expect(job.locator("ul.failed-before")).to_contain_text("not parsed again")
            page.screenshot(path=artifacts / "21-failed-before.png", full_page=True)
            job.get_by_role("button", name="Retry").click()
            expect(job.locator("ul.failures:not(.failed-before)")).to_contain_text("broken.pdf")
            expect(job.locator("ul.failed-before")).to_have_count(0)
        finally:
            browser.close()
    assert not problems, problems
    assert st.kb._sandbox.parsed == 2  # Retry parsed it again
