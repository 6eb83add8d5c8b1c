"""The web app's Review page in a real browser: the owner signs in, opens two parked drafts,
approves one with an edit and rejects the other; the stats show 50% acceptance and the draft's
``then_webhook`` (a loopback receiver) gets the edited text.

Like tests/server/test_webapp.py it drives Debian's Chromium through Playwright against a real
uvicorn server and skips, saying why, without them. Screenshots go to
``tests/server/artifacts/review/`` (or ``$DOCKET_TEST_ARTIFACTS/review``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from docket.workflows.review import ReviewQueue
from tests.conftest import REPO
from tests.server.test_webapp import (  # noqa: F401  (fixtures)
    OWNER_EMAIL,
    OWNER_PASSWORD,
    TIMEOUT_MS,
    Browser,
    LiveServer,
    browser_tools,
    live_server,
)
from tests.workflows.test_review import receiver

ARTIFACTS = Path(os.environ.get("DOCKET_TEST_ARTIFACTS") or REPO / "tests" / "server" / "artifacts") / "review"

CITATION = {
    "n": 1,
    "path": "returns.md",
    "location": {"label": "Returns policy"},
    "quote": "Customers may return any unused item within 30 days of delivery for a full refund.",
}
REFUND_DRAFT = {
    "draft": "Hello Ana, you may return the unused jacket within 30 days for a full refund [1].",
    "citations": [CITATION],
    "confidence": 0.82,
    "sentiment": "neutral",
    "escalate": False,
    "reason": None,
}
DISCOUNT_DRAFT = {
    "draft": "Hello Luis, we will give you a 50% discount on your next order.",
    "citations": [],
    "confidence": 0.31,
    "sentiment": "angry",
    "escalate": True,
    "reason": "the customer is upset (angry)",
}
EDITED = "Hello Ana, you may return the unused jacket within 30 days of delivery for a full refund [1]. Best, Olive"


@pytest.mark.slow
def test_the_owner_approves_an_edited_draft_and_rejects_another(
    browser_tools: Browser,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
) -> None:
    sync_api = browser_tools.sync_api
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    accounts = live_server.state.accounts
    accounts.users.create(OWNER_EMAIL, OWNER_PASSWORD, "owner", name="Olive Owner")
    accounts.workspaces.create("support")

    problems: list[str] = []
    with receiver() as hook:
        with ReviewQueue.for_home(live_server.state.settings.home) as queue:
            refund = queue.add(
                "support-reply",
                REFUND_DRAFT,
                title="Returning a jacket",
                workspace="support",
                webhook=f"{hook.url}/tickets/101/reply",
            )
            discount = queue.add("support-reply", DISCOUNT_DRAFT, title="Where is my order?", workspace="support")

        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=browser_tools.executable,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
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

                # ---- sign in, open the Review page from the menu
                page.goto(live_server.url)
                page.get_by_label("Email").fill(OWNER_EMAIL)
                page.get_by_label("Password").fill(OWNER_PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page.locator("#who")).to_contain_text("Olive Owner")
                page.get_by_role("link", name="Review", exact=True).click()
                expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
                pending = page.locator(".review-list li")
                expect(pending).to_have_count(2)
                page.screenshot(path=ARTIFACTS / "01-pending.png", full_page=True)

                # ---- open the refund draft: its text, citation and other fields; edit and approve
                page.get_by_role("link", name=re.compile("Returning a jacket")).click()
                heading = page.get_by_role("heading", name="Returning a jacket")
                expect(heading).to_be_focused()
                draft = page.locator("article.review-draft")
                expect(draft.locator(".review-citations")).to_contain_text("returns.md")
                expect(draft.locator(".review-citations")).to_contain_text("within 30 days of delivery")
                reply = page.get_by_label("Reply text")
                expect(reply).to_have_value(REFUND_DRAFT["draft"])  # type: ignore[arg-type]
                fields = page.get_by_label("Other fields (JSON)")
                expect(fields).to_contain_text('"confidence": 0.82')
                reply.fill(EDITED)
                page.screenshot(path=ARTIFACTS / "02-editing.png", full_page=True)
                page.get_by_role("button", name="Approve").click()
                expect(page.locator("#announcer")).to_contain_text("Draft approved with your edits.")
                expect(pending).to_have_count(1)
                expect(page.get_by_role("heading", name="Review", exact=True)).to_be_focused()

                # ---- open the other one with the keyboard and reject it with a reason
                link = page.get_by_role("link", name=re.compile("Where is my order"))
                link.focus()
                page.keyboard.press("Enter")
                expect(page.get_by_role("heading", name="Where is my order?")).to_be_focused()
                page.get_by_label("Reason for rejecting").fill("Promises a discount we do not offer")
                page.get_by_role("button", name="Reject").click()
                expect(page.locator("#announcer")).to_contain_text("Draft rejected.")
                expect(page.locator(".review-list")).to_have_count(0)
                expect(page.get_by_text("No drafts are waiting for review.")).to_be_visible()

                # ---- the stats: one of two accepted
                stats = page.locator("section[aria-labelledby='reviews-stats-title'] table")
                row = stats.locator("tbody tr", has_text="support-reply")
                expect(row.locator("td").nth(5)).to_have_text("50%")
                expect(row.locator("td").nth(3)).to_have_text("1")
                expect(row.locator("td").nth(4)).to_have_text("1")
                page.screenshot(path=ARTIFACTS / "03-stats.png", full_page=True)
            finally:
                browser.close()

    # the help desk received the edited reply, with the fields the reviewer left alone
    assert len(hook.requests) == 1
    sent = hook.requests[0]
    assert sent["path"] == "/tickets/101/reply"
    assert sent["body"] == {**REFUND_DRAFT, "draft": EDITED}
    with ReviewQueue.for_home(live_server.state.settings.home) as queue:
        approved, rejected = queue.get(refund), queue.get(discount)
    assert approved.status == "edited" and approved.reviewer == OWNER_EMAIL and approved.delivery == "sent: HTTP 200"
    assert rejected.status == "rejected" and rejected.comment == "Promises a discount we do not offer"
    actions = {(e["action"], e["target"]) for e in accounts.audit.log(20)}
    assert {("review.edited", f"review:{refund}"), ("review.rejected", f"review:{discount}")} <= actions
    assert problems == []
