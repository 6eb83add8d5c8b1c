"""What decides that a file which failed is not parsed again: the file, the Docket and the settings that tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import ModelError, ParseError, ParseWorkerError, SourceError, UnsupportedFileError
from docket.index.sqlite import SqliteStore
from docket.ingest.failures import FailedBefore, remembered, tried_with, tried_with_settings
from docket.ingest.sandbox import limits_from_settings, sandbox_from_settings
from docket.types import ParseAttempt


def test_only_failures_of_the_file_itself_are_remembered() -> None:
    assert remembered(ParseError("no text found in the file"))
    assert remembered(UnsupportedFileError("unsupported file type"))
    for other in (
        ParseWorkerError("the parse worker did not start"),
        ModelError("down"),
        SourceError("5xx"),
        OSError(),
    ):
        assert not remembered(other), other


def test_the_queue_and_the_workers_agree_on_what_tried(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "kb")
    ingest = settings.ingest
    sandbox = sandbox_from_settings(ingest)
    max_bytes = int(ingest.max_file_mb * 1024 * 1024)
    assert sandbox is not None
    assert tried_with_settings(ingest) == tried_with(max_bytes, limits_from_settings(ingest), sandbox)
    changed = {
        "max_file_mb": 5.0,
        "parse_timeout": 120.0,
        "parse_memory_mb": 4096,
        "max_pages": 10,
        "max_unzipped_mb": 10.0,
        "max_attachment_depth": 1,
        "max_attachments": 1,
        "sandbox": False,
    }
    for key, value in changed.items():  # each may change a parse's outcome: the failed files are tried again
        other = load_settings(home=tmp_path / "kb", overrides={"ingest": {key: value}}).ingest
        assert tried_with_settings(other) != tried_with_settings(ingest), key
    unrelated = load_settings(home=tmp_path / "kb", overrides={"ingest": {"ignore": ["*.tmp"]}}).ingest
    assert tried_with_settings(unrelated) == tried_with_settings(ingest)


def test_a_failure_matches_by_size_and_time_or_by_content_and_only_for_the_same_docket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docket import version

    store = SqliteStore(tmp_path / "kb.db")
    try:
        now = FailedBefore(store, "src", "limits-a")
        store.ledger.record_failure("src", "read.pdf", "encrypted PDF", now.attempt(10, 5.0, "h1"))
        store.ledger.record_failure("src", "big.pdf", "file too large", now.attempt(10**9, 7.0))  # never read
        store.ledger.record_failure("src", "gone.txt", "cannot read the file: Permission denied")
        store.ledger.record_failure(
            "src", "other.pdf", "encrypted PDF", ParseAttempt(10, 5.0, "h1", "0.0.1", "limits-a")
        )
        failed = FailedBefore(store, "src", "limits-a")
        assert failed.unchanged("read.pdf", 10, 5.0) == "encrypted PDF"
        assert failed.unchanged("read.pdf", 10, 6.0) is None  # touched: read it and compare
        assert failed.same_content("read.pdf", 10, "h1") == "encrypted PDF"
        assert failed.same_content("read.pdf", 10, "h2") is None
        assert failed.unchanged("big.pdf", 10**9, 7.0) == "file too large"
        assert failed.same_content("big.pdf", 10**9, "h3") is None  # its content was never known
        assert failed.unchanged("gone.txt", 0, 0.0) is None  # not the file's fault: tried again
        assert failed.unchanged("other.pdf", 10, 5.0) is None  # an older Docket tried it
        assert FailedBefore(store, "src", "limits-b").unchanged("read.pdf", 10, 5.0) is None
        assert FailedBefore(store, "src", "limits-a", retry=True).unchanged("read.pdf", 10, 5.0) is None
        monkeypatch.setattr(version, "__version__", "99.0")
        assert FailedBefore(store, "src", "limits-a").unchanged("read.pdf", 10, 5.0) is None
    finally:
        store.close()


def test_the_digest_of_what_parses_is_computed_only_when_a_failure_is_met(tmp_path: Path) -> None:
    """A sync without failures never reads the parser plugins or probes the OCR engine."""
    store = SqliteStore(tmp_path / "kb.db")
    computed: list[str] = []

    def digest() -> str:
        computed.append("limits-a")
        return "limits-a"

    try:
        clean = FailedBefore(store, "src", digest)
        assert clean.unchanged("a.pdf", 10, 5.0) is None and computed == []
        store.ledger.record_failure("src", "read.pdf", "encrypted PDF", clean.attempt(10, 5.0, "h1"))
        assert computed == ["limits-a"]  # recording a failure needs it, once
        again = FailedBefore(store, "src", digest)
        assert again.unchanged("read.pdf", 10, 5.0) == "encrypted PDF" and len(computed) == 2
    finally:
        store.close()
