"""Bodies are refused before they are read: 401 without credentials, 413 beyond the route's limit.

Against a real `docket serve` process, with bodies streamed from a generator over a raw socket (so
the client never holds them either): the test counts how much of the body the server let the
client send before it answered, and the server's resident memory before and after. No wall-clock
bound: "refused at once" means the answer came while only a sliver of the body had been sent.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import docket

GIB = 1024**3
MIB = 1024**2
CHUNK = b"x" * (256 * 1024)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    key: str  # an editor of Support
    log: Path

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the server's memory from /proc (Linux)")
    root = tmp_path_factory.mktemp("limits")
    home = str(root / "kb")
    (root / "kb").mkdir()
    (root / "kb" / "docket.toml").write_text('[embedder]\nname = "fake"\n[server]\nmax_upload_mb = 2\n')
    docket("users", "create", "owner@example.com", "--password", "owner-password", "--admin", "--home", home)
    docket("users", "create", "ann@example.com", "--password", "ann-password", "--home", home)
    docket("workspaces", "create", "Support", "--home", home)
    docket("workspaces", "add-member", "Support", "ann@example.com", "--role", "editor", "--home", home)
    key = json.loads(docket("keys", "create", "--user", "ann@example.com", "--home", home, "--json").stdout)["key"]
    port = _port()
    log = root / "serve.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket", "serve", "--home", home, "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"docket serve exited: {log.read_text()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Served(f"http://127.0.0.1:{port}", port, proc, key, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass
class Outcome:
    status: int
    body: dict
    sent: int  # bytes of the body the server let the client send before answering


def _stream(
    served: Served,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Iterator[bytes],
    *,
    chunked: bool,
) -> Outcome:
    """Send the request head, then the body piece by piece until the server answers."""
    sock = socket.create_connection(("127.0.0.1", served.port))
    sock.setblocking(False)
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
    sock.setblocking(True)
    sock.sendall((head + "\r\n").encode())
    sock.setblocking(False)
    sent, answer, pending = 0, b"", b""
    try:
        while True:
            readable, writable, _ = select.select([sock], [sock] if pending or body else [], [], 60)
            if not readable and not writable:
                raise AssertionError(f"no answer after {sent / MIB:.0f} MB were sent")
            if readable:
                data = sock.recv(65536)
                answer += data
                if not data or b"\r\n\r\n" in answer:
                    break
                continue
            if not pending:
                piece = next(body, None)
                if piece is None:
                    body = iter(())
                    pending = b"0\r\n\r\n" if chunked else b""
                    if not pending:
                        continue
                else:
                    pending = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
                    sent += len(piece)
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            pending = pending[n:]
        sock.setblocking(True)
        sock.settimeout(10)
        while b"\r\n\r\n" in answer and len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1])
    return Outcome(status, json.loads(answer.split(b"\r\n\r\n", 1)[1] or b"{}"), sent)


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _zeros(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = CHUNK[: min(len(CHUNK), total - sent)]
        sent += len(piece)
        yield piece


def _json_that_never_ends(total: int) -> Iterator[bytes]:
    yield b'{"question": "'
    yield from _zeros(total)


def test_a_2_gib_unauthenticated_body_is_refused_unread(served: Served) -> None:
    before = served.rss_mb()
    for chunked in (True, False):
        headers = {"Content-Type": "application/json"}
        if not chunked:
            headers["Content-Length"] = str(2 * GIB)
        out = _stream(served, "POST", "/v1/chat/completions", headers, _zeros(2 * GIB), chunked=chunked)
        assert out.status == 401 and out.body["error"]["code"] == "unauthorized"
        assert out.sent < 64 * MIB  # answered before a sliver of the 2 GiB was let through
    wrong = {"Content-Type": "application/json", "Authorization": "Bearer dk_not-a-key"}
    out = _stream(served, "POST", "/api/ask", wrong, _zeros(2 * GIB), chunked=True)
    assert out.status == 401 and out.sent < 64 * MIB
    assert served.rss_mb() - before < 50


def test_a_body_beyond_the_json_limit_is_413_before_it_is_parsed(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"}
    before = served.rss_mb()
    declared = _stream(
        served, "POST", "/api/ask", auth | {"Content-Length": str(300 * MIB)}, _zeros(300 * MIB), chunked=False
    )
    assert declared.status == 413 and declared.body["error"]["code"] == "too_large"
    assert "server.max_json_kb" in declared.body["error"]["message"] and declared.sent < 64 * MIB
    streamed = _stream(served, "POST", "/api/ask", auth, _json_that_never_ends(300 * MIB), chunked=True)
    assert streamed.status == 413 and streamed.sent < 64 * MIB
    assert served.rss_mb() - before < 50
    # a body within the limit is answered as usual
    ok = httpx.post(f"{served.url}/api/ask", json={"question": "refunds?"}, headers=auth, timeout=60)
    assert ok.status_code == 200


def _multipart(size: int, boundary: str = "docketboundary") -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    yield from _zeros(size)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_an_upload_beyond_max_upload_mb_is_refused_while_it_streams(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.key}", "Content-Type": "multipart/form-data; boundary=docketboundary"}
    path = "/api/workspaces/Support/documents"
    out = _stream(served, "POST", path, auth, _multipart(1 * GIB), chunked=True)
    assert out.status == 413 and "server.max_upload_mb" in out.body["error"]["message"]
    assert out.sent < 64 * MIB
    declared = _stream(served, "POST", path, auth | {"Content-Length": str(GIB)}, _multipart(GIB), chunked=False)
    assert declared.status == 413 and declared.sent < 64 * MIB
    anonymous = {"Content-Type": "multipart/form-data; boundary=docketboundary"}
    assert _stream(served, "POST", path, anonymous, _multipart(GIB), chunked=True).status == 401
    files = {"files": ("small.txt", b"Refunds take 14 days.", "text/plain")}
    ok = httpx.post(f"{served.url}{path}", files=files, headers={"Authorization": f"Bearer {served.key}"}, timeout=60)
    assert ok.status_code == 202, ok.text


def test_a_valid_key_works_after_40_wrong_keys_from_the_same_address(served: Served) -> None:
    for n in range(40):
        r = httpx.get(f"{served.url}/api/me", headers={"Authorization": f"Bearer dk_wrong-{n}"}, timeout=10)
        assert r.status_code in (401, 429)
    assert r.status_code == 429  # the wrong ones are throttled...
    valid = httpx.get(f"{served.url}/api/me", headers={"Authorization": f"Bearer {served.key}"}, timeout=10)
    assert valid.status_code == 200 and valid.json()["user"]["email"] == "ann@example.com"  # ...the valid one never


def test_every_api_route_but_the_public_ones_is_authenticated_before_its_body(tmp_path: Path) -> None:
    """The guard's list of public routes matches the routes themselves: each route it lets through
    unauthenticated answers without a caller, and every other one is a 401 before its body."""
    import re

    from fastapi.testclient import TestClient

    from docket.config import load_settings
    from docket.server.app import create_app
    from docket.server.limits import needs_caller

    app = create_app(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}), start_jobs=False)
    with TestClient(app) as client:
        operations = [
            (method.upper(), path)
            for path, item in app.openapi()["paths"].items()
            for method in item
            if path.startswith(("/api/", "/v1/"))
        ]
        assert len(operations) > 50
        public = []
        for method, template in operations:
            path = re.sub(r"\{[^}]+\}", "1", template)
            r = client.request(method, path, json={})
            if needs_caller(method, path):
                assert r.status_code == 401, f"{method} {template}: {r.status_code}"
                assert r.json()["error"]["code"] == "unauthorized"
            else:
                public.append(f"{method} {template}")
                assert "sign in, or send an API key" not in r.text, f"{method} {template} needs a caller"
        assert sorted(public) == ["POST /api/public/{workspace}/ask", "POST /api/session", "POST /api/setup"]
