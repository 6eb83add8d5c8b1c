"""The remote sync engine with an in-memory connector: counts, deletions only from complete listings,
checkpoints saved after the documents, whole-source errors, schedules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from docket.config import load_settings
from docket.errors import ConfigError, MissingExtraError, SourceError, UserError
from docket.index import get_document
from docket.ingest.sources import CONNECTORS, Fetched, Listing
from docket.ingest.sources import sync as remote
from docket.ingest.sources.sync import add_remote_source, next_run, sync_remote
from docket.kb import KnowledgeBase
from docket.kb.sources import due_sources, sync_due, sync_many
from docket.models.embedders import FakeEmbedder

ITEMS: dict[str, tuple[str, str]] = {}  # key -> (version, text): what the "memory" source holds now


class MemoryConnector:
    """Serves ITEMS; fetches only keys whose version changed; can fail or stop part-way."""

    type = "memory"

    def __init__(self, complete: bool = True, fail_after: int | None = None, broken: tuple[str, ...] = ()) -> None:
        self.complete, self.fail_after, self.broken = complete, fail_after, broken
        self.seen_checkpoint: dict[str, Any] | None = None

    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        self.seen_checkpoint = dict(checkpoint)
        listing = Listing(items=iter(()), complete=self.complete, checkpoint={"n": checkpoint.get("n", 0) + 1})

        def items() -> Iterator[Fetched]:
            for done, (key, (version, text)) in enumerate(sorted(ITEMS.items())):
                if self.fail_after is not None and done >= self.fail_after:
                    raise SourceError("connection lost")
                if key in self.broken:
                    listing.failed[key] = "could not read it"
                elif known.get(key) == version:
                    listing.unchanged.add(key)
                else:
                    yield Fetched(key, key.title(), text.encode(), "md", version, url=f"mem://{key}")

        listing.items = items()
        return listing


@CONNECTORS.register("memory")
def _memory(**options: Any) -> MemoryConnector:
    return MemoryConnector(**options)


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    ITEMS.clear()
    ITEMS.update(
        {"a": ("1", "# A\n\nAlpha apples."), "b": ("1", "# B\n\nBeta bananas."), "c": ("1", "# C\n\nCherries.")}
    )
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        add_remote_source(kb.store, "mem", "memory", {})
        yield kb


def _sync(kb: KnowledgeBase, connector: MemoryConnector | None = None):
    return sync_remote(kb.store, kb.embedder, "mem", connector, kb.ledger.sources()["mem"])


def test_counts_like_folder_sync_and_deletes_what_disappeared(kb: KnowledgeBase) -> None:
    assert kb.sync(["mem"]).added == 3
    ITEMS["a"] = ("2", "# A\n\nAlpha apricots.")
    ITEMS["d"] = ("1", "# D\n\nDates.")
    del ITEMS["c"]
    report = kb.sync(["mem"])
    assert (report.added, report.updated, report.unchanged, report.deleted) == (1, 1, 1, 1)
    docs = {d.path: d for d in kb.store.documents("mem")}
    assert set(docs) == {"a", "b", "d"}
    assert docs["a"].metadata["version"] == "2" and docs["a"].metadata["url"] == "mem://a"
    assert (kb.ledger.sources()["mem"].last_result or {})["added"] == 1


def test_incomplete_listing_deletes_nothing(kb: KnowledgeBase) -> None:
    _sync(kb)
    del ITEMS["c"]
    report = _sync(kb, MemoryConnector(complete=False))
    assert report.deleted == 0 and {d.path for d in kb.store.documents("mem")} == {"a", "b", "c"}


def test_failed_item_is_recorded_and_keeps_its_indexed_copy(kb: KnowledgeBase) -> None:
    _sync(kb)
    ITEMS["b"] = ("2", "# B\n\nnew")
    report = _sync(kb, MemoryConnector(broken=("b",)))
    assert report.failed == [{"path": "b", "error": "could not read it"}] and report.deleted == 0
    assert "b" in {d.path for d in kb.store.documents("mem")}
    assert [(f["path"], f["error"], f["attempt"]) for f in kb.ledger.failures("mem")] == [
        ("b", "could not read it", None)  # not fetched: tried again next time
    ]


def test_an_item_that_failed_to_parse_is_not_parsed_again_until_it_or_docket_changes(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docket import version

    parsed: list[str] = []
    real = remote.parse_with

    def counting(*args: Any) -> Any:
        parsed.append(args[2])
        return real(*args)

    monkeypatch.setattr(remote, "parse_with", counting)
    ITEMS["b"] = ("1", "   ")  # nothing to index: "empty file"
    first = _sync(kb)
    assert [f["path"] for f in first.failed] == ["b"] and len(parsed) == 3
    reason = first.failed[0]["error"]

    parsed.clear()
    second = _sync(kb)  # fetched again (it is not indexed), but not parsed
    assert parsed == [] and second.failed == [] and second.failed_before == [{"path": "b", "error": reason}]
    assert [f["path"] for f in kb.ledger.failures("mem")] == ["b"]
    assert (kb.ledger.sources()["mem"].last_result or {})["failed_before"] == second.failed_before

    ITEMS["b"] = ("2", "   ")  # a new version string, the same bytes
    assert _sync(kb).failed_before and parsed == []

    monkeypatch.setattr(version, "__version__", "99.0")  # an upgraded Docket tries again
    assert [f["path"] for f in _sync(kb).failed] == ["b"] and len(parsed) == 1

    ITEMS["b"] = ("3", "# B\n\nBlueberries.")  # fixed at the source
    fixed = _sync(kb)
    assert fixed.added == 1 and fixed.failed_before == [] and kb.ledger.failures("mem") == []


def test_same_content_under_a_new_version_is_unchanged(kb: KnowledgeBase) -> None:
    _sync(kb)
    ITEMS["a"] = ("etag-2", ITEMS["a"][1])
    report = _sync(kb)
    assert report.unchanged == 3 and report.updated == 0
    assert get_document(kb.store, "mem", "a").metadata["version"] == "etag-2"


def test_source_error_mid_listing_keeps_index_and_checkpoint(kb: KnowledgeBase) -> None:
    _sync(kb)
    assert kb.ledger.sources()["mem"].checkpoint == {"n": 1}
    del ITEMS["c"]
    ITEMS["a"] = ("2", "# A\n\nchanged")
    report = _sync(kb, MemoryConnector(fail_after=1))
    assert report.failed == [{"path": "mem", "error": "connection lost"}]
    assert report.updated == 1 and report.deleted == 0  # what came before the failure is written
    config = kb.ledger.sources()["mem"]
    assert config.checkpoint == {"n": 1} and config.last_error == "connection lost"
    connector = MemoryConnector()
    _sync(kb, connector)
    assert connector.seen_checkpoint == {"n": 1}
    assert kb.ledger.sources()["mem"].checkpoint == {"n": 2} and kb.ledger.sources()["mem"].last_error is None


def test_a_connector_bug_is_that_sources_error(kb: KnowledgeBase) -> None:
    _sync(kb)

    class Crashing(MemoryConnector):
        def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
            raise RuntimeError("boom")

    report = _sync(kb, Crashing())
    assert report.failed == [{"path": "mem", "error": "RuntimeError: boom"}] and report.deleted == 0
    assert len(list(kb.store.documents("mem"))) == 3


def test_one_source_failing_does_not_stop_the_others(kb: KnowledgeBase) -> None:
    add_remote_source(kb.store, "down", "web", {"url": "http://127.0.0.1:9/", "allow_private": True, "delay": 0})
    reports = sync_many(kb, ["down", "mem"])
    assert reports["down"].failed[0]["path"] == "down" and "cannot connect" in reports["down"].failed[0]["error"]
    assert reports["mem"].added == 3


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(remote._BUILTIN, "gopher", ("tests.ingest.sources.needs_missing_library", "gopher"))
    with pytest.raises(MissingExtraError, match=r"pip install 'docket\[gopher\]'"):
        remote.build_connector("gopher", {})


def test_add_refuses_bad_names_duplicates_schedules_and_access(kb: KnowledgeBase) -> None:
    with pytest.raises(UserError, match="already exists"):
        add_remote_source(kb.store, "mem", "memory", {})
    with pytest.raises(UserError, match="source name"):
        add_remote_source(kb.store, "no spaces", "memory", {})
    with pytest.raises(ConfigError, match="not a cron expression"):
        add_remote_source(kb.store, "m2", "memory", {}, schedule="every hour")
    with pytest.raises(UserError, match="user:EMAIL or group:NAME"):
        add_remote_source(kb.store, "m2", "memory", {}, access=["bob"])
    with pytest.raises(UserError, match="docket ingest"):
        add_remote_source(kb.store, "m2", "folder", {})


def test_due_sources_follow_the_schedule(kb: KnowledgeBase) -> None:
    add_remote_source(kb.store, "hourly", "memory", {}, schedule="0 * * * *")
    now = datetime(2026, 5, 1, 10, 30).astimezone()
    assert due_sources(kb, now) == ["hourly"]  # never synced: due at once; "mem" has no schedule
    reports = sync_due(kb, now)
    assert list(reports) == ["hourly"] and reports["hourly"].added == 3
    config = kb.ledger.sources()["hourly"]
    synced = datetime.fromtimestamp(config.last_run or 0).astimezone()
    expected = synced.replace(minute=0, second=0, microsecond=0).timestamp() + 3600
    assert next_run(config) == expected
    assert due_sources(kb, expected - 1) == [] and due_sources(kb, expected) == ["hourly"]
