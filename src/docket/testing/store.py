"""What a built-in kind of store (:class:`docket.ledger.Store`: an index with its ledger in the same
database) must do: every contract of :mod:`docket.testing`, and syncing folders through both."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from docket.ingest.sync import source_for_path, sync_source
from docket.ledger import Ledger, SourceConfig, Store
from docket.testing.helpers import DIM, make_doc, put, vec
from docket.testing.index import DocumentIndexContract, ReembeddingContract
from docket.testing.ledger import LedgerContract
from docket.types import ParsedDocument, SentenceVectors, SyncReport

__all__ = ["StoreContract"]


class StoreContract(DocumentIndexContract, ReembeddingContract, LedgerContract):
    """The index, embedder switches and ledger of one store; the test class provides ``store``."""

    @pytest.fixture
    def ledger(self, store: Store) -> Ledger:
        return store.ledger

    def test_a_file_that_failed_is_not_parsed_again_until_it_or_docket_changes(
        self, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from docket import version
        from docket.ingest import sync as sync_module
        from docket.ingest.parsers import parse_bytes
        from docket.models.embedders import FakeEmbedder

        parsed: list[str] = []

        def counting(data: bytes, path: str) -> ParsedDocument:
            parsed.append(path)
            return parse_bytes(data, path)

        monkeypatch.setattr(sync_module, "parse_bytes", counting)
        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "good.txt").write_text("Refunds are paid within fourteen days.")
        bad = folder / "notes.txt"
        bad.write_bytes(b"   \n")  # only white space: "empty file"
        source = source_for_path(str(folder))

        def sync(**kw: Any) -> SyncReport:
            parsed.clear()
            return sync_source(store, FakeEmbedder(), source, **kw)

        first = sync()
        assert first.added == 1 and [f["path"] for f in first.failed] == ["notes.txt"] and len(parsed) == 2
        reason = first.failed[0]["error"]

        second = sync()  # unchanged: not read, not parsed, still reported and listed
        assert parsed == [] and second.failed == [] and second.unchanged == 1
        assert second.failed_before == [{"path": "notes.txt", "error": reason}]
        assert [(f["path"], f["error"]) for f in store.ledger.failures()] == [("notes.txt", reason)]

        os.utime(bad, (time.time() + 60, time.time() + 60))  # touched, the same bytes
        assert parsed == [] and sync().failed_before == [{"path": "notes.txt", "error": reason}]
        (failure,) = store.ledger.failures()
        assert failure["attempt"]["mtime"] == bad.stat().st_mtime  # remembered: next time not even read

        monkeypatch.setattr(version, "__version__", "99.0")  # an upgraded Docket tries again, once
        assert [f["path"] for f in sync().failed] == ["notes.txt"] and parsed == [str(bad.name)]
        assert sync().failed_before and parsed == []

        smaller = sync(max_file_bytes=1000)  # another limit may give another outcome: tried again
        assert [f["path"] for f in smaller.failed] == ["notes.txt"] and len(parsed) == 1

        assert sync(max_file_bytes=1000, retry_failed=True).failed and len(parsed) == 1  # asked for

        bad.write_bytes(b"\t\t\n\n")  # changed, still broken: parsed again
        assert [f["path"] for f in sync(max_file_bytes=1000).failed] == ["notes.txt"] and len(parsed) == 1

        bad.write_text("Shipping is free above fifty euros.")  # fixed: indexed, the failure is gone
        fixed = sync(max_file_bytes=1000)
        assert fixed.added == 1 and fixed.failed == fixed.failed_before == [] and store.ledger.failures() == []

    def test_pruning_drops_sentence_vectors_of_chunks_gone(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        kept = put(store, make_doc("d1", "a.txt"), ["kept text"], [0])
        gone = put(store, make_doc("d2", "b.txt"), ["gone text"], [1])
        one = SentenceVectors.of([(0, 9)], vec(3)[None, :])
        store.ledger.put_sentence_vectors("m", {kept[0].hash: one, gone[0].hash: one})
        store.delete_document("d2")
        assert store.ledger.prune_sentence_vectors("m") == 1
        assert list(store.ledger.sentence_vectors("m", DIM, [kept[0].hash, gone[0].hash])) == [kept[0].hash]
        assert store.ledger.prune_sentence_vectors("another") == 1  # another embedder's: all gone
        assert store.ledger.sentence_vectors("m", DIM, [kept[0].hash]) == {}

    def test_stats_count_the_ledger_too(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["text"], [0])
        store.ledger.add_source("src", SourceConfig(path="/x"))
        store.ledger.record_failure("src", "bad.pdf", "encrypted PDF")
        stats = store.stats()
        assert (stats["documents"], stats["chunks"], stats["sources"], stats["failures"]) == (1, 1, 1, 1)
        assert (stats["embedder"], stats["dimensions"]) == ("m", DIM)
