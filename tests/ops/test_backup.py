"""docket.ops.backup called directly (the command-line behaviour is in tests/cli/test_backup.py)."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import UserError
from docket.ops.backup import backup, pg_dump_command, restore
from docket.version import __version__


def _home(path: Path) -> Path:
    path.mkdir()
    db = sqlite3.connect(path / "accounts.db")
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('kept')")
    db.commit()
    db.close()
    (path / "uploads" / "default").mkdir(parents=True)
    (path / "uploads" / "default" / "a.txt").write_text("an uploaded file")
    return path


def test_a_backup_restores_every_database_row_and_file_byte_for_byte(tmp_path: Path) -> None:
    home = _home(tmp_path / "kb")
    result = backup(load_settings(home=home), tmp_path / "kb.tar.gz")
    assert result.manifest["docket_version"] == __version__
    assert [e["path"] for e in result.manifest["files"]] == ["accounts.db", "uploads/default/a.txt"]
    with tarfile.open(result.path) as tar:
        assert tar.getnames()[0] == "manifest.json"

    restored = restore(load_settings(home=tmp_path / "again"), result.path)
    assert restored.replaced is False
    assert (tmp_path / "again" / "uploads" / "default" / "a.txt").read_text() == "an uploaded file"
    db = sqlite3.connect(tmp_path / "again" / "accounts.db")
    assert db.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    db.close()


def test_restoring_over_a_knowledge_base_is_refused_without_force(tmp_path: Path) -> None:
    home = _home(tmp_path / "kb")
    archive = backup(load_settings(home=home), tmp_path / "kb.tar.gz").path
    with pytest.raises(UserError, match="--force"):
        restore(load_settings(home=home), archive)
    assert restore(load_settings(home=home), archive, force=True).replaced is True


def test_the_pg_dump_command_never_shows_the_password() -> None:
    command = pg_dump_command("postgresql://docket:s3cret@db.example/docket")
    assert "s3cret" not in command and command.startswith("pg_dump -Fc")
