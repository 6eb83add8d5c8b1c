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
from typing import Any

import httpx
import pytest

from docket.ingest.sync import EMBED_BATCH
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


def _get_on(conn: socket.socket) -> bytes:
    """One GET /healthz on an open connection, kept alive; the response's status line."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        received += chunk
    return received.split(b"\r\n", 1)[0]


def test_an_idle_connection_stays_open_for_server_keep_alive_seconds(tmp_path: Path, monkeypatch: Any) -> None:
    from docket.config import ServerSettings

    # clients keep idle connections 5 s (httpx) to 60 s (proxies): the server must wait longer,
    # so a client never sends on a connection the server is closing
    assert ServerSettings().keep_alive_seconds > 60
    monkeypatch.setenv("DOCKET_SERVER__KEEP_ALIVE_SECONDS", "2")
    port = _port()
    proc = _serve(tmp_path / "kb", port, tmp_path / "serve.log")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            assert _get_on(conn) == b"HTTP/1.1 200 OK"
            time.sleep(1.0)  # idle, but within the setting: the same connection still answers
            assert _get_on(conn) == b"HTTP/1.1 200 OK"
            time.sleep(3.5)  # past the setting (and short of uvicorn's own 5 s): closed by the server
            conn.settimeout(1.0)
            assert conn.recv(1) == b""
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
    count = EMBED_BATCH + 136  # passages are embedded and written EMBED_BATCH at a time: kill once one batch is in
    files = [
        ("files", (f"note{i:03d}.txt", f"Note {i}: the warehouse in town {i} opens at {i % 12 + 1} o'clock.".encode()))
        for i in range(count)
    ]
    try:
        job = httpx.post(f"{api}/workspaces/Support/documents", files=files, headers=headers, timeout=60).json()["job"]
        for _ in range(2000):  # kill the server while the job is part-way through
            progress = httpx.get(f"{api}/jobs/{job['id']}", headers=headers, timeout=10).json()["progress"]
            if progress.get("done", 0) >= EMBED_BATCH + 36:
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
        assert state["report"]["unchanged"] >= EMBED_BATCH
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


def _children(pid: int) -> list[int]:
    """The worker processes of `docket serve --workers N` (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text():
            found.append(int(child))
    return found


def _lock_holder(lock: Path) -> int | None:
    """The process holding the flock on ``lock`` (/proc/locks names it by the file's inode)."""
    inode = lock.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "FLOCK" in fields and fields[-3].endswith(f":{inode}"):
            return int(fields[-4])
    return None


def _until(check: Any, tries: int = 3000) -> Any:
    for _ in range(tries):
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("gave up waiting")


def test_several_processes_share_one_store_and_one_of_them_runs_the_background_work(tmp_path: Path) -> None:
    if not Path("/proc/locks").exists():
        pytest.skip("finds the processes and their lock in /proc (Linux)")
    home = tmp_path / "kb"
    port = _port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "DOCKET_EMBEDDER__NAME": "fake"}
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket", "serve", "--home", str(home), "--port", str(port), "--workers", "2"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: "?setup=" in log.read_text())
        workers = _until(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid))
        primary = _lock_holder(home / "serve.lock")
        assert primary in workers  # exactly one process holds the lock: it runs jobs and schedules
        text = log.read_text()
        assert text.count("?setup=") == 1 and "with 2 processes" in text  # printed once, by the primary
        token = text.split("?setup=")[1].split()[0]
        # one setup token for all: the link works whichever process answers (a fresh connection)
        owner = {"token": token, "email": "owner@example.com", "password": "owner-password"}
        assert httpx.post(f"{base}/api/setup", json=owner, timeout=30).status_code == 200
        key = json.loads(docket("keys", "create", "--user", "owner@example.com", "--home", str(home), "--json").stdout)[
            "key"
        ]
        headers = {"Authorization": f"Bearer {key}"}
        docket("workspaces", "create", "Support", "--home", str(home))

        def upload(name: str, text: str) -> dict[str, Any]:
            files = [("files", (name, text.encode()))]
            job = httpx.post(f"{base}/api/workspaces/Support/documents", files=files, headers=headers, timeout=60)
            assert job.status_code in (200, 202), job.text
            job_id = job.json()["job"]["id"]

            def finished() -> dict[str, Any] | None:
                state = httpx.get(f"{base}/api/jobs/{job_id}", headers=headers, timeout=30).json()
                return state if state["state"] in ("done", "failed") else None

            return _until(finished)

        first = upload("leave.md", "# Leave\n\nParental leave is sixteen weeks.")
        assert first["state"] == "done" and first["report"]["added"] == 1
        # each request on a fresh connection: both processes answer, and each finds the document
        for _ in range(12):
            hits = httpx.get(f"{base}/api/search", params={"q": "parental leave"}, headers=headers, timeout=30)
            assert [h["path"].endswith("leave.md") for h in hits.json()["hits"]] == [True]

        # the primary dies: uvicorn starts another process, which takes the lock and the jobs
        os.kill(primary, signal.SIGKILL)
        successor = _until(lambda: (holder := _lock_holder(home / "serve.lock")) not in (None, primary) and holder)
        assert successor in _until(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid))
        second = upload("vacation.md", "# Vacation\n\nEmployees get twenty-five vacation days.")
        assert second["state"] == "done" and second["report"]["added"] == 1
        stats = json.loads(docket("status", "--home", str(home), "--json").stdout)
        assert stats["documents"] == 2
    finally:
        proc.terminate()
        proc.wait(30)
    assert _lock_holder(home / "serve.lock") is None  # the processes stopped with the server
