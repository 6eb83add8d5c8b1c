"""`docket serve` as a real process: the command-line account contract, and an ingestion job
that survives the server being killed in the middle of it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import docket


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket", "serve", "--home", str(home), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"docket serve exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("docket serve did not start")


def test_first_start_prints_the_setup_link(tmp_path: Path) -> None:
    port = _port()
    log = tmp_path / "serve.log"
    proc = _serve(tmp_path / "kb", port, log)
    try:
        for _ in range(100):
            if "?setup=" in log.read_text():
                break
            time.sleep(0.05)
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/?setup=" in text and "docket users create" in text
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_account_commands_and_a_job_that_survives_a_killed_server(tmp_path: Path) -> None:
    home = str(tmp_path / "kb")
    owner = json.loads(
        docket(
            "users", "create", "owner@example.com", "--password", "owner-password", "--admin", "--home", home, "--json"
        ).stdout
    )
    assert owner["role"] == "owner"
    docket("users", "create", "ann@example.com", "--password", "ann-password", "--home", home)
    docket("workspaces", "create", "Support", "--public", "--home", home)
    docket("workspaces", "add-member", "Support", "ann@example.com", "--role", "editor", "--home", home)
    key = json.loads(
        docket("keys", "create", "--user", "ann@example.com", "--workspace", "Support", "--home", home, "--json").stdout
    )["key"]
    assert key.startswith("dk_")
    members = json.loads(docket("workspaces", "list", "--home", home, "--json").stdout)[0]["members"]
    assert members == [{"email": "ann@example.com", "role": "editor"}]

    port = _port()
    log = tmp_path / "serve.log"
    proc = _serve(Path(home), port, log)
    api = f"http://127.0.0.1:{port}/api"
    headers = {"Authorization": f"Bearer {key}"}
    count = 200  # passages are written in batches of 64: kill once some batches are in
    files = [
        ("files", (f"note{i:03d}.txt", f"Note {i}: the warehouse in town {i} opens at {i % 12 + 1} o'clock.".encode()))
        for i in range(count)
    ]
    try:
        job = httpx.post(f"{api}/workspaces/Support/documents", files=files, headers=headers, timeout=60).json()["job"]
        for _ in range(2000):  # kill the server while the job is part-way through
            progress = httpx.get(f"{api}/jobs/{job['id']}", headers=headers, timeout=10).json()["progress"]
            if progress.get("done", 0) >= 100:
                break
            time.sleep(0.02)
        assert 0 < progress["done"] < count, progress
        proc.send_signal(signal.SIGKILL)
        proc.wait(20)
        proc = _serve(Path(home), port, log)  # the job is found again and finished
        for _ in range(3000):
            state = httpx.get(f"{api}/jobs/{job['id']}", headers=headers, timeout=10).json()
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert state["state"] == "done", state
        # the second run skipped what the first had indexed: nothing twice
        assert state["report"]["added"] + state["report"]["unchanged"] == count
        assert state["report"]["unchanged"] >= 64
        docs = httpx.get(
            f"{api}/documents", params={"workspace": "Support", "per_page": 100}, headers=headers, timeout=10
        ).json()
        assert docs["total"] == count and len(docs["documents"]) == min(count, 100)
        stats = json.loads(docket("status", "--home", home, "--json").stdout)
        assert stats["documents"] == count and stats["chunks"] == count
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.parametrize("args", [["users", "create", "not-an-email", "--password", "long-enough"]])
def test_account_commands_explain_bad_input(tmp_path: Path, args: list[str]) -> None:
    proc = docket(*args, "--home", str(tmp_path / "kb"), check=False)
    assert proc.returncode == 2 and "not an email address" in proc.stderr
