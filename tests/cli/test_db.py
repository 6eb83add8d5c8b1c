"""`docket db ...` and the foundation commands with DOCKET_DATABASE_URL set, against a real PostgreSQL."""

from __future__ import annotations

import hashlib
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
    assert db["backend"] == "postgres" and db["schema_version"] == 6
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
    assert local == {"backend": "sqlite", "from_version": 0, "to_version": 3}
    again = docket("db", "upgrade", "--home", str(home))
    assert "up to date (version 3)" in again.stdout
    status = json.loads(docket("db", "status", "--home", str(home), "--json").stdout)
    assert status["backend"] == "sqlite" and status["schema_version"] == 3 and status["integrity"] == "ok"
    assert "queues" not in status  # no server has run from this home

    from docket.accounts import Accounts
    from docket.server.jobs import JOBS
    from docket.work import LeaseQueue

    accounts = Accounts(home / "accounts.db")
    accounts.jobs.create("default", None, ["a.pdf"])
    LeaseQueue(accounts.db, JOBS).finish(accounts.jobs.create("default", None, ["b.pdf"]), "disk full")
    accounts.close()
    status = json.loads(docket("db", "status", "--home", str(home), "--json").stdout)
    assert status["queues"]["jobs"] == {"queued": 1, "failed": 1}
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    remote = json.loads(docket("db", "upgrade", "--home", str(home), "--json").stdout)
    assert remote == {"backend": "postgres", "from_version": 0, "to_version": 6}


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


CSV = "Item,Category,Units\nbolt,hardware,1200\nnut,hardware,800\nglue,supplies,15\n"


def _single_server_home(home: Path, docs: Path) -> dict[str, object]:
    """A home as one `docket serve` leaves it: accounts, a pending review, a spreadsheet table and an
    uploaded file (ingested from HOME/uploads/<workspace>, as the server does)."""
    from docket.accounts import Accounts
    from docket.server.runs import RUNS
    from docket.work import LeaseQueue
    from docket.workflows.review import ReviewQueue

    (docs / "stock.csv").write_text(CSV)
    docket("ingest", str(docs), "--home", str(home), "--json")
    upload = home / "uploads" / "Support" / "refunds.txt"
    upload.parent.mkdir(parents=True)
    upload.write_text("Refunds are issued within 14 days. Code REFUND-4242.")
    docket("ingest", str(upload.parent), "--workspace", "Support", "--home", str(home), "--json")

    accounts = Accounts(home / "accounts.db")
    owner = accounts.users.create("owner@example.com", "owner-password", role="owner")
    ann = accounts.users.create("ann@example.com", "ann-password", name="Ann")
    accounts.workspaces.create("Support")
    accounts.workspaces.add_member("Support", ann.id, "editor")
    accounts.groups.create("staff")
    accounts.groups.add("staff", ann.id)
    _, key = accounts.keys.create(ann.id, name="laptop")
    _, hook = accounts.hooks.create("summarize", "Support", name="tickets")
    accounts.schedules.add("nightly", "0 2 * * *", workflow="summarize", workspace="Support")
    accounts.audit.record("owner@example.com", "created user", "ann@example.com")
    accounts.runs.create("run-1", "summarize", "Support", ann.id, {"workspaces": ["Support"]}, "api", {"n": 1}, {})
    LeaseQueue(accounts.db, RUNS).finish("run-1", summary=json.dumps({"items": 1}), documents="[]")
    (home / "runs" / "run-1").mkdir(parents=True)
    (home / "runs" / "run-1" / "results.jsonl").write_text('{"summary": "ok"}\n')
    accounts.close()
    with ReviewQueue.for_home(home) as queue:
        review = queue.add("reply", {"draft": "Dear Bob, your refund is on its way."}, title="Reply to Bob")
    return {"owner": owner.id, "ann": ann.id, "key": key, "hook": hook, "review": review}


def test_copy_moves_the_servers_records_reviews_tables_and_uploads(
    pg_url: str, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("argon2", reason="the server extra: pip install -e '.[server]'")
    from docket.accounts import Accounts
    from docket.index.postgres.tables import PostgresTableStore
    from docket.index.tables import TableStore
    from docket.records import Records

    home = tmp_path / "kb"
    made = _single_server_home(home, docs)
    local_tables = TableStore(home / "tables.db")
    [table] = [t.name for t in local_tables.tables()]
    figures = "SELECT category, SUM(units) FROM stock GROUP BY category ORDER BY category"
    local = local_tables.query(figures.replace("stock", table), [table]).rows
    local_tables.close()

    copied = json.loads(docket("db", "copy", "--to", pg_url, "--home", str(home), "--json").stdout)
    assert copied["copied"]["documents"] == 10 and copied["verified"]["counts"]["documents"] == 10  # keys kept
    assert copied["records"]["users"] == 2 and copied["records"]["memberships"] == 1
    assert copied["records"]["api_keys"] == 1 and copied["records"]["group_members"] == 1
    assert copied["records"]["workflow_hooks"] == 1 and copied["records"]["schedules"] == 1
    assert copied["records"]["audit"] == 1 and copied["records"]["workflow_runs"] == 1 and copied["run_files"] == 1
    assert copied["reviews"] == {"reviews": 1} and copied["tables"] == 1 and copied["uploads"] == 1
    assert "kept" not in copied

    # an empty home on the database: everything is there
    monkeypatch.setenv("DOCKET_DATABASE_URL", pg_url)
    empty = tmp_path / "empty"
    accounts = Accounts(Records.postgres(pg_url))
    try:
        signed_in = accounts.users.verify_password("ann@example.com", "ann-password")
        assert signed_in is not None and signed_in.id == made["ann"]
        owner = accounts.users.verify_password("owner@example.com", "owner-password")
        assert owner is not None and owner.id == made["owner"] and owner.role == "owner"
        assert accounts.users.verify_password("ann@example.com", "wrong") is None
        found = accounts.keys.owner(str(made["key"]))
        assert found is not None and found[0].email == "ann@example.com"
        assert accounts.workspaces.memberships(int(made["ann"])) == {"Support": "editor"}
        assert accounts.groups.all() == {"staff": ["ann@example.com"]}
        hook = accounts.hooks.by_token(str(made["hook"]))
        assert hook is not None and hook["workflow"] == "summarize"
        assert [s["name"] for s in accounts.schedules.all()] == ["nightly"]
        assert [a["action"] for a in accounts.audit.log()] == ["created user"]
        assert accounts.uploads.names("Support", "") == {
            "refunds.txt": hashlib.sha256((home / "uploads/Support/refunds.txt").read_bytes()).hexdigest()
        }
        assert accounts.runs.get("run-1")["status"] == "done" and accounts.runs.file_names("run-1") == ["results.jsonl"]
        bob = accounts.users.create("bob@example.com", "bob-password")  # the id sequence moved past the copied ids
        assert bob.id == max(int(made["owner"]), int(made["ann"])) + 1
        new_key, _ = accounts.keys.create(bob.id)
        assert new_key == 2
    finally:
        accounts.close()
    reviews = json.loads(docket("reviews", "list", "--home", str(empty), "--json").stdout)["reviews"]
    assert [(r["id"], r["title"], r["status"]) for r in reviews] == [(made["review"], "Reply to Bob", "pending")]
    remote_tables = PostgresTableStore(pg_url)
    try:
        assert [t.name for t in remote_tables.tables()] == [table]
        assert (
            remote_tables.query(figures.replace("stock", table), [table]).rows
            == local
            == (
                ("hardware", 2000),
                ("supplies", 15),
            )
        )
    finally:
        remote_tables.close()
    # the uploaded document's source is the servers' shared uploads folder, not this machine's home
    sources = json.loads(docket("sources", "list", "--home", str(empty), "--json").stdout)
    upload_sources = [s for s in sources if "docket-uploads-" in json.dumps(s)]
    assert len(upload_sources) == 1 and str(home) not in json.dumps(upload_sources)


def test_copy_refuses_a_database_that_already_holds_records_unless_merging(pg_url: str, tmp_path: Path) -> None:
    pytest.importorskip("argon2", reason="the server extra: pip install -e '.[server]'")
    from docket.accounts import Accounts
    from docket.records import Records

    home = tmp_path / "kb"
    local = Accounts(home / "accounts.db")
    local.users.create("owner@example.com", "owner-password", role="owner")
    local.users.create("ann@example.com", "ann-password")
    local.close()
    remote = Accounts(Records.postgres(pg_url))
    remote.users.create("owner@example.com", "other-password", role="owner")
    remote.close()

    refused = docket("db", "copy", "--to", pg_url, "--home", str(home), check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1 and "1 users" in message and "--merge" in message
    merged = json.loads(docket("db", "copy", "--to", pg_url, "--merge", "--home", str(home), "--json").stdout)
    # the owner (id 1, and the same email) is there already and kept as it is; Ann (id 2) is added
    assert merged["records"]["users"] == 1 and merged["kept"]["records"] == {"users": 1}
    remote = Accounts(Records.postgres(pg_url))
    try:
        assert remote.users.verify_password("owner@example.com", "other-password") is not None
        assert remote.users.verify_password("ann@example.com", "ann-password") is not None
        assert remote.users.create("bob@example.com", "bob-password").id == 3
    finally:
        remote.close()


def test_a_server_on_the_copied_database_serves_the_moved_install(
    pg_url: str, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fastapi", reason="the server extra: pip install -e '.[server]'")
    import httpx

    from tests.server.test_stateless import _finished, _key, _start, _stop, _upload_cache, _wait

    home = tmp_path / "kb"
    made = _single_server_home(home, docs)
    docket("db", "copy", "--to", pg_url, "--home", str(home), "--json")
    shutil.rmtree(home)  # the old machine is gone
    server = _start(tmp_path / "new", pg_url)
    try:
        _wait(server)
        signed_in = httpx.post(
            f"{server.api}/session", json={"email": "ann@example.com", "password": "ann-password"}, timeout=30
        )
        assert signed_in.status_code == 200, signed_in.text
        me = httpx.get(f"{server.api}/me", headers=_key(str(made["key"])), timeout=30).json()
        assert me["user"]["email"] == "ann@example.com"
        [doc] = [
            d
            for d in httpx.get(f"{server.api}/documents", headers=_key(str(made["key"])), timeout=30).json()[
                "documents"
            ]
            if d["path"] == "refunds.txt"
        ]
        assert doc["uploaded"] is True
        download = httpx.get(f"{server.api}/documents/{doc['id']}/download", headers=_key(str(made["key"])))
        assert download.status_code == 200 and b"REFUND-4242" in download.content  # fetched from the database
        # a re-upload of the same name, asked to replace, replaces the moved document instead of adding a second one
        files = [("files", ("refunds.txt", b"Refunds are issued within 30 days. Code REFUND-5353."))]
        again = httpx.post(
            f"{server.api}/workspaces/Support/documents",
            files=files,
            data={"if_exists": "replace"},
            headers=_key(str(made["key"])),
            timeout=60,
        )
        assert again.status_code == 202, again.text
        assert [f["status"] for f in again.json()["files"]] == ["replaced"]
        assert _finished(server.api, str(made["key"]), int(again.json()["job"]["id"]))["state"] == "done"
        listed = httpx.get(f"{server.api}/documents", headers=_key(str(made["key"])), timeout=30).json()
        [doc] = [d for d in listed["documents"] if d["path"] == "refunds.txt"]
        text = httpx.get(f"{server.api}/documents/{doc['id']}/text", headers=_key(str(made["key"]))).json()["text"]
        assert "REFUND-5353" in text
    finally:
        _stop(server)
        shutil.rmtree(_upload_cache(pg_url), ignore_errors=True)
