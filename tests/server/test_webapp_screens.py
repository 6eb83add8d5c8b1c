"""The web app on a phone, a tablet and a desktop: every page fits the screen's width, panels close
by touch, the documents list pages and searches through the server, and answers are Markdown
rendered safely with their citations in order.

Same harness as :mod:`tests.server.test_webapp` (its fixtures: Debian's Chromium through Playwright
against a real uvicorn server); screenshots go to the same artifacts folder.
"""

# The harness's fixtures are imported by name, and tests take them as arguments of the same name.
# ruff: noqa: F811

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO
from tests.server.test_webapp import (  # noqa: F401 - fixtures, used by name
    OWNER_EMAIL,
    OWNER_PASSWORD,
    TIMEOUT_MS,
    Browser,
    LiveServer,
    artifacts,
    browser_tools,
    live_server,
)

WIDTHS = (375, 768, 1280)
NOTES = 130  # more than a page of the documents list holds
LONG_NAME = "Quarterly-operations-review-for-the-northern-region-" + "and-its-subsidiaries-" * 5 + "final.md"
LONG_URL = "https://www.example.com/" + "a-very-long-path-segment-without-any-spaces-" * 6
VIEWS = (
    "chat",
    "search",
    "documents",
    "unanswered",
    "gaps",
    "reviews",
    "admin/workspaces",
    "admin/users",
    "admin/groups",
    "admin/usage",
    "admin/sources",
    "admin/audit",
    "keys",
)

# an answer as the server sends it: Markdown, citations numbered 1..n in order of first use, and
# things that must never run or reach the page as markup
ANSWER = {
    "answer": (
        "# Paid sabbatical\n\n"
        "Employees get **12 contiguous weeks** of paid sabbatical [1].\n\n"
        "- after *five years* of service [2]\n"
        "- see [the policy](https://www.example.com/policy) and " + LONG_URL + "\n\n"
        "| Years | Weeks |\n|---|---|\n| 5 | 12 |\n| 10 | 12 |\n\n"
        '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
        "[click](javascript:window.pwned=3) `code [1]` and again [1]."
    ),
    "citations": [
        {
            "n": 1,
            "path": "Sabbatical.md",
            "title": "Sabbatical",
            "quote": "12 contiguous weeks",
            "location": {"label": "§ Paid sabbatical"},
            "supported": True,
        },
        {
            "n": 2,
            "path": LONG_NAME,
            "title": "Operations review",
            "quote": "five years",
            "location": {"label": "p. 3"},
            "supported": True,
        },
    ],
    "sources": [
        {"chunk_id": None, "path": "Sabbatical.md", "title": "Sabbatical", "text": "You get 12 contiguous weeks."},
        {"chunk_id": None, "path": LONG_NAME, "title": "Operations review", "text": "After five years of service."},
    ],
    "abstained": False,
    "log_id": None,
}

FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
WIDEST = """() => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map((el) => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""


def _library(live_server: LiveServer, tmp_path: Path) -> None:
    """The owner, a workspace and a library of many small files, long names and a real policy."""
    st = live_server.state
    st.accounts.users.create(OWNER_EMAIL, OWNER_PASSWORD, "owner", name="Olive Owner")
    st.accounts.workspaces.create("handbook")
    folder = tmp_path / "library"
    folder.mkdir()
    for i in range(NOTES):
        (folder / f"note-{i:03d}.md").write_text(f"# Note {i}\n\nMeeting note number {i} about the office.\n")
    (folder / LONG_NAME).write_text(f"# Operations review\n\nSee {LONG_URL} for the figures.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    shutil.copy(DEMO / "Benefits and Perks" / "Sabbatical.md", folder / "Sabbatical.md")
    st.kb.ingest([str(folder)], workspace="handbook")


def _launch(pw: Any, browser_tools: Browser) -> Any:
    return pw.chromium.launch(
        executable_path=browser_tools.executable,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def _sign_in(page: Any, base: str, expect: Any) -> None:
    page.goto(base)
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_contain_text("Olive Owner")
    page.get_by_label("Workspace", exact=True).select_option("handbook")


def _watch(page: Any, problems: list[str]) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "status of 401" not in msg.text  # /api/me before signing in
            else None
        ),
    )


def _ask_routed(page: Any, expect: Any, answer: dict[str, Any] = ANSWER) -> Any:
    """Ask in the chat with the server's answer replaced by ``answer``; the finished answer."""
    page.route(re.compile(r".*/api/chat$"), lambda route: route.fulfill(json=answer))
    page.evaluate("() => { window.location.hash = '#/chat'; }")
    question = page.get_by_label("Your question")
    question.fill("How long is the paid sabbatical?")
    question.press("Enter")
    done = page.locator("li.turn .answer[aria-busy='false']").last
    expect(done.locator("ol.citations")).to_be_visible()
    page.unroute(re.compile(r".*/api/chat$"))
    return done


@pytest.mark.slow
def test_every_page_fits_a_phone_a_tablet_and_a_desktop(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    _library(live_server, tmp_path)
    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = _launch(pw, browser_tools)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            _watch(page, problems)
            _sign_in(page, live_server.url, expect)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                for view in VIEWS:
                    page.evaluate("hash => { window.location.hash = hash; }", f"#/{view}")
                    expect(page.locator("#main:not([aria-busy]) h1")).to_be_visible()
                    if view == "search":
                        page.get_by_label("Search the documents").fill("office meeting note")
                        page.get_by_role("button", name="Search", exact=True).click()
                        expect(page.locator("ol.hits li").first).to_be_visible()
                    if view == "documents":
                        expect(page.locator("table.doc-table")).to_contain_text("note-000.md")
                        # each source's parse-quality totals, its server path wrapping on a phone
                        totals = page.locator(".source-quality li")
                        expect(totals).to_contain_text(f"{tmp_path / 'library'}: {NOTES + 2} files")
                        page.locator(".source-quality").screenshot(path=artifacts / f"34-source-quality-{width}.png")
                    assert page.evaluate(FITS), f"{view} at {width} px is wider: {page.evaluate(WIDEST)}"
                # a long answer with a table and a long URL, then its citation's passage
                answer = _ask_routed(page, expect)
                assert page.evaluate(FITS), f"an answer at {width} px is wider: {page.evaluate(WIDEST)}"
                answer.locator("button.cite").first.click()
                expect(page.locator("#panel")).to_be_visible()
                assert page.evaluate(FITS), f"the panel at {width} px is wider: {page.evaluate(WIDEST)}"
                page.screenshot(path=artifacts / f"30-answer-panel-{width}.png")
                page.keyboard.press("Escape")
                expect(page.locator("#panel")).to_be_hidden()

                # the menu: on one line at 1280 px, behind a Menu button on smaller screens
                menu = page.get_by_role("button", name="Menu")
                if width >= 1280:
                    expect(menu).to_be_hidden()
                    tops = page.eval_on_selector_all("#nav-links li", "els => els.map((el) => el.offsetTop)")
                    assert len(tops) >= 8 and len(set(tops)) == 1, f"the menu wraps at {width} px: {tops}"
                    bar = page.locator(".topbar").bounding_box()
                    assert bar and bar["height"] < 70, f"the top bar is {bar} at {width} px"
                else:
                    expect(menu).to_be_visible()
                    expect(page.locator("#nav")).to_be_hidden()
                    menu.click()
                    expect(page.get_by_role("link", name="Documents")).to_be_visible()
                    assert page.evaluate(FITS)
                    menu.click()
                page.screenshot(path=artifacts / f"31-chat-{width}.png")

            # a real answer from the handbook, on a phone
            page.set_viewport_size({"width": 375, "height": 800})
            page.evaluate("() => { window.location.hash = '#/chat'; }")
            question = page.get_by_label("Your question")
            question.fill("How long is the paid sabbatical and who is eligible?")
            question.press("Enter")
            real = page.locator("li.turn", has_text="who is eligible").locator(".answer[aria-busy='false']")
            expect(real.locator("button.cite").first).to_be_visible()
            expect(real).to_contain_text("sabbatical")
            assert page.evaluate(FITS), f"a real answer at 375 px is wider: {page.evaluate(WIDEST)}"
            page.screenshot(path=artifacts / "31-chat-real-375.png", full_page=True)
        finally:
            browser.close()
    assert not problems, problems


@pytest.mark.slow
def test_the_passage_panel_closes_by_touch(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    _library(live_server, tmp_path)
    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = _launch(pw, browser_tools)
        try:
            context = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
            page = context.new_page()
            _watch(page, problems)
            _sign_in(page, live_server.url, expect)
            answer = _ask_routed(page, expect)
            cite = answer.locator("button.cite").first
            panel = page.locator("#panel")
            close = page.get_by_role("button", name="Close the source panel")

            cite.tap()
            expect(panel).to_be_visible()
            expect(panel.locator("mark.quote")).to_have_text("12 contiguous weeks")
            expect(close).to_be_visible()
            box = close.bounding_box()
            assert box and box["width"] >= 40 and box["height"] >= 40  # big enough for a finger
            assert box["x"] + box["width"] <= 375 and box["y"] >= 0  # on screen
            page.screenshot(path=artifacts / "32-panel-phone.png")
            close.tap()
            expect(panel).to_be_hidden()

            cite.tap()
            expect(panel).to_be_visible()
            panel_box = panel.bounding_box()
            assert panel_box and panel_box["x"] > 10
            page.touchscreen.tap(5, 400)  # outside the panel, on the dimmed page
            expect(panel).to_be_hidden()
            expect(page.locator("#panel-backdrop")).to_be_hidden()

            answer.locator("ol.citations button").nth(1).tap()  # from the list of citations
            expect(panel).to_be_visible()
            expect(panel.locator(".path")).to_have_text(ANSWER["citations"][1]["path"])  # type: ignore[index]
            page.keyboard.press("Escape")
            expect(panel).to_be_hidden()
        finally:
            browser.close()
    assert not problems, problems


@pytest.mark.slow
def test_answers_are_markdown_rendered_safely_with_citations_in_order(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    _library(live_server, tmp_path)
    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = _launch(pw, browser_tools)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            _watch(page, problems)
            _sign_in(page, live_server.url, expect)
            answer = _ask_routed(page, expect)
            text = answer.locator(".answer-text")
            expect(text.locator("h3")).to_have_text("Paid sabbatical")  # under the view's h1
            expect(text.locator("strong")).to_have_text("12 contiguous weeks")
            expect(text.locator("ul > li")).to_have_count(2)
            expect(text.locator("em")).to_have_text("five years")
            link = text.get_by_role("link", name="the policy")
            expect(link).to_have_attribute("href", "https://www.example.com/policy")
            expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
            expect(text.locator(f"a[href='{LONG_URL}']")).to_have_count(1)  # a bare URL becomes a link
            expect(text.locator("table th")).to_have_count(2)
            expect(text.locator(".table-wrap table tbody tr")).to_have_count(2)
            # nothing from the source runs or becomes markup: shown as text, at most
            assert page.evaluate("() => window.pwned") is None
            assert page.locator("#main script, #main img, #main [onerror]").count() == 0
            assert page.locator("#main a[href^='javascript']").count() == 0
            expect(text).to_contain_text("<script>window.pwned = 1</script>")
            # the server's numbers, in the order it gave them; [1] inside code is code
            numbers = text.locator("button.cite").evaluate_all("els => els.map((el) => el.dataset.n)")
            assert numbers == ["1", "2", "1"]
            expect(text.locator("code")).to_have_text("code [1]")
            items = answer.locator("ol.citations > li")
            assert items.evaluate_all("els => els.map((el) => el.dataset.n)") == ["1", "2"]
            expect(items.nth(0)).to_contain_text("Sabbatical")
            expect(items.nth(0)).to_contain_text("§ Paid sabbatical")
            expect(items.nth(0).locator("q")).to_have_text("12 contiguous weeks")
            expect(items.nth(1)).to_contain_text("Operations review")
            expect(items.nth(1)).to_contain_text("p. 3")
            page.screenshot(path=artifacts / "33-markdown-answer.png", full_page=True)
            text.locator("button.cite").nth(1).click()
            expect(page.locator("#panel mark.quote")).to_have_text("five years")
            text.locator("button.cite").nth(0).click()  # another citation while the panel is open
            expect(page.locator("#panel mark.quote")).to_have_text("12 contiguous weeks")
            page.get_by_role("heading", name="Chat", exact=True).click()  # a click outside the side panel
            expect(page.locator("#panel")).to_be_hidden()

            # search with no hits: the server's message and suggestions, each a query to run
            no_hits = {"query": "zzqx", "hits": [], "message": "No documents match", "suggestions": ["sabbatical"]}
            page.route(
                re.compile(r".*/api/search\?q=zzqx.*"),
                lambda route: route.fulfill(body=json.dumps(no_hits), content_type="application/json"),
            )
            page.get_by_role("link", name="Search").click()
            page.get_by_label("Search the documents").fill("zzqx")
            page.get_by_role("button", name="Search", exact=True).click()
            expect(page.locator(".no-match")).to_contain_text("No documents match for “zzqx”")
            page.locator(".no-match").get_by_role("link", name="sabbatical").click()
            expect(page.get_by_label("Search the documents")).to_have_value("sabbatical")
            expect(page.locator("ol.hits li").first).to_contain_text("Sabbatical.md")
        finally:
            browser.close()
    assert not problems, problems


@pytest.mark.slow
def test_the_documents_list_pages_and_searches_through_the_server(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    _library(live_server, tmp_path)
    archive = tmp_path / "archive"  # a second source, listed before the library (by source, then path)
    archive.mkdir()
    for name in ("archived-minutes.md", "archived-plan.md"):
        (archive / name).write_text("Old minutes.\n")
    live_server.state.kb.ingest([str(archive)], workspace="handbook")
    total = NOTES + 2 + 2
    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = _launch(pw, browser_tools)
        try:
            page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
            _watch(page, problems)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url) if "/api/documents?" in r.url else None)
            _sign_in(page, live_server.url, expect)
            page.evaluate("() => { window.location.hash = '#/documents'; }")
            docs = page.locator("section[aria-labelledby='docs-title']")
            rows = docs.locator("table.doc-table tbody tr")
            expect(docs.locator("caption")).to_have_text(f"{total} documents")
            expect(rows).to_have_count(20)  # on a phone, 20 cards a page
            expect(docs.locator(".page-status")).to_have_text(f"1–20 of {total} · page 1 of 7")
            expect(docs.get_by_role("button", name="Previous page")).to_be_disabled()
            assert page.evaluate(FITS)
            caption = docs.locator("caption").bounding_box()
            assert caption and caption["height"] < 40, caption  # one line, not a letter a line
            docs.locator("caption").scroll_into_view_if_needed()
            page.screenshot(path=artifacts / "34-documents-phone.png")
            docs.get_by_role("button", name="Next page").click()
            expect(docs.locator(".page-status")).to_have_text(f"21–40 of {total} · page 2 of 7")
            expect(rows.first).to_contain_text("note-016.md")  # the archive, the long name, Sabbatical, notes
            expect(docs.get_by_role("button", name="Previous page")).to_be_enabled()
            page.set_viewport_size({"width": 1280, "height": 800})
            page.evaluate("() => { window.location.hash = '#/search'; }")
            page.evaluate("() => { window.location.hash = '#/documents'; }")
            expect(docs.locator(".page-status")).to_have_text(f"1–50 of {total} · page 1 of 3")
            for _ in range(2):
                docs.get_by_role("button", name="Next page").click()
            expect(docs.locator(".page-status")).to_have_text(f"101–{total} of {total} · page 3 of 3")
            expect(rows).to_have_count(total - 100)
            expect(docs.get_by_role("button", name="Next page")).to_be_disabled()

            page.get_by_label("Search documents").fill("NOTE-12")
            expect(docs.locator("caption")).to_have_text("10 documents match")
            expect(rows).to_have_count(10)
            expect(docs.locator(".pager button")).to_have_count(0)  # one page: no pager
            assert any("q=NOTE-12" in url and "page=1" in url for url in requests)  # the server searched

            page.get_by_label("Search documents").fill("")
            page.get_by_label("Status").select_option("failed")
            expect(page.locator("ul.failures")).to_contain_text("broken.pdf")
            expect(docs.locator("table")).to_have_count(0)
            page.get_by_label("Status").select_option("")
            page.get_by_label("Type").select_option("pdf")
            expect(docs.locator(".empty")).to_have_text("No documents match.")
            page.get_by_label("Type").select_option("md")
            expect(docs.locator("caption")).to_have_text(f"{total} documents match")
            page.get_by_label("Type").select_option("")
            source = docs.get_by_label("Source", exact=True)  # the owner sees the sources: two here
            expect(source.locator("option")).to_have_text(["All sources", "archive", "library"])
            source.select_option(label="archive")
            expect(docs.locator("caption")).to_have_text("2 documents match")
            source.select_option(label="library")
            expect(docs.locator("caption")).to_have_text(f"{total - 2} documents match")
            assert page.evaluate(FITS)
        finally:
            browser.close()
    assert not problems, problems


UPLOAD_REPLY = {
    "job": None,
    "files": [
        {"name": "Sabbatical.md", "stored_as": "Sabbatical (2).md", "status": "renamed", "reason": None},
        {"name": "empty.txt", "stored_as": None, "status": "skipped", "reason": "the file is empty"},
    ],
    "warnings": ["empty.txt: skipped, the file is empty"],
}
JOB_WITH_FILES = {
    "id": 7,
    "workspace": "handbook",
    "state": "running",
    "progress": {
        "done": 1,
        "total": 2,
        "file": "b.md",
        "eta_seconds": None,
        "files": [
            {"name": "a.md", "state": "done", "error": None},
            {"name": "b.md", "state": "queued", "error": None},
        ],
    },
    "report": None,
    "error": None,
    "created": 1_700_000_000.0,
    "started": 1_700_000_001.0,
    "finished": None,
}


@pytest.mark.slow
def test_an_upload_offers_keep_both_or_replace_and_shows_each_file(
    browser_tools: Browser, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    """The choice for a name that exists goes to the server as if_exists; what it did with each file
    and each file's state in the job are shown (the server's answers are stood in for here: the
    server side has its own tests)."""
    expect = browser_tools.sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    _library(live_server, tmp_path)
    upload = tmp_path / "upload" / "Sabbatical.md"
    upload.parent.mkdir()
    upload.write_text("A new version.\n")
    sent: list[str] = []

    def reply(route: Any) -> None:
        sent.append(route.request.post_data or "")
        route.fulfill(status=202, json=UPLOAD_REPLY)

    problems: list[str] = []
    with browser_tools.sync_api.sync_playwright() as pw:
        browser = _launch(pw, browser_tools)
        try:
            page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
            _watch(page, problems)
            _sign_in(page, live_server.url, expect)
            page.route(re.compile(r".*/api/workspaces/handbook/documents$"), reply)
            page.route(re.compile(r".*/api/jobs\?.*"), lambda route: route.fulfill(json={"jobs": [JOB_WITH_FILES]}))
            page.evaluate("() => { window.location.hash = '#/documents'; }")
            expect(page.get_by_label("Keep both (the new one is renamed)")).to_be_checked()
            page.get_by_label("Replace it").check()
            page.get_by_label("Files").set_input_files(str(upload))
            page.get_by_role("button", name="Upload").click()
            outcomes = page.locator("ul.file-outcomes")
            expect(outcomes.locator("li[data-status='renamed']")).to_contain_text("stored as Sabbatical (2).md")
            expect(outcomes.locator("li[data-status='skipped']")).to_contain_text("skipped: the file is empty")
            expect(page.locator(".upload-results .warning")).to_contain_text("empty.txt: skipped")
            assert re.search(r'name="if_exists"\r\n\r\nreplace\r\n', sent[0]), sent[0][:400]
            files = page.locator("li.job[data-job='7'] ul.job-files li")
            expect(files).to_have_count(2)
            expect(files.nth(0)).to_contain_text("a.md indexed")
            expect(files.nth(1)).to_contain_text("b.md waiting")
            assert page.evaluate(FITS)
            page.screenshot(path=artifacts / "35-upload-outcome-phone.png", full_page=True)
        finally:
            browser.close()
    assert not problems, problems
