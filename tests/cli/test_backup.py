"""`docket backup` / `docket restore`: a snapshot taken while `docket serve` uploads and answers
restores into a knowledge base that searches and signs in the same; damaged, foreign or newer
archives and occupied folders are refused with a clear message."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import docket
from tests.conftest import DEMO
from tests.ingest.test_crash import check_sound, snapshot

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from tests.server.test_serve import _port, _serve

SETTINGS = '[search]\nk = 5\nmode = "semantic"\n'
QUERIES = ["parental leave weeks", "working remotely", "holiday list", "code of conduct complaint"]


@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")  # deterministic vectors, no model to load


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _key(home: str, user: str, *workspace: str) -> str:
    args = ["keys", "create", "--user", user, *(a for w in workspace for a in ("--workspace", w))]
    return str(json.loads(docket(*args, "--home", home, "--json").stdout)["key"])


def _wait_for_jobs(api: str, key: str) -> None:
    for _ in range(3000):
        jobs = httpx.get(f"{api}/jobs", headers=_auth(key), timeout=10).json()["jobs"]
        if all(j["state"] in ("done", "failed") for j in jobs):
            assert all(j["state"] == "done" for j in jobs), jobs
            return
        threading.Event().wait(0.05)
    raise AssertionError("the jobs did not finish")


def _searches(api: str, key: str) -> list[list[tuple[str, str, float]]]:
    out = []
    for q in QUERIES:
        reply = httpx.get(f"{api}/search", params={"q": q, "workspace": "Support"}, headers=_auth(key), timeout=30)
        assert reply.status_code == 200, reply.text
        out.append([(h["path"], h["text"], round(h["score"], 6)) for h in reply.json()["hits"]])
    return out


def test_a_backup_taken_while_the_server_works_restores_a_knowledge_base_that_answers_the_same(
    tmp_path: Path,
) -> None:
    home = str(tmp_path / "kb")
    docket("users", "create", "owner@example.com", "--password", "owner-password", "--admin", "--home", home)
    docket("users", "create", "ann@example.com", "--password", "ann-password", "--home", home)
    for workspace in ("Support", "Scratch"):
        docket("workspaces", "create", workspace, "--public", "--home", home)
        docket("workspaces", "add-member", workspace, "ann@example.com", "--role", "editor", "--home", home)
    key = _key(home, "ann@example.com", "Support", "Scratch")
    # semantic scores do not depend on the rest of the corpus, which grows in Scratch while the backup runs
    (Path(home) / "docket.toml").write_text(SETTINGS)

    port = _port()
    api = f"http://127.0.0.1:{port}/api"
    log = tmp_path / "serve.log"
    proc = _serve(Path(home), port, log)
    stop = threading.Event()
    errors: list[str] = []
    written = [0]

    def keep_working() -> None:  # uploads into Scratch and asks in Support until told to stop
        n = 0
        while not stop.is_set():
            n += 1
            files = [
                ("files", (f"scratch{n:03d}-{i}.txt", f"Scratch note {n}-{i} about pallets.".encode()))
                for i in range(5)
            ]
            reply = httpx.post(f"{api}/workspaces/Scratch/documents", files=files, headers=_auth(key), timeout=30)
            asked = httpx.post(
                f"{api}/ask",
                json={"question": "How long is parental leave?", "workspace": "Support"},
                headers=_auth(key),
                timeout=30,
            )
            if reply.status_code != 202 or asked.status_code != 200:
                errors.append(f"{reply.status_code} {reply.text[:200]} / {asked.status_code} {asked.text[:200]}")
            written[0] = n

    try:
        handbook = sorted(DEMO.rglob("*.md"))
        files = [("files", (p.name, p.read_bytes())) for p in handbook]
        assert httpx.post(f"{api}/workspaces/Support/documents", files=files, headers=_auth(key), timeout=60).is_success
        _wait_for_jobs(api, key)
        before = _searches(api, key)
        assert all(before), before
        worker = threading.Thread(target=keep_working, daemon=True)
        worker.start()
        while written[0] < 3 and not errors:
            threading.Event().wait(0.05)
        archive = tmp_path / "backups" / "kb.tar.gz"
        archive.parent.mkdir()
        made = json.loads(docket("backup", str(archive), "--home", home, "--json").stdout)
        stop.set()
        worker.join(60)
        assert errors == []
        _wait_for_jobs(api, key)
        assert written[0] >= 3
    finally:
        stop.set()
        proc.terminate()
        proc.wait(20)
    assert os.stat(archive).st_mode & 0o077 == 0, "the archive holds accounts: only its owner may read it"
    assert made["counts"]["documents"] >= len(handbook) and made["files"] >= 4

    restored = tmp_path / "restored"
    result = json.loads(docket("restore", str(archive), "--home", str(restored), "--json").stdout)
    assert result["counts"] == made["counts"] and result["replaced"] is False
    assert check_sound(restored) == made["counts"]["documents"]
    assert (restored / "docket.toml").read_text() == SETTINGS
    assert sorted(p.name for p in (restored / "uploads" / "Support").iterdir()) == sorted(p.name for p in handbook)
    original = snapshot(Path(home))
    for path, doc in snapshot(restored)["documents"].items():  # a snapshot: nothing the original lacks
        assert original["documents"][path] == doc, path

    proc = _serve(restored, port, log)
    try:
        _wait_for_jobs(api, key)  # jobs the backup caught running are requeued and finished
        assert _searches(api, key) == before
        docs = httpx.get(f"{api}/documents", params={"workspace": "Support"}, headers=_auth(key), timeout=10).json()
        assert len(docs["documents"]) == len(handbook) and all(d["uploaded"] for d in docs["documents"])
        signed_in = httpx.post(
            f"{api}/session", json={"email": "owner@example.com", "password": "owner-password"}, timeout=10
        )
        assert signed_in.status_code == 200 and signed_in.json()["user"]["email"] == "owner@example.com"
        wrong = httpx.post(f"{api}/session", json={"email": "ann@example.com", "password": "nope-nope"}, timeout=10)
        assert wrong.status_code == 401
    finally:
        proc.terminate()
        proc.wait(20)
    final = snapshot(restored)["documents"]
    assert all(original["documents"][path] == doc for path, doc in final.items())


@pytest.fixture(scope="module")
def small_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small knowledge base and its backup (read-only use)."""
    root = tmp_path_factory.mktemp("backup")
    home, archive = root / "kb", root / "kb.tar.gz"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DOCKET_EMBEDDER__NAME", "fake")
        docket("ingest", str(DEMO / "Benefits and Perks"), "--home", str(home))
        docket("backup", str(archive), "--home", str(home))
    return home, archive


def test_a_restored_backup_holds_the_same_index(small_backup: tuple[Path, Path], tmp_path: Path) -> None:
    home, archive = small_backup
    restored = tmp_path / "restored"
    proc = docket("restore", str(archive), "--home", str(restored))
    assert "Restored the backup" in proc.stdout and "8 documents" in proc.stdout
    assert snapshot(restored) == snapshot(home)
    assert json.loads(docket("status", "--home", str(restored), "--json").stdout)["documents"] == 8
    assert not [p for p in restored.parent.iterdir() if p.name.startswith(".docket-restore")]


def test_a_damaged_archive_is_refused_and_nothing_is_restored(small_backup: tuple[Path, Path], tmp_path: Path) -> None:
    _, archive = small_backup
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(data))
    target = tmp_path / "restored"
    proc = docket("restore", str(damaged), "--home", str(target), check=False)
    assert (
        proc.returncode == 2
        and "damaged or not a Docket backup" in proc.stderr
        and "nothing was restored" in proc.stderr
    )
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".docket-restore")]

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: len(data) // 3])
    proc = docket("restore", str(truncated), "--home", str(target), "--json", check=False)
    assert proc.returncode == 2 and "damaged" in json.loads(proc.stdout)["error"]["message"]
    other = tmp_path / "notes.txt"
    other.write_text("not a backup")
    proc = docket("restore", str(other), "--home", str(target), check=False)
    assert proc.returncode == 2 and "not a Docket backup" in proc.stderr and not target.exists()


def _rewrite_manifest(archive: Path, out: Path, **changes: Any) -> None:
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                data = json.dumps({**json.loads(data), **changes}).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


def test_a_backup_from_a_newer_docket_is_refused(small_backup: tuple[Path, Path], tmp_path: Path) -> None:
    _, archive = small_backup
    newer = tmp_path / "newer.tar.gz"
    _rewrite_manifest(archive, newer, schema_version=999, docket_version="99.0")
    proc = docket("restore", str(newer), "--home", str(tmp_path / "restored"), check=False)
    assert proc.returncode == 2 and "newer Docket" in proc.stderr and "upgrade Docket" in proc.stderr
    tampered = tmp_path / "tampered.tar.gz"
    _rewrite_manifest(archive, tampered, files=[{"path": "../escape", "size": 1, "sha256": "0" * 64}])
    proc = docket("restore", str(tampered), "--home", str(tmp_path / "restored"), check=False)
    assert proc.returncode == 2 and "bad path" in proc.stderr
    assert not (tmp_path / "restored").exists() and not (tmp_path / "escape").exists()


def test_restoring_over_a_knowledge_base_needs_force(small_backup: tuple[Path, Path], tmp_path: Path) -> None:
    home, archive = small_backup
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    proc = docket("restore", str(archive), "--home", str(target), check=False)
    assert proc.returncode == 2 and "is not empty" in proc.stderr and "--force" in proc.stderr
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    result = json.loads(docket("restore", str(archive), "--home", str(target), "--force", "--json").stdout)
    assert result["replaced"] is True and not (target / "keep.txt").exists()
    assert snapshot(target) == snapshot(home)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".docket-restore")]
    (tmp_path / "empty").mkdir()
    docket("restore", str(archive), "--home", str(tmp_path / "empty"))  # an empty folder is not "in use"


def test_a_backup_leaves_out_wal_files_and_records_hashes(small_backup: tuple[Path, Path]) -> None:
    home, archive = small_backup
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        snap = tar.extractfile("home/docket.db").read()  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and "home/docket.db" in names
    assert not [n for n in names if n.endswith(("-wal", "-shm", "-journal"))]
    assert {f["path"] for f in manifest["files"]} == {n.removeprefix("home/") for n in names[1:]}
    assert manifest["counts"] == {"documents": 8, "chunks": manifest["counts"]["chunks"]}
    assert manifest["schema_version"] >= 1 and manifest["store"] == "sqlite"
    assert snap.startswith(b"SQLite format 3\x00")
    db = sqlite3.connect(home / "docket.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # the live file is left as it was
    finally:
        db.close()


def test_with_postgresql_backup_names_the_pg_dump_command(
    small_backup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _ = small_backup
    monkeypatch.setenv("DOCKET_DATABASE_URL", "postgresql://docket:s3cret-pw@db.internal:5432/docket")
    proc = docket("backup", str(tmp_path / "local.tar.gz"), "--home", str(home))
    assert "pg_dump -Fc" in proc.stdout and "postgresql://docket:****@db.internal:5432/docket" in proc.stdout
    assert "s3cret-pw" not in proc.stdout + proc.stderr
    data = json.loads(docket("backup", str(tmp_path / "local2.tar.gz"), "--home", str(home), "--json").stdout)
    assert data["pg_dump"].startswith("pg_dump -Fc") and "s3cret-pw" not in json.dumps(data)
