"""The admin sources API: list, add a website, sync it in the background, remove it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app
from tests.ingest.sources.site import Site, serve


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    settings = load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}})
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        accounts = app.state.docket.accounts
        owner = accounts.users.create("owner@example.com", "owner-password", "owner")
        member = accounts.users.create("mia@example.com", "mia-password", "member")
        owner_auth = {"Authorization": f"Bearer {accounts.keys.create(owner.id)[1]}"}
        member_auth = {"Authorization": f"Bearer {accounts.keys.create(member.id)[1]}"}
        yield client, owner_auth, member_auth


def _wait_synced(client: TestClient, auth: dict[str, str], name: str) -> dict[str, Any]:
    for _ in range(200):
        row = next(s for s in client.get("/api/admin/sources", headers=auth).json()["sources"] if s["name"] == name)
        if not row["syncing"] and row.get("last_run"):
            return row
        time.sleep(0.05)
    raise AssertionError(f"{name} did not finish syncing")


def _web(site: Site, **more: Any) -> dict[str, Any]:
    return {
        "type": "web",
        "name": "intranet",
        "settings": {"url": site.base + "/", "allow_private": True, "delay": 0},
        **more,
    }


def test_add_sync_list_and_remove_a_website(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, owner, _ = api
    with serve() as site:
        created = client.post("/api/admin/sources", json=_web(site, schedule="*/30 * * * *"), headers=owner)
        assert created.status_code == 201 and created.json()["schedule"] == "*/30 * * * *"
        started = client.post("/api/admin/sources/intranet/sync", headers=owner)
        assert started.status_code == 202
        row = _wait_synced(client, owner, "intranet")
    assert row["documents"] == 5 and row["last_result"]["added"] == 5 and row["last_error"] is None
    assert row["next_run"] > row["last_run"] and "checkpoint" not in row
    # the site is gone now: the error is shown, nothing is removed
    assert client.post("/api/admin/sources/intranet/sync", headers=owner).status_code == 202
    row = _wait_synced(client, owner, "intranet")
    assert "cannot connect" in row["last_error"] and row["documents"] == 5
    assert client.delete("/api/admin/sources/intranet", headers=owner).json() == {"removed": "intranet"}
    assert client.get("/api/admin/sources", headers=owner).json()["sources"] == []


def test_the_server_syncs_a_source_when_its_schedule_is_due(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, owner, _ = api
    scheduler = client.app.state.docket.scheduler  # type: ignore[attr-defined]
    with serve() as site:
        assert (
            client.post("/api/admin/sources", json=_web(site, schedule="*/5 * * * *"), headers=owner).status_code == 201
        )
        listed = next(s for s in client.get("/api/admin/sources", headers=owner).json()["sources"])
        assert listed["documents"] == 0
        # the periodic "sources" job is due within a minute; the source itself by its own cron
        ran = scheduler.tick(time.time() + 6 * 60)
        assert "sources" in ran
    row = next(s for s in client.get("/api/admin/sources", headers=owner).json()["sources"])
    assert row["documents"] == 5 and row["last_result"]["added"] == 5
    job = next(s for s in scheduler.listing() if s["name"] == "sources")
    assert job["registered"] and job["last_error"] is None


def test_members_may_not_manage_sources(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, _, member = api
    assert client.get("/api/admin/sources", headers=member).status_code == 403
    body = {"type": "web", "name": "x", "settings": {"url": "https://example.com/"}}
    assert client.post("/api/admin/sources", json=body, headers=member).status_code == 403


def test_bad_sources_are_refused_with_the_reason(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, owner, _ = api
    unknown = client.post("/api/admin/sources", json={"type": "gopher", "name": "g"}, headers=owner)
    assert unknown.status_code == 400 and "unknown connector 'gopher'" in unknown.json()["error"]["message"]
    bad = client.post(
        "/api/admin/sources", json={"type": "web", "name": "w", "settings": {"url": "ftp://x/"}}, headers=owner
    )
    assert bad.status_code == 400 and "http:// or https://" in bad.json()["error"]["message"]
    missing = client.post("/api/admin/sources/nope/sync", headers=owner)
    assert missing.status_code == 404


# ---------------------------------------------------------------------------------------- browser


@pytest.mark.slow
def test_an_admin_adds_syncs_and_removes_sources_in_the_browser(tmp_path: Path) -> None:
    import os
    import shutil
    import threading

    executable = next(
        (
            c
            for c in (os.environ.get("DOCKET_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))
            if c and Path(c).is_file()
        ),
        None,
    )
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set DOCKET_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    import json
    import sqlite3

    import uvicorn

    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, "Ana", 10.5), (2, "Bo", 20.0), (3, "Cy", 5.25)])
    db.close()
    app = create_app(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}))
    app.state.docket.accounts.users.create("owner@example.com", "a long owner password", "owner")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1200):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    expect = sync_api.expect
    expect.set_options(timeout=60_000)
    problems: list[str] = []
    try:
        with serve() as site, sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=["--headless", "--no-sandbox"])
            page = browser.new_page()
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(base + "/")
            page.get_by_label("Email").fill("owner@example.com")
            page.get_by_label("Password").fill("a long owner password")
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#who")).to_contain_text("owner")
            page.goto(base + "/#/admin/sources")
            expect(page.get_by_role("heading", name="Sources", exact=True)).to_be_visible()
            expect(page.get_by_text("No sources yet")).to_be_visible()
            page.get_by_label("Start page or sitemap").fill(site.base + "/")
            page.get_by_label("Name", exact=True).fill("intranet")
            page.get_by_label("Allow private addresses (an intranet)").check()
            page.get_by_label("Schedule (cron)", exact=True).fill("0 * * * *")
            page.get_by_role("button", name="Add website").click()
            row = page.locator("tr", has_text="intranet")
            expect(row).to_contain_text("not synced yet")
            row.get_by_role("button", name="Sync now").click()
            expect(row).to_contain_text("5 added", timeout=60_000)
            expect(row.locator("td").nth(3)).to_have_text("5")
            page.once("dialog", lambda dialog: dialog.accept())
            row.get_by_role("button", name="Remove").click()
            expect(page.get_by_text("No sources yet")).to_be_visible()
            # a database through the mailbox-or-database form: settings as JSON
            page.get_by_label("Kind").select_option("sql")
            page.get_by_label("Source name").fill("shop")
            page.get_by_label("Settings (JSON)").fill("{not json")
            page.get_by_role("button", name="Add source").click()
            expect(page.get_by_text("Settings: not valid JSON")).to_be_visible()
            settings = json.dumps({"url": f"sqlite:///{shop}", "table": "orders"})
            page.get_by_label("Settings (JSON)").fill(settings)
            page.get_by_role("button", name="Add source").click()
            row = page.locator("tr", has_text="shop")
            expect(row).to_contain_text("not synced yet")
            row.get_by_role("button", name="Sync now").click()
            expect(row).to_contain_text("3 added", timeout=60_000)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(30)
    assert problems == []


def test_a_folder_source_is_removed_through_the_api(tmp_path: Path) -> None:
    """Folder sources are named by their path: the route takes a name with slashes."""
    from urllib.parse import quote

    from fastapi.testclient import TestClient

    from docket.config import load_settings
    from docket.server.app import create_app

    docs = tmp_path / "shared drive" / "policies"
    docs.mkdir(parents=True)
    (docs / "leave.txt").write_text("Parental leave is twelve weeks.")
    app = create_app(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}), start_jobs=False)
    with TestClient(app) as client:
        st = app.state.docket
        owner = st.accounts.users.create("owner@example.com", "owner-password", "owner")
        auth = {"Authorization": f"Bearer {st.accounts.keys.create(owner.id)[1]}"}
        st.kb.ingest([str(docs)])
        [name] = st.kb.ledger.sources()
        assert "/" in name
        listed = client.get("/api/admin/sources", headers=auth).json()["sources"]
        assert [s["name"] for s in listed] == [name]
        removed = client.delete(f"/api/admin/sources/{quote(name)}", headers=auth)
        assert removed.status_code == 200 and removed.json() == {"removed": name}
        assert st.kb.ledger.sources() == {} and list(st.kb.store.documents()) == []
        assert (docs / "leave.txt").is_file()  # the files stay; only the index forgets them
        assert client.delete("/api/admin/sources/no/such/source", headers=auth).status_code == 404
