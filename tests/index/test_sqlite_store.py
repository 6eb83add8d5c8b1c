from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from docket.errors import BackendError
from docket.index.migrations import sqlite_status
from docket.index.sqlite import SqliteStore
from docket.testing import StoreContract
from docket.types import ParseAttempt


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        s = SqliteStore(tmp_path / "docket.db")
        yield s
        s.close()


def test_database_uses_wal_mode(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "docket.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "docket.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BackendError, match="cannot open knowledge base"):
        SqliteStore(bad)


def test_a_knowledge_base_from_before_attempts_were_kept_is_upgraded_keeping_its_failures(tmp_path: Path) -> None:
    path = tmp_path / "docket.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path)  # what schema version 2 had: the reason only
    for column in ("size", "mtime", "content_hash", "docket_version", "tried_with"):
        db.execute(f"ALTER TABLE failures DROP COLUMN {column}")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.execute("INSERT INTO failures VALUES ('src', 'bad.pdf', 'encrypted PDF', 1.0)")
    db.commit()
    db.close()

    store = SqliteStore(path)
    assert sqlite_status(path)["schema_version"] == 3
    assert store.ledger.failures() == [
        {"source": "src", "path": "bad.pdf", "error": "encrypted PDF", "at": 1.0, "attempt": None}
    ]
    attempt = ParseAttempt(10, 1.0, None, "0.1.0", "digest")
    store.ledger.record_failure("src", "bad.pdf", "encrypted PDF", attempt)
    assert ParseAttempt.from_dict(store.ledger.failures()[0]["attempt"]) == attempt
    store.close()
    reopened = SqliteStore(path)  # opening again changes nothing
    assert reopened.ledger.failures()[0]["attempt"]["size"] == 10
    reopened.close()


def test_the_store_pages_its_documents_in_one_query(tmp_path: Path) -> None:
    from docket.protocols import DocumentPaging

    store = SqliteStore(str(tmp_path / "kb.db"))
    try:
        assert isinstance(store, DocumentPaging)  # not the fallback that lists every document
    finally:
        store.close()
