"""A database source answers counts and totals from its rows, as a user runs it: `docket sources add sql`,
`docket sources sync` and `docket ask` in real processes, a SQLite file, and a model server on 127.0.0.1
that writes the SQL; figures checked against the database with the sqlite3 module. Then the same
knowledge base behind the HTTP API: only callers who may read the source's documents get its table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli import docket
from tests.scripted_model import ScriptedModel, scripted_model_server

pytest.importorskip("sqlalchemy", reason="the sql extra: pip install -e '.[sql]'")

QUESTION = "What is the total amount of all orders?"
TOTAL_SQL = "```sql\nSELECT SUM(amount) AS total_amount FROM orders\n```"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with scripted_model_server() as script:
        yield script


@pytest.fixture
def shop(tmp_path: Path, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    model.replies.clear()
    model.prompts.clear()
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            """
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount NUMERIC(10, 2), status TEXT);
            INSERT INTO orders VALUES (1, 'Acme Bakery', 120.50, 'paid');
            INSERT INTO orders VALUES (2, 'Birch Dental', 80.00, 'open');
            INSERT INTO orders VALUES (3, 'Cedar Cafe', 35.25, 'paid');
            """
        )
    conn.close()
    home = tmp_path / "kb"
    home.mkdir()
    (home / "docket.toml").write_text('[embedder]\nname = "fake"\n')
    monkeypatch.setenv("DOCKET_OPENAI_BASE_URL", model.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    docket("sources", "add", "sql", f"sqlite:///{db}", "--table", "orders", "--name", "shop",
           "--workspace", "sales", "--home", str(home), "--json")  # fmt: skip
    return home, db


def total(db: Path) -> float:
    """Computed from the database with the sqlite3 module, independently of Docket."""
    with sqlite3.connect(db) as conn:
        value = conn.execute("SELECT SUM(amount) FROM orders").fetchone()[0]
    conn.close()
    return float(value)


def sync(home: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(docket("sources", "sync", "--home", str(home), "--json").stdout)["shop"]  # type: ignore[no-any-return]


def ask(home: Path) -> dict:  # type: ignore[type-arg]
    out = docket("ask", QUESTION, "--model", "openai:m", "--home", str(home), "--json").stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_ask_totals_the_rows_of_a_synced_database(model: ScriptedModel, shop: tuple[Path, Path]) -> None:
    home, db = shop
    report = sync(home)
    assert report["error"] is None and report["added"] == 3 and report["warnings"] == []

    model.replies[:] = [TOTAL_SQL]
    out = ask(home)
    assert out["method"] == "sql" and out["abstained"] is False
    assert out["table"]["tables"] == ["orders"] and out["table"]["rows"] == [[pytest.approx(total(db))]]
    assert out["answer"] == "Total amount: 235.75 [1]"
    assert out["citations"][0]["path"] == "orders"
    prompt = model.prompts[0]
    assert "CREATE TABLE orders" in prompt and "amount REAL" in prompt and "Acme Bakery" in prompt

    with sqlite3.connect(db) as conn:  # the table follows the database on the next sync
        conn.execute("INSERT INTO orders VALUES (4, 'Dune Surf Shop', 1000, 'open')")
        conn.execute("DELETE FROM orders WHERE id = 2")
    conn.close()
    report = sync(home)
    assert (report["added"], report["deleted"]) == (1, 1)
    model.replies[:] = [TOTAL_SQL]
    again = ask(home)
    assert again["table"]["rows"] == [[pytest.approx(total(db))]] and total(db) == pytest.approx(1155.75)


def test_removed_source_answers_no_more_from_its_table(model: ScriptedModel, shop: tuple[Path, Path]) -> None:
    home, _ = shop
    sync(home)
    docket("sources", "remove", "shop", "--home", str(home))
    model.replies[:] = [TOTAL_SQL]
    out = json.loads(docket("ask", QUESTION, "--sql", "--model", "openai:m", "--home", str(home), "--json").stdout)
    assert out["method"] != "sql" and any("no table you can read" in n for n in out["notes"])
    assert not any("CREATE TABLE" in p for p in model.prompts)


def test_only_readers_of_the_source_get_its_table_over_http(model: ScriptedModel, shop: tuple[Path, Path]) -> None:
    pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")
    from fastapi.testclient import TestClient

    from docket.config import load_settings
    from docket.server.app import create_app

    home, db = shop
    sync(home)
    settings = load_settings(home=home, overrides={"model": {"name": "openai:m", "base_url": model.url}})
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        accounts = app.state.docket.accounts
        seller = accounts.users.create("sam@example.com", "sam-password", "member")
        helper = accounts.users.create("hal@example.com", "hal-password", "member")
        accounts.workspaces.create("sales")
        accounts.workspaces.create("support")
        accounts.workspaces.add_member("sales", seller.id, "member")
        accounts.workspaces.add_member("support", helper.id, "member")
        keys = {user: accounts.keys.create(user.id)[1] for user in (seller, helper)}

        def ask_as(user: object, workspace: str) -> dict:  # type: ignore[type-arg]
            headers = {"Authorization": f"Bearer {keys[user]}"}  # type: ignore[index]
            body = {"question": QUESTION, "workspace": workspace}
            response = client.post("/api/ask", json=body, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        model.replies[:] = [TOTAL_SQL]
        allowed = ask_as(seller, "sales")
        assert allowed["method"] == "sql" and allowed["table"]["rows"] == [[pytest.approx(total(db))]]

        model.prompts.clear()
        model.replies[:] = [TOTAL_SQL]
        refused = ask_as(helper, "support")
        assert refused["method"] != "sql" and "table" not in refused
        assert not any("CREATE TABLE" in p or "Acme Bakery" in p for p in model.prompts)
