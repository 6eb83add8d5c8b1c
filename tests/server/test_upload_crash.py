"""`docket serve` killed with SIGKILL while it ingests an upload: the restarted server finishes the
job, and the index ends the same as after an uninterrupted upload."""

from __future__ import annotations

import json
import random
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import docket
from tests.conftest import DEMO
from tests.ingest.test_crash import WORDS, check_sound, snapshot
from tests.server.test_serve import _port, _serve

pytestmark = pytest.mark.slow

TRIALS = 4
NOTES = 240


def _files(seed: int = 7) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    out = []
    for i in range(NOTES):
        sentences = " ".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24))) + f" note {i}-{s}."
            for s in range(rng.randint(2, 30))
        )
        out.append((f"note{i:03d}.txt", sentences.encode()))
    out.extend((p.name, p.read_bytes()) for p in sorted((DEMO / "Employment Policies").glob("*.md")))
    return out


def _template(root: Path) -> tuple[Path, str]:
    """A knowledge base with an owner, a public workspace and an editor's API key (no documents)."""
    home = str(root / "template")
    docket("users", "create", "owner@example.com", "--password", "owner-password", "--admin", "--home", home)
    docket("users", "create", "ann@example.com", "--password", "ann-password", "--home", home)
    docket("workspaces", "create", "Support", "--public", "--home", home)
    docket("workspaces", "add-member", "Support", "ann@example.com", "--role", "editor", "--home", home)
    out = docket("keys", "create", "--user", "ann@example.com", "--workspace", "Support", "--home", home, "--json")
    return Path(home), json.loads(out.stdout)["key"]


def _upload(api: str, key: str, files: list[tuple[str, bytes]]) -> int:
    form = [("files", (name, data)) for name, data in files]
    reply = httpx.post(f"{api}/workspaces/Support/documents", files=form, headers=_auth(key), timeout=60)
    assert reply.status_code == 202, reply.text
    return int(reply.json()["job"]["id"])


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _finished(api: str, key: str, job: int) -> dict[str, Any]:
    for _ in range(6000):
        state = httpx.get(f"{api}/jobs/{job}", headers=_auth(key), timeout=10).json()
        if state["state"] in ("done", "failed"):
            return dict(state)
        time.sleep(0.02)
    raise AssertionError(f"job {job} did not finish: {state}")


def _documents(home: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{home / 'docket.db'}?mode=ro", uri=True, timeout=0.05)
    except sqlite3.Error:
        return 0
    try:
        return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def _without_mtimes(index: dict[str, Any]) -> dict[str, Any]:
    """Uploaded files get a new modification time with each upload; everything else must match."""
    docs = {}
    for path, doc in index["documents"].items():
        meta = list(doc["meta"])
        meta[4] = None
        docs[path] = {**doc, "meta": tuple(meta)}
    return {**index, "documents": docs}


def test_a_server_killed_during_an_upload_job_finishes_it_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")  # deterministic vectors, no model to load
    template, key = _template(tmp_path)
    files = _files()
    port = _port()
    api = f"http://127.0.0.1:{port}/api"
    log = tmp_path / "serve.log"

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    proc = _serve(reference, port, log)
    try:
        state = _finished(api, key, _upload(api, key, files))
    finally:
        proc.terminate()
        proc.wait(20)
    assert state["state"] == "done" and state["report"]["added"] == len(files), state
    expected = _without_mtimes(snapshot(reference))
    assert len(expected["documents"]) == len(files)

    rng = random.Random(42)
    for trial in range(TRIALS):
        home = tmp_path / f"trial{trial}"
        shutil.copytree(template, home)
        proc = _serve(home, port, log)
        try:
            job = _upload(api, key, files)
            target = 0 if trial == 0 else rng.randint(1, len(files) - 1)  # 0: before the job has started
            while target and _documents(home) < target:
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
            proc.wait(20)
            indexed = check_sound(home)
            assert indexed < len(files), f"trial {trial}: the job ended before the kill"
            proc = _serve(home, port, log)  # the job is requeued on start and runs again
            state = _finished(api, key, job)
        finally:
            proc.terminate()
            proc.wait(20)
        assert state["state"] == "done", state
        report = state["report"]
        assert (report["added"], report["unchanged"]) == (len(files) - indexed, indexed), (trial, report)
        assert check_sound(home) == len(files)
        accounts = sqlite3.connect(home / "accounts.db")
        try:
            assert accounts.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            accounts.close()
        assert _without_mtimes(snapshot(home)) == expected, f"trial {trial}: the index differs"
