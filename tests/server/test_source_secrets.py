"""A source added over the API reads only the secrets meant for sources, and its errors never show
them: password_env only from DOCKET_SECRET_* variables, password_file only under the secrets
folder, errors stored and returned with the secret blanked out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from docket.errors import SourceError
from docket.ingest.sources.base import Listing
from tests.server.conftest import Server

IMAP = {"host": "127.0.0.1", "port": 1, "user": "support@example.com", "security": "plain"}


@pytest.mark.parametrize(
    "settings",
    [
        {"password_env": "HOME"},
        {"password_env": "DOCKET_DATABASE_URL"},
        {"password_env": "OPENAI_API_KEY"},
        {"password_file": "/etc/passwd"},
        {"password_file": "../../accounts.db"},
    ],
)
def test_the_api_refuses_server_secrets_outside_the_allowed_ones(server: Server, settings: dict[str, str]) -> None:
    r = server.client.post(
        "/api/admin/sources",
        json={"type": "imap", "name": "mail-" + str(abs(hash(str(settings)))), "settings": {**IMAP, **settings}},
        headers=server.as_("owner"),
    )
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "server.secret_env_prefix" in message or "server.secrets_dir" in message


def test_the_api_accepts_the_allowed_secrets(server: Server) -> None:
    secrets = server.home / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "mail.txt").write_text("mailbox-password")
    for name, settings in (
        ("mail-env", {"password_env": "DOCKET_SECRET_MAIL"}),
        ("mail-file", {"password_file": str(secrets / "mail.txt")}),
    ):
        r = server.client.post(
            "/api/admin/sources",
            json={"type": "imap", "name": name, "settings": {**IMAP, **settings}},
            headers=server.as_("owner"),
        )
        assert r.status_code == 201, r.text
        assert server.client.delete(f"/api/admin/sources/{name}", headers=server.as_("owner")).status_code == 200


class _Chatty:
    """A connector whose server answers with what it was sent (some do, in their error messages)."""

    type = "chatty"

    def __init__(self, password: str) -> None:
        self.password = password

    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        raise SourceError(f"login refused: 'LOGIN support {self.password}' (postgresql://u:{self.password}@db/x)")


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DOCKET_SECRET_MAIL", "hunter2-MAILBOX-SECRET")
    yield "hunter2-MAILBOX-SECRET"


def test_a_connector_error_is_stored_and_shown_without_the_secret(server: Server, secret_env: str) -> None:
    from docket.ingest.sources.sync import remote_config, sync_remote

    st: Any = server.state
    config = remote_config("imap", {**IMAP, "password_env": "DOCKET_SECRET_MAIL"}, workspace="support")
    st.kb.ledger.add_source("chatty-mail", config)
    try:
        report = sync_remote(st.kb.store, st.kb.embedder, "chatty-mail", _Chatty(secret_env), config)
        assert report.failed and secret_env not in str(report.to_dict())
        stored = st.kb.ledger.sources()["chatty-mail"]
        assert stored.last_error and secret_env not in str(stored.to_json())
        assert "[secret]" in stored.last_error
        listed = server.client.get("/api/admin/sources", headers=server.as_("owner")).json()
        assert secret_env not in str(listed)
    finally:
        st.kb.remove_source("chatty-mail")


def test_errors_of_an_older_version_are_redacted_when_shown(server: Server, secret_env: str, tmp_path: Path) -> None:
    from docket.ingest.sources.sync import remote_config

    st: Any = server.state
    config = remote_config("imap", {**IMAP, "password_env": "DOCKET_SECRET_MAIL"}, workspace="support")
    config = replace(config, last_error=f"login refused for {secret_env}")
    st.kb.ledger.add_source("old-mail", config)
    try:
        listed = server.client.get("/api/admin/sources", headers=server.as_("owner")).json()
        assert secret_env not in str(listed) and "login refused for [secret]" in str(listed)
    finally:
        st.kb.remove_source("old-mail")
