"""docket.ops.copy called directly (``docket db copy`` end to end is in tests/cli/test_db.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import UserError
from docket.index.postgres import PostgresStore
from docket.index.sqlite import SqliteStore
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from docket.ops.copy import copy_store, home_parts


def test_home_parts_names_only_what_the_home_holds(tmp_path: Path) -> None:
    assert home_parts(tmp_path) == {}
    (tmp_path / "accounts.db").write_bytes(b"")
    (tmp_path / "uploads").mkdir()
    assert home_parts(tmp_path) == {"records": tmp_path / "accounts.db", "uploads": tmp_path / "uploads"}


def test_copy_store_moves_documents_with_their_vectors_and_refuses_a_second_copy(pg_url: str, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "leave.md").write_text("# Leave\n\nNew parents get sixteen weeks of paid leave.\n")
    settings = load_settings(home=tmp_path / "kb")
    with KnowledgeBase(settings, embedder=FakeEmbedder()) as kb:
        assert kb.ingest([str(tmp_path / "docs")]).failed == []
    source = SqliteStore(settings.db_path)
    target = PostgresStore(pg_url)
    try:
        result = copy_store(source, target)
        assert result["copied"]["documents"] == 1 and result["copied"]["chunks"] >= 1
        assert result["verified"]["matching"] == result["verified"]["queries"] > 0
        with pytest.raises(UserError, match="--merge"):
            copy_store(source, target)
    finally:
        target.close()
        source.close()
