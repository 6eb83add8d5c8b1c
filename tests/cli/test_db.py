"""`docket db ...` and the foundation commands with DOCKET_DATABASE_URL set, against a real PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import docket
from tests.conftest import DEMO
from tests.postgres import PgServer

SECRET = "s3cret-pw"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(DEMO / "Benefits and Perks", folder / "benefits")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    return folder


@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")  # the store is under test here, not the model


def _search(query: str, home: Path) -> list[tuple[str, str, float]]:
    hits = json.loads(docket("search", query, "--home", str(home), "--json", "--k", "5").stdout)
    return [(h["path"], h["text"], round(h["score"], 4)) for h in hits]


def test_the_foundation_commands_work_with_a_database_url(
    pg_url: str, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    home = tmp_path / "kb"
    report = json.loads(docket("ingest", str(docs), "--home", str(home), "--json").stdout)
    assert report["added"] == 8 and len(report["failed"]) == 1
    hits = json.loads(docket("search", "parental leave", "--home", str(home), "--json").stdout)
    assert hits and any("Parent" in h["path"] for h in hits[:3])
    answer = json.loads(docket("ask", "How long is new parent leave?", "--home", str(home), "--json").stdout)
    assert answer["sources"]
    sync = json.loads(docket("sync", "--home", str(home), "--json").stdout)
    assert sync  # nothing changed, but the source is known to the database
    status = json.loads(docket("status", "--home", str(home), "--json").stdout)
    assert status["documents"] == 8 and status["failures"] == 1
    assert not (home / "docket.db").exists()  # the index is in PostgreSQL, not in the home
    db = json.loads(docket("db", "status", "--home", str(home), "--json").stdout)
    assert db["backend"] == "postgres" and db["schema_version"] == 2
    assert db["hnsw_index"]["valid"] is True and db["documents"] == 8 and db["failures"] == 1


def test_copy_moves_an_embedded_kb_and_search_gives_the_same_results(
    pg_url: str, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "kb"
    docket("ingest", str(docs), "--home", str(home), "--json")
    docket("ask", "How long is new parent leave?", "--home", str(home), "--json")
    queries = ["parental leave", "sabbatical", "health insurance dental", "bereavement"]
    before = {q: _search(q, home) for q in queries}
    copied = json.loads(docket("db", "copy", "--to", pg_url, "--home", str(home), "--json").stdout)
    assert copied["copied"]["documents"] == 8 and copied["copied"]["answers"] == 1
    assert copied["copied"]["failures"] == 1 and copied["copied"]["sources"] == 1
    assert copied["verified"]["queries"] > 0 and copied["verified"]["matching"] == copied["verified"]["queries"]

    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    assert {q: _search(q, home) for q in queries} == before
    logs = json.loads(docket("logs", "--home", str(home), "--json").stdout)
    assert len(logs) == 1

    monkeypatch.delenv("DOCKET_DATABASE_URL")
    refused = docket("db", "copy", "--to", pg_url, "--home", str(home), check=False)
    assert refused.returncode == 2
    assert "not empty" in refused.stderr and "--merge" in refused.stderr
    merged = json.loads(docket("db", "copy", "--to", pg_url, "--merge", "--home", str(home), "--json").stdout)
    assert merged["verified"]["counts"]["documents"] == 8  # the same files again: replaced, not doubled


def test_upgrade_reports_the_schema_version_on_both_backends(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "kb"
    local = json.loads(docket("db", "upgrade", "--home", str(home), "--json").stdout)
    assert local == {"backend": "sqlite", "from_version": 0, "to_version": 1}
    again = docket("db", "upgrade", "--home", str(home))
    assert "up to date (version 1)" in again.stdout
    status = json.loads(docket("db", "status", "--home", str(home), "--json").stdout)
    assert status["backend"] == "sqlite" and status["schema_version"] == 1 and status["integrity"] == "ok"
    assert "queues" not in status  # no server has run from this home

    from docket.server.accounts import Accounts

    accounts = Accounts(home / "accounts.db")
    accounts.create_job("default", None, ["a.pdf"])
    accounts.finish_job(accounts.create_job("default", None, ["b.pdf"]), None, error="disk full")
    accounts.close()
    status = json.loads(docket("db", "status", "--home", str(home), "--json").stdout)
    assert status["queues"]["jobs"] == {"queued": 1, "failed": 1}
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    remote = json.loads(docket("db", "upgrade", "--home", str(home), "--json").stdout)
    assert remote == {"backend": "postgres", "from_version": 0, "to_version": 2}


def _one_line_error(*args: str) -> str:
    proc = docket(*args, check=False)
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("Error:") and len(message.splitlines()) == 1, message
    assert SECRET not in proc.stderr + proc.stdout
    return message


def test_bad_databases_give_one_line_errors_that_say_what_to_do(
    pg_server: PgServer, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = str(tmp_path / "kb")
    cases = {
        f"postgresql://docket:{SECRET}@127.0.0.1:1/docket": "not reachable",
        pg_server.url(pg_database, user="nobody", password=SECRET): "user does not exist",
        pg_server.url("no_such_db", password=SECRET): "createdb",
        f"mysql://docket:{SECRET}@localhost/docket": "postgresql://",
    }
    for url, hint in cases.items():
        monkeypatch.setenv("DOCKET_DATABASE_URL", url)
        assert hint in _one_line_error("status", "--home", home), url

    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_server.url(pg_database))
    docket("status", "--home", home)  # creates the schema
    pg_server.sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'", database=pg_database)
    assert "upgrade Docket" in _one_line_error("search", "leave", "--home", home)
    assert "upgrade Docket" in _one_line_error("db", "upgrade", "--home", home)


def test_a_database_without_pgvector_says_how_to_add_it(
    pg_server: PgServer, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"limited_{pg_database}"
    pg_server.sql(f"CREATE ROLE {role} LOGIN")  # may not create extensions (nor anything else) there
    try:
        monkeypatch.setenv("DOCKET_DATABASE_URL", pg_server.url(pg_database, user=role, password=SECRET))
        message = _one_line_error("status", "--home", str(tmp_path / "kb"))
        assert "pgvector" in message and "CREATE EXTENSION vector" in message
    finally:
        pg_server.drop_database(pg_database)
        pg_server.sql(f"DROP ROLE {role}")


def test_copy_refuses_a_target_that_is_not_postgresql(tmp_path: Path) -> None:
    message = _one_line_error(
        "db", "copy", "--to", f"mysql://docket:{SECRET}@localhost/docket", "--home", str(tmp_path / "kb")
    )
    assert "not a PostgreSQL URL" in message


def test_config_show_hides_the_database_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_DATABASE_URL", f"postgresql://docket:{SECRET}@db.internal:5432/docket")
    for extra in ((), ("--json",)):
        shown = docket("config", "show", "--home", str(tmp_path / "kb"), *extra).stdout
        assert "postgresql://docket:****@db.internal:5432/docket" in shown and SECRET not in shown


def test_an_embedded_kb_from_a_newer_docket_is_refused(tmp_path: Path) -> None:
    import sqlite3

    home = tmp_path / "kb"
    docket("status", "--home", str(home))
    db = sqlite3.connect(home / "docket.db")
    db.execute("UPDATE meta SET value = '42' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    message = _one_line_error("status", "--home", str(home))
    assert "schema version 42" in message and "upgrade Docket" in message
