"""The queue limit of a real `docket serve`: one request beyond ``server.max_requests`` is answered
at once with 503 and Retry-After; as many concurrent clients as the limit never see one.

The requests that fill the server are held open by their own clients, deterministically: each
sends an authenticated ``POST /api/ask`` whose body is cut short, so the server holds it (waiting
for the rest) until the test sends the rest. No wall-clock asserts.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from bench.soak import prepare, serve

LIMIT = 20
RETRY_AFTER = 7


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("queue")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(
        "# Leave\n\nParental leave is 16 weeks. A sabbatical can be taken after five years."
    )
    key = prepare(root / "kb", "fake", corpus)
    env = {"DOCKET_SERVER__MAX_REQUESTS": str(LIMIT), "DOCKET_SERVER__RETRY_AFTER_SECONDS": str(RETRY_AFTER)}
    proc, base = serve(root / "kb", "fake", root / "serve.log", extra_env=env)
    try:
        yield base, key
    finally:
        proc.terminate()
        proc.wait(30)


def _held_ask(base: str, key: str) -> tuple[socket.socket, bytes]:
    """An ask whose body is cut short: the server holds it until the rest is sent (returned)."""
    host, port = base.removeprefix("http://").split(":")
    body = json.dumps({"question": "How long is parental leave?"}).encode()
    head = (
        f"POST /api/ask HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head + body[:10])
    return sock, body[10:]


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_request_beyond_the_limit_is_503_with_retry_after_and_the_held_ones_finish(server: tuple[str, str]) -> None:
    base, key = server
    headers = {"Authorization": f"Bearer {key}"}
    held = [_held_ask(base, key) for _ in range(LIMIT)]
    try:
        refused = None
        for _ in range(400):  # until the server has taken in all the held requests
            r = httpx.get(f"{base}/api/search", params={"q": "leave"}, headers=headers, timeout=30)
            if r.status_code == 503:
                refused = r
                break
            assert r.status_code == 200, r.text
        assert refused is not None, "the server took more requests than server.max_requests"
        assert refused.headers["retry-after"] == str(RETRY_AFTER)
        error = refused.json()["error"]
        assert error["code"] == "busy" and error["status"] == 503
        assert "server.max_requests" in error["message"] and f"{RETRY_AFTER} s" in error["message"]
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200  # never refused
        for sock, rest in held:
            sock.sendall(rest)
        assert [_status(sock) for sock, _ in held] == [200] * LIMIT
    finally:
        for sock, _ in held:
            sock.close()
    # the held requests gave their places back
    assert httpx.get(f"{base}/api/search", params={"q": "leave"}, headers=headers, timeout=30).status_code == 200


def test_as_many_concurrent_clients_as_the_limit_are_never_refused(server: tuple[str, str]) -> None:
    base, key = server
    statuses: list[int] = []

    async def client(http: httpx.AsyncClient, i: int) -> None:
        for n in range(6):
            if (i + n) % 4 == 3:
                r = await http.post("/api/ask", json={"question": "When can I take a sabbatical?"})
            else:
                r = await http.get("/api/search", params={"q": f"parental leave {n}"})
            statuses.append(r.status_code)

    async def run() -> None:
        limits = httpx.Limits(max_connections=LIMIT)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
            await asyncio.gather(*(client(http, i) for i in range(LIMIT)))

    asyncio.run(run())
    assert statuses == [200] * (LIMIT * 6)
