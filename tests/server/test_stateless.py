"""Two real `docket serve` processes with different, empty homes on one PostgreSQL database act
as one server: accounts, sessions, keys, upload jobs, uploaded files and the review queue are
shared; a server can go away (its home deleted) and the other still serves what it took in."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import docket
from tests.server.test_serve import _port

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

PARK = "version: 1\nname: park\nsteps:\n  - {id: a, kind: compose, fields: {x: inputs.n}}\n  - {id: r, kind: review}\n"


@dataclass
class Serve:
    home: Path
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def api(self) -> str:
        return f"{self.base}/api"

    def setup_token(self) -> str:
        for _ in range(200):
            found = re.search(r"\?setup=([\w-]+)", self.log.read_text())
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no setup link printed: {self.log.read_text()}")


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DOCKET_DATABASE_URL": url, "DOCKET_EMBEDDER__NAME": "fake"}


def _start(home: Path, url: str) -> Serve:
    port, log = _port(), home.parent / f"{home.name}.log"
    home.mkdir(parents=True)
    (home / "workflows").mkdir()
    (home / "workflows" / "park.yml").write_text(PARK)  # custom workflows are deployed to every server
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket", "serve", "--home", str(home), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_env(url),
        )
    return Serve(home, f"http://127.0.0.1:{port}", proc, log)


def _wait(server: Serve) -> None:
    for _ in range(600):
        if server.proc.poll() is not None:
            raise AssertionError(f"docket serve exited: {server.log.read_text()}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("docket serve did not start")


def _stop(server: Serve) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        server.proc.wait(30)


@pytest.fixture
def servers(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Serve, Serve]]:
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)  # for the CLI commands the test runs
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")
    # both at once on the empty database: the store and the server records each create their
    # tables once, under an advisory lock
    a = _start(tmp_path / "a", pg_url)
    b: Serve | None = None
    try:
        b = _start(tmp_path / "b", pg_url)
        _wait(a)
        _wait(b)
        yield a, b
    finally:
        _stop(a)
        if b is not None:
            _stop(b)


def _key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _finished(api: str, key: str, job: int) -> dict[str, Any]:
    for _ in range(1500):
        state = httpx.get(f"{api}/jobs/{job}", headers=_key(key), timeout=10).json()
        if state["state"] in ("done", "failed"):
            return dict(state)
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not finish: {state}")


def _upload_cache(url: str) -> Path:
    """The folder where servers on this machine keep their copies of the uploads (docket.accounts.uploads)."""
    import tempfile

    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM docket_server.meta WHERE key = 'instance'").fetchone()
    assert row is not None
    return Path(tempfile.gettempdir()) / f"docket-uploads-{row[0]}"


def test_two_servers_on_one_database_act_as_one(servers: tuple[Serve, Serve], tmp_path: Path, pg_url: str) -> None:
    a, b = servers
    # the first owner is created on A; the session cookie A sets is good on B
    owner = httpx.post(
        f"{a.api}/setup", json={"token": a.setup_token(), "email": "owner@example.com", "password": "owner-password"}
    )
    assert owner.status_code == 200, owner.text
    assert (
        httpx.post(
            f"{b.api}/setup", json={"token": b.setup_token(), "email": "x@example.com", "password": "x-password"}
        ).status_code
        == 403
    )  # B knows there is an owner already
    me = httpx.get(f"{b.api}/me", cookies={"docket_session": owner.cookies["docket_session"]})
    assert me.status_code == 200 and me.json()["user"]["email"] == "owner@example.com"

    # the account commands, from a third (empty) home, write the same database
    cli = str(tmp_path / "cli-home")
    docket("users", "create", "ann@example.com", "--password", "ann-password", "--home", cli)
    docket("workspaces", "create", "Support", "--home", cli)
    docket("workspaces", "add-member", "Support", "ann@example.com", "--role", "editor", "--home", cli)
    key = json.loads(docket("keys", "create", "--user", "ann@example.com", "--home", cli, "--json").stdout)["key"]
    assert httpx.get(f"{a.api}/me", headers=_key(key)).json()["user"]["email"] == "ann@example.com"

    # an upload to A is ingested (by whichever server claims the job), searchable on B
    files = [("files", ("refunds.txt", b"Refunds are issued within 14 days. Code REFUND-4242."))]
    upload = httpx.post(f"{a.api}/workspaces/Support/documents", files=files, headers=_key(key), timeout=60)
    assert upload.status_code == 202, upload.text
    job = _finished(b.api, key, int(upload.json()["job"]["id"]))
    assert job["state"] == "done", job
    hits = httpx.get(f"{b.api}/search", params={"q": "REFUND-4242"}, headers=_key(key), timeout=30).json()
    assert any("REFUND-4242" in h["text"] for h in hits["hits"]), hits

    # a draft parked by a run on A is approved on B
    run = httpx.post(
        f"{a.api}/workflows/park/runs",
        params={"wait": "true"},
        json={"input": {"n": 5}, "workspace": "Support"},
        headers=_key(key),
        timeout=60,
    )
    assert run.status_code == 200 and run.json()["status"] == "done", run.text
    [item] = httpx.get(f"{b.api}/reviews", params={"workflow": "park"}, headers=_key(key)).json()["reviews"]
    approved = httpx.post(f"{b.api}/reviews/{item['id']}/approve", json={}, headers=_key(key))
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    assert httpx.get(f"{a.api}/reviews/{item['id']}", headers=_key(key)).json()["status"] == "approved"
    listed = json.loads(docket("reviews", "list", "--status", "all", "--home", cli, "--json").stdout)["reviews"]
    assert [(r["id"], r["status"]) for r in listed] == [(item["id"], "approved")]  # the CLI sees the same queue

    # A goes away with its home, and B's machine has no copy of the upload: B fetches it from the database
    _stop(a)
    shutil.rmtree(a.home)
    cache = _upload_cache(pg_url)
    assert (cache / "Support" / "refunds.txt").is_file()
    shutil.rmtree(cache)
    [doc] = httpx.get(f"{b.api}/documents", headers=_key(key)).json()["documents"]
    results = httpx.get(f"{b.api}/workflows/runs/{run.json()['id']}/results", headers=_key(key))
    assert results.status_code == 200 and results.json()[0]["review_id"] == item["id"], results.text  # A's run
    download = httpx.get(f"{b.api}/documents/{doc['id']}/download", headers=_key(key))
    assert download.status_code == 200 and b"REFUND-4242" in download.content
    # a re-upload of the same name on B, asked to replace, replaces the document A's upload made
    files = [("files", ("refunds.txt", b"Refunds are issued within 30 days. Code REFUND-5353."))]
    again = httpx.post(
        f"{b.api}/workspaces/Support/documents",
        files=files,
        data={"if_exists": "replace"},
        headers=_key(key),
        timeout=60,
    )
    assert again.json()["files"][0]["status"] == "replaced", again.text  # known from the database, not B's disk
    assert _finished(b.api, key, int(again.json()["job"]["id"]))["state"] == "done"
    [doc] = httpx.get(f"{b.api}/documents", headers=_key(key)).json()["documents"]
    text = httpx.get(f"{b.api}/documents/{doc['id']}/text", headers=_key(key)).json()["text"]
    assert "REFUND-5353" in text and "REFUND-4242" not in text
    status = json.loads(docket("db", "status", "--home", cli, "--json").stdout)
    assert status["queues"]["jobs"] == {"done": 2} and status["queues"]["workflow_runs"] == {"done": 1}
    shutil.rmtree(cache, ignore_errors=True)
