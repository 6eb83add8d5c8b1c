"""Uploaded files kept in PostgreSQL for servers that share it, and each server's local copy."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("argon2", reason="the server extra is not installed (pip install 'docket[server]')")

from docket.accounts import Accounts, uploads
from docket.config import load_settings
from docket.records import Records


def test_an_upload_folder_is_named_by_workspace_and_access_list(tmp_path: Path) -> None:
    base = tmp_path / "uploads"
    assert uploads.place(base, base / "Support") == ("Support", "")
    assert uploads.place(base, base / "Support" / ".restricted-abc") == ("Support", ".restricted-abc")
    assert uploads.place(base, base / "Support" / "sub") is None
    assert uploads.place(base, tmp_path / "elsewhere") is None


def test_one_server_keeps_uploads_in_its_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "kb")
    accounts = Accounts(tmp_path / "kb" / "accounts.db")
    assert uploads.root(accounts.uploads, settings) == (tmp_path / "kb" / "uploads").resolve()
    accounts.close()


def test_a_server_copies_what_another_uploaded_and_drops_what_it_deleted(pg_url: str, tmp_path: Path) -> None:
    first, second = Accounts(Records.postgres(pg_url)), Accounts(Records.postgres(pg_url))
    base_a, base_b = tmp_path / "a", tmp_path / "b"  # the two servers' machines
    uploads.save(first.uploads, base_a, base_a / "Support", "faq.txt", b"first version")
    uploads.save(first.uploads, base_a, base_a / "Support" / ".restricted-x", "hr.txt", b"salaries")

    uploads.materialize(second.uploads, base_b, base_b / "Support")
    assert [p.name for p in (base_b / "Support").iterdir() if p.is_file()] == ["faq.txt"]
    assert (base_b / "Support" / "faq.txt").read_bytes() == b"first version"

    uploads.save(second.uploads, base_b, base_b / "Support", "faq.txt", b"second version")  # a re-upload replaces
    uploads.materialize(first.uploads, base_a, base_a / "Support")
    assert (base_a / "Support" / "faq.txt").read_bytes() == b"second version"
    assert first.uploads.names("Support", "") == second.uploads.names("Support", "")

    second.uploads.remove("Support", "", "faq.txt")  # deleted on the second server
    uploads.materialize(first.uploads, base_a, base_a / "Support")
    assert not (base_a / "Support" / "faq.txt").exists()
    assert first.uploads.data("Support", ".restricted-x", "hr.txt") == b"salaries"
    assert first.uploads.instance() == second.uploads.instance()
    first.close()
    second.close()


def test_a_run_folder_kept_by_one_server_is_fetched_by_another(pg_url: str, tmp_path: Path) -> None:
    from docket.server.runs import _here, fetch_run_folder, keep_run_files, run_folder

    accounts = Accounts(Records.postgres(pg_url))
    a, b = load_settings(home=tmp_path / "a"), load_settings(home=tmp_path / "b")
    folder_a = run_folder(a, "r1")
    (folder_a / "input").mkdir(parents=True)
    (folder_a / "input" / "orders.csv").write_text("id,total\n1,10\n")
    (folder_a / "results.jsonl.progress").write_text("1\n")  # only for resuming on the same server
    keep_run_files(accounts, folder_a, "r1")

    folder_b = fetch_run_folder(accounts, b, "r1")
    assert folder_b == run_folder(b, "r1")
    assert (folder_b / "input" / "orders.csv").read_text() == "id,total\n1,10\n"
    assert not (folder_b / "results.jsonl.progress").exists()
    # the run's input names the file in the first server's home; the second reads its own copy
    assert _here(str(folder_a / "input" / "orders.csv"), "r1", folder_b) == str(folder_b / "input" / "orders.csv")
    assert _here("/srv/data/orders.csv", "r1", folder_b) == "/srv/data/orders.csv"
    accounts.close()
