from __future__ import annotations

from pathlib import Path

import pytest

from docket.errors import BackendError
from docket.index.sqlite import SqliteStore
from tests.contracts.store_contract import StoreContract


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
