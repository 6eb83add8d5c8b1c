"""Secrets never leak: model keys, the database password, user passwords and API keys stay out of
`docket config show`, model errors, server error responses, `docket logs` and Python logging.
Sign-ins are rate limited and sessions expire."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from docket.config import Settings, load_settings
from docket.errors import DocketError
from docket.kb import KnowledgeBase
from docket.models.prompts import Prompt

OPENAI_KEY = "sk-test-OPENAI0SECRET0c0ffee1234"
ANTHROPIC_KEY = "sk-ant-test-ANTHROPIC0SECRET0beef99"
DB_PASSWORD = "pw0DATABASE0SECRET0x7"
DATABASE_URL = f"postgresql://u:{DB_PASSWORD}@127.0.0.1:1/db"
USER_PASSWORD = "correct-horse-USER0SECRET0battery"
SECRETS = [OPENAI_KEY, ANTHROPIC_KEY, DB_PASSWORD, USER_PASSWORD]
HAS_STORE = "store" in Settings.model_fields


def _clean(text: str, *extra: str) -> None:
    for secret in [*SECRETS, *extra]:
        assert secret not in text, f"a secret leaked: {secret[:12]}..."


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "DOCKET_HOME": str(tmp_path / "kb")}
    if HAS_STORE:
        env["DOCKET_DATABASE_URL"] = DATABASE_URL
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _docket(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docket", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_config_show_never_prints_keys_or_the_database_password(secret_env: dict[str, str]) -> None:
    for args in (["config", "show", "--json"], ["config", "show"]):
        proc = _docket(*args)
        assert proc.returncode == 0, proc.stderr
        _clean(proc.stdout + proc.stderr)
    shown = json.loads(_docket("config", "show", "--json").stdout)
    assert "model" in json.dumps(shown)  # the settings are shown, only the secrets masked
    if HAS_STORE:
        assert "127.0.0.1:1/db" in json.dumps(shown)  # the URL is shown without its password


class _Refusing(BaseHTTPRequestHandler):
    status = 401

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # a careless server echoes the key it was sent: Docket must not pass that on either
        body = json.dumps({"error": {"message": f"bad key {self.headers.get('Authorization', '')}"}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[401, 500])
def refusing_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_Refusing,), {"status": request.param})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("spec", ["openai:gpt-test", "anthropic:claude-test"])
def test_failing_model_calls_name_the_server_never_the_key(
    spec: str, refusing_server: str, secret_env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = load_settings(
        home=tmp_path / "kb",
        overrides={
            "model": {"base_url": f"{refusing_server}/v1", "anthropic_base_url": refusing_server, "max_retries": 0}
        },
        environ={"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY},
    )
    kb = KnowledgeBase(settings)
    try:
        with pytest.raises(DocketError) as caught:
            kb.chat_model(spec).complete(Prompt(system="s", user="u"))
    finally:
        kb.close()
    # what the command line and the server show is the message; the server above even echoes the key
    _clean(str(caught.value) + caplog.text)
    assert "127.0.0.1" in str(caught.value)


def test_docket_logs_never_show_keys(secret_env: dict[str, str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.txt").write_text("New parents get 12 weeks of paid leave.\n", encoding="utf-8")
    env = {k: v for k, v in secret_env.items() if k != "DOCKET_DATABASE_URL"}  # the SQLite store, to have logs
    clean_env = {k: v for k, v in os.environ.items() if k != "DOCKET_DATABASE_URL"}
    for args in (["ingest", str(docs)], ["ask", "How long is parental leave?"], ["logs"], ["logs", "--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "docket", *args], capture_output=True, text=True, env={**clean_env, **env}
        )
        assert proc.returncode == 0, proc.stderr
        _clean(proc.stdout + proc.stderr)


# ---------------------------------------------------------------------- the server

fastapi = pytest.importorskip("fastapi")


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    from fastapi.testclient import TestClient

    from docket.server.app import create_app

    settings = load_settings(
        home=tmp_path / "srv",
        overrides={"server": {"login_attempts": 3, "session_hours": 2}},
        environ={"OPENAI_API_KEY": OPENAI_KEY},
    )
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        yield client, app.state.docket


def test_server_errors_and_logs_never_echo_passwords_or_keys(
    app_client: tuple[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, st = app_client
    user = st.accounts.users.create("ann@example.com", USER_PASSWORD, "member")
    _, key = st.accounts.keys.create(user.id)
    bodies = []
    wrong = client.post("/api/session", json={"email": "ann@example.com", "password": USER_PASSWORD + "x"})
    assert wrong.status_code == 401
    bodies.append(wrong.text)
    too_long = client.post("/api/session", json={"email": "ann@example.com", "password": USER_PASSWORD * 40})
    assert too_long.status_code in (400, 422)
    bodies.append(too_long.text)
    no_email = client.post("/api/session", json={"password": USER_PASSWORD})
    assert no_email.status_code in (400, 422)
    bodies.append(no_email.text)
    bad_key = client.get("/api/me", headers={"Authorization": f"Bearer {key}x"})
    assert bad_key.status_code == 401
    bodies.append(bad_key.text)
    ok = client.get("/api/me", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    bodies.append(ok.text)
    listed = client.get("/api/keys", headers={"Authorization": f"Bearer {key}"})
    bodies.append(listed.text)
    audit = st.accounts.audit.log() if hasattr(st.accounts, "audit_log") else []
    _clean("\n".join(bodies) + caplog.text + json.dumps(audit, default=str), key)


def test_sign_in_is_rate_limited_per_email(app_client: tuple[Any, Any]) -> None:
    client, st = app_client
    st.accounts.users.create("bo@example.com", USER_PASSWORD, "member")
    codes = [
        client.post("/api/session", json={"email": "bo@example.com", "password": "wrong"}).status_code for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    right = client.post("/api/session", json={"email": "bo@example.com", "password": USER_PASSWORD})
    assert right.status_code == 429  # even the right password waits out the pause
    assert USER_PASSWORD not in right.text


def test_wrong_api_keys_are_rate_limited_and_valid_keys_never(app_client: tuple[Any, Any]) -> None:
    client, st = app_client
    owner = st.accounts.users.create("key-owner@example.com", USER_PASSWORD, "member")
    good = st.accounts.keys.create(owner.id)[1]
    codes = [client.get("/api/me", headers={"Authorization": f"Bearer dk_wrong{i}"}).status_code for i in range(40)]
    limit = st.settings.server.key_attempts
    assert codes[:limit] == [401] * limit and set(codes[limit:]) == {429}
    # one bad client behind the office's NAT does not lock the others out
    valid = client.get("/api/me", headers={"Authorization": f"Bearer {good}"})
    assert valid.status_code == 200 and valid.json()["user"]["email"] == "key-owner@example.com"
    still = client.get("/api/me", headers={"Authorization": "Bearer dk_wrong-again"})
    assert still.status_code == 429 and "dk_wrong-again" not in still.text


def test_sign_in_is_rate_limited_per_address_too(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from docket.server.app import create_app

    app = create_app(load_settings(home=tmp_path / "kb"), start_jobs=False)  # the defaults
    with TestClient(app) as client:
        st = app.state.docket
        limit = 30  # the default of server.login_attempts_per_address
        st.accounts.users.create("victim@example.com", USER_PASSWORD, "member")
        # credential stuffing: one try per email stays under the per-email limit
        codes = [
            client.post("/api/session", json={"email": f"u{i}@example.com", "password": "guess"}).status_code
            for i in range(limit + 3)
        ]
        assert codes[:limit] == [401] * limit and set(codes[limit:]) == {429}
        right = client.post("/api/session", json={"email": "victim@example.com", "password": USER_PASSWORD})
        assert right.status_code == 429 and "address" in right.json()["error"]["message"]
        assert st.settings.server.login_attempts_per_address == limit


def test_a_session_lasts_server_session_hours(app_client: tuple[Any, Any]) -> None:
    client, st = app_client
    st.accounts.users.create("cy@example.com", USER_PASSWORD, "member")
    signed_in = client.post("/api/session", json={"email": "cy@example.com", "password": USER_PASSWORD})
    assert signed_in.status_code == 200
    cookie = next(v for k, v in signed_in.headers.multi_items() if k == "set-cookie" and "docket_session" in v)
    assert "Max-Age=7200" in cookie
    assert st.accounts.users.session_seconds == 7200


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    from docket.accounts import Accounts

    accounts = Accounts(tmp_path / "accounts.db", session_seconds=0)
    user = accounts.users.create("di@example.com", USER_PASSWORD, "member")
    token, _ = accounts.users.create_session(user.id)
    assert accounts.users.session(token) is None
    lasting = Accounts(tmp_path / "accounts.db")
    token, _ = lasting.users.create_session(user.id)
    found = lasting.users.session(token)
    assert found is not None and found[0].email == "di@example.com"
