"""Switching embedders while the knowledge base keeps working: resumable, nothing written
meanwhile is lost, and a process still holding the old embedder cannot write stale vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import IndexMismatchError
from docket.index.reindex import reindex, reindex_progress
from docket.index.sqlite import SqliteStore
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder


def _kb(home: Path, docs: Path, count: int = 5) -> None:
    docs.mkdir(exist_ok=True)
    for i in range(count):
        (docs / f"note{i}.txt").write_text(f"Note {i} is about topic{i} and nothing else.")
    with KnowledgeBase(load_settings(home=home)) as kb:
        kb.ingest([str(docs)])


class Flaky(FakeEmbedder):
    """Fails after ``fail_after`` batches, like an embedding server that goes away."""

    def __init__(self, fail_after: int) -> None:
        super().__init__(dim=32)
        self.fail_after, self.calls, self.texts = fail_after, 0, 0

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("server went away")
        self.texts += len(texts)
        return super().embed_passages(texts)


def test_an_interrupted_switch_resumes_without_embedding_twice(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "kb"
    _kb(home, tmp_path / "docs", count=150)
    monkeypatch.setattr("docket.index.reindex.BATCH", 64)
    settings = load_settings(home=home)
    first = Flaky(fail_after=1)
    with pytest.raises(RuntimeError):
        reindex(settings, "fake", embedder=first)
    assert first.texts == 64
    second = Flaky(fail_after=100)
    result = reindex(settings, "fake", embedder=second)
    assert second.texts == result["chunks"] - 64  # only what was not embedded before
    store = SqliteStore(settings.db_path)
    assert store.embedder_info() == ("fake-hash", 32)
    store.close()
    assert reindex_progress(home) is None and not (home / "reindex.db").exists()


def test_documents_added_during_the_switch_get_new_vectors(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    docs = tmp_path / "docs"
    _kb(home, docs)
    settings = load_settings(home=home)
    added = []

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "swapping" and not added:  # another process ingests while vectors are computed
            (docs / "late.txt").write_text("A late note about the quarterly budget review.")
            with KnowledgeBase(load_settings(home=home)) as other:
                added.append(other.sync())

    reindex(settings, "fake", progress=progress)
    assert added[0].added == 1
    with KnowledgeBase(load_settings(home=home, overrides={"embedder": {"name": "fake"}})) as kb:
        assert not kb.switch_pending()
        hits = kb.search("quarterly budget review", mode="semantic", k=1)
        assert hits[0].path == "late.txt" and hits[0].score > 0.5


def test_a_long_running_process_follows_the_switch(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    docs = tmp_path / "docs"
    _kb(home, docs)
    with KnowledgeBase(load_settings(home=home)) as serving:
        assert serving.search("topic3", k=1)[0].path == "note3.txt"
        reindex(load_settings(home=home), "fake")
        # the next call notices the swap and embeds queries with the new embedder
        assert serving.search("topic3", mode="semantic", k=1)[0].path == "note3.txt"
        assert serving.embedder.name == "fake-hash"


def test_a_writer_still_holding_the_old_embedder_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    docs = tmp_path / "docs"
    _kb(home, docs)
    stale = SqliteStore(load_settings(home=home).db_path)
    stale.bind_embedder("minilm-l6-v2-int8", 384)
    reindex(load_settings(home=home), "fake")
    from docket.types import Chunk, Document, Location

    doc = Document(id="x", source="s", path="x.txt", title="x", filetype="txt", content_hash="h", size=1, mtime=0.0)
    chunk = Chunk("text", Location())
    with pytest.raises(IndexMismatchError, match="run the command again"):
        stale.put_document(doc, [chunk], {chunk.hash: FakeEmbedder(dim=384).embed_passages(["text"])[0]}, "text")
    stale.close()


def test_a_switch_follows_the_configured_postgresql_store(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "kb"
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"note{i}.txt").write_text(f"Note {i} is about topic{i} and nothing else.")
    settings = load_settings(home=home, overrides={"store": {"url": pg_url}})
    with KnowledgeBase(settings) as kb:
        kb.ingest([str(docs)])
    result = reindex(settings, "fake")
    assert result["embedder"] == "fake-hash" and result["chunks"] == 5
    with KnowledgeBase(settings) as kb:  # the database, not a local file, now holds the new vectors
        assert kb.store.embedder_info() == ("fake-hash", result["dimensions"])
        assert kb.search("topic3", k=1)[0].path.endswith("note3.txt")
    assert not (home / "docket.db").exists()
