"""`docket sources add imap|sql` and `docket sources sync` end to end, in a real `docket` process, against
a real Dovecot (see tests/ingest/sources/test_imap.py) and a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import docket
from tests.ingest.sources.test_imap import PASSWORD, _deliver, _message, dovecot, mailbox  # noqa: F401

pytest.importorskip("sqlalchemy", reason="the sql extra: pip install -e '.[sql]'")


def _shop(folder: Path) -> Path:
    path = folder / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, price REAL, updated_at TEXT);
            INSERT INTO products VALUES ('A-1', 'Sourdough loaf', 4.5, '2026-01-01');
            INSERT INTO products VALUES ('B-2', 'Rye bread', 3.9, '2026-01-01');
            """
        )
    conn.close()
    return path


def test_add_and_sync_a_sqlite_table(tmp_path: Path) -> None:
    _shop(tmp_path)
    home = str(tmp_path / "kb")
    added = json.loads(
        docket(
            "sources", "add", "sql", "sqlite:///shop.db", "--table", "products", "--updated-column", "updated_at",
            "--title", "{{ name }}", "--home", home, "--json", cwd=tmp_path,
        ).stdout
    )  # fmt: skip
    assert added["name"] == "products" and added["type"] == "sql"
    assert added["settings"]["url"] == f"sqlite:///{tmp_path / 'shop.db'}"  # made absolute

    first = json.loads(docket("sources", "sync", "products", "--home", home, "--json").stdout)["products"]
    assert (first["added"], first["error"]) == (2, None)

    with sqlite3.connect(tmp_path / "shop.db") as conn:
        conn.execute("UPDATE products SET price = 5.0, updated_at = '2026-02-01' WHERE sku = 'A-1'")
        conn.execute("DELETE FROM products WHERE sku = 'B-2'")
    conn.close()
    second = json.loads(docket("sources", "sync", "--home", home, "--json").stdout)["products"]
    assert (second["added"], second["updated"], second["deleted"]) == (0, 1, 1)

    found = json.loads(docket("search", "sourdough", "--home", home, "--json").stdout)
    hits = found["hits"] if isinstance(found, dict) else found
    assert hits[0]["title"] == "Sourdough loaf" and hits[0]["path"] == "products/A-1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["postgresql://bob:hunter2@db.example/shop", "--table", "t"], "holds a password"),
        (["sqlite:///x.db", "--query", "DELETE FROM t", "--key", "id"], "single SELECT"),
        (["sqlite:///x.db"], "exactly one of --table"),
        (["sqlite:///x.db", "--table", "t", "--template", "{% for %}"], "--template: bad template"),
    ],
)
def test_add_sql_refuses_bad_settings(tmp_path: Path, args: list[str], message: str) -> None:
    home = str(tmp_path / "kb")
    proc = docket("sources", "add", "sql", *args, "--home", home, check=False)
    assert proc.returncode == 2 and message in proc.stderr and "hunter2" not in proc.stderr
    assert json.loads(docket("sources", "list", "--home", home, "--json").stdout) == []


def test_add_and_sync_a_mailbox_without_storing_the_password(dovecot, mailbox, tmp_path: Path) -> None:  # noqa: F811
    user, conn = mailbox
    _deliver(conn, _message("Where is my order?", "Order 5521 has not arrived."))
    _deliver(conn, _message("Thanks", "All sorted.", attachments=[("notes.csv", b"a,b\n1,2\n", "text/csv")]))
    home = tmp_path / "kb"
    added = json.loads(
        docket(
            "sources", "add", "imap", "--host", "127.0.0.1", "--port", str(dovecot.port), "--user", user,
            "--password-env", "MAIL_PW", "--plain", "--name", "support", "--home", str(home), "--json",
        ).stdout
    )  # fmt: skip
    assert added["settings"] == {
        "host": "127.0.0.1",
        "user": user,
        "security": "plain",
        "folders": ["INBOX"],
        "insecure": False,
        "port": dovecot.port,
        "password_env": "MAIL_PW",
    }

    sync = docket("sources", "sync", "support", "--home", str(home), "--json")
    assert json.loads(sync.stdout)["support"]["added"] == 2
    listed = docket("sources", "list", "--home", str(home), "--json")
    assert json.loads(listed.stdout)[0]["type"] == "imap"
    for text in (added, sync.stdout, sync.stderr, listed.stdout):
        assert PASSWORD not in str(text)
    for file in home.rglob("*"):
        if file.is_file():
            assert PASSWORD.encode() not in file.read_bytes(), file

    found = json.loads(docket("search", "order 5521", "--home", str(home), "--json").stdout)
    hits = found["hits"] if isinstance(found, dict) else found
    assert hits[0]["title"] == "Where is my order?"


def test_one_failing_source_does_not_stop_the_others(dovecot, mailbox, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    user, conn = mailbox
    _deliver(conn, _message("kept", "x"))
    _shop(tmp_path)
    home = str(tmp_path / "kb")
    docket(
        "sources", "add", "imap", "--host", "127.0.0.1", "--port", str(dovecot.port), "--user", user,
        "--password-env", "MAIL_PW", "--plain", "--name", "support", "--home", home,
    )  # fmt: skip
    docket("sources", "add", "sql", f"sqlite:///{tmp_path / 'shop.db'}", "--table", "products", "--home", home)
    docket("sources", "sync", "support", "--home", home)

    monkeypatch.setenv("MAIL_PW", "wrong-password")
    proc = docket("sources", "sync", "--home", home, "--json")

    result = json.loads(proc.stdout)
    assert "login refused" in result["support"]["error"] and result["support"]["deleted"] == 0
    assert result["products"]["added"] == 2 and result["products"]["error"] is None
    assert "wrong-password" not in proc.stdout + proc.stderr
    listed = {s["name"]: s for s in json.loads(docket("sources", "list", "--home", home, "--json").stdout)}
    assert listed["support"]["documents"] == 1 and "login refused" in listed["support"]["last_error"]


def test_add_imap_refuses_conflicting_options(tmp_path: Path) -> None:
    base = ["sources", "add", "imap", "--host", "h", "--user", "u", "--home", str(tmp_path / "kb")]
    proc = docket(*base, "--password-env", "X", "--ssl", "--plain", check=False)
    assert proc.returncode == 2 and "one of --ssl, --starttls and --plain" in proc.stderr
    proc = docket(*base, check=False)
    assert proc.returncode == 2 and "--password-env" in proc.stderr
    proc = docket(*base, "--password-env", "not a name", check=False)
    assert proc.returncode == 2 and "not an environment variable name" in proc.stderr
