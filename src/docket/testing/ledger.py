"""What a :class:`~docket.ledger.Ledger` must do on every database it runs on. A backend's test
class inherits the contract and provides the ``ledger`` fixture; see :mod:`docket.testing`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from docket.errors import NotFoundError
from docket.ledger import Ledger, SourceConfig
from docket.testing.helpers import DIM, vec
from docket.types import ParseAttempt, SentenceVectors

__all__ = ["LedgerContract"]


class LedgerContract:
    """Sources, failures, the answer log, conversations and cached sentence vectors."""

    @pytest.fixture
    def ledger(self) -> Ledger:  # pragma: no cover - provided by each backend's test class
        raise NotImplementedError

    def test_sources_and_failures_round_trip(self, ledger: Ledger) -> None:
        ledger.add_source("src", SourceConfig(path="/x"))
        ledger.record_failure("src", "bad.pdf", "encrypted PDF")
        (failure,) = ledger.failures()
        assert failure["at"] > 0
        assert {k: v for k, v in failure.items() if k != "at"} == {
            "source": "src",
            "path": "bad.pdf",
            "error": "encrypted PDF",
            "attempt": None,
        }
        assert ledger.counts() == {"sources": 1, "failures": 1}
        ledger.mark_synced("src")
        assert ledger.sources()["src"].type == "folder"
        assert ledger.sources()["src"].last_sync is not None
        ledger.add_source("src", SourceConfig(path="/y"))  # a new config, the same source
        assert ledger.sources()["src"].path == "/y" and ledger.sources()["src"].last_sync is not None
        ledger.remove_source("src")
        assert ledger.sources() == {}
        assert ledger.failures() == []
        with pytest.raises(NotFoundError, match="no source named 'src'"):
            ledger.remove_source("src")

    def test_a_stored_config_reads_back_and_is_written_unchanged(self, ledger: Ledger) -> None:
        web = {
            "type": "web",
            "settings": {"url": "https://intranet.example", "password_env": "DOCKET_PW"},
            "schedule": "0 * * * *",
            "workspace": "team",
            "tags": ["wiki"],
            "access": ["staff"],
            "checkpoint": {"seen": ["a", "b"]},
            "last_result": {"added": 1, "failed": []},
            "last_error": None,
            "last_run": 1700000000.5,
            "a_key_of_a_later_version": 7,
        }
        folder = {"type": "folder", "path": "/x", "display": "x", "workspace": "default", "tags": [], "access": []}
        for name, stored in (("web", web), ("folder", folder), ("bare", {"path": "/y"})):
            text = json.dumps(stored)  # as written by the code before SourceConfig
            ledger.records.execute("INSERT INTO sources (name, config, created) VALUES (?, ?, ?)", (name, text, 1.0))
            config = ledger.sources()[name]
            assert list(config.to_json().items()) == list(stored.items())
            ledger.add_source(name, config)
            assert ledger.records.one("SELECT config FROM sources WHERE name = ?", (name,))[0] == text
        assert ledger.sources()["web"].settings["password_env"] == "DOCKET_PW"
        assert ledger.sources()["bare"].type == "folder" and ledger.sources()["bare"].created == 1.0

    def test_a_failure_keeps_what_the_file_was_and_indexing_it_clears_it(self, ledger: Ledger) -> None:
        ledger.add_source("src", SourceConfig(path="/x"))
        attempt = ParseAttempt(1234, 1700000000.25, "ab" * 32, "0.1.0", "digest-1")
        ledger.record_failure("src", "a.txt", "no text found in the file", attempt)
        ledger.record_failure("src", "b.pdf", "cannot read the file: Permission denied")
        assert [(f["path"], ParseAttempt.from_dict(f["attempt"])) for f in ledger.failures("src")] == [
            ("a.txt", attempt),
            ("b.pdf", None),
        ]
        again = ParseAttempt(99, None, None, "0.2.0", "digest-2")  # a newer failure replaces the attempt
        ledger.record_failure("src", "a.txt", "took longer than 60 s to parse", again)
        (first, _) = ledger.failures("src")
        assert first["error"] == "took longer than 60 s to parse" and first["attempt"] == again.to_dict()
        ledger.clear_failure("src", "a.txt")  # the file is indexed at last
        assert [f["path"] for f in ledger.failures()] == ["b.pdf"]

    def test_answer_log_round_trip_newest_first(self, ledger: Ledger) -> None:
        base = {
            "at": 1.0,
            "answer": "a",
            "abstained": False,
            "method": "extractive",
            "model": None,
            "prompt": None,
            "sources": [{"path": "x"}],
            "citations": [],
            "notes": [],
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost": None,
            "latency_ms": 3.5,
        }
        first = ledger.log_answer({**base, "question": "one"})
        second = ledger.log_answer({**base, "question": "two", "abstained": True})
        assert [r["question"] for r in ledger.answer_logs()] == ["two", "one"]
        record = ledger.answer_log(first)
        assert record["sources"] == [{"path": "x"}] and record["abstained"] is False
        assert ledger.answer_log(second)["abstained"] is True
        with pytest.raises(NotFoundError):
            ledger.answer_log(second + 100)

    def test_spending_is_summed_from_the_answer_log(self, ledger: Ledger) -> None:
        base = {
            "question": "q",
            "answer": "a",
            "abstained": False,
            "method": "generated",
            "model": "m",
            "prompt": "p",
            "sources": [],
            "citations": [],
            "notes": [],
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "latency_ms": 1.0,
        }
        ledger.log_answer({**base, "at": 100.0, "cost": 0.5})
        ledger.log_answer({**base, "at": 200.0, "cost": 0.25})
        ledger.log_answer({**base, "at": 300.0, "cost": None})
        assert ledger.spent_since(150.0) == pytest.approx(0.25)
        assert ledger.spent_since(0.0) == pytest.approx(0.75)

    def test_conversations_keep_their_turns_in_order(self, ledger: Ledger) -> None:
        ledger.add_turn("c1", {"question": "How long is leave?", "answer": "12 weeks [1]", "log_id": 7, "at": 1.0})
        ledger.add_turn("c2", {"question": "Other chat", "answer": "x", "at": 2.0})
        ledger.add_turn(
            "c1",
            {"question": "and part-timers?", "query": "How long is leave for part-timers?", "answer": "y", "at": 3.0},
        )
        turns = ledger.conversation("c1")
        assert [t["n"] for t in turns] == [1, 2]
        assert turns[0]["query"] == "How long is leave?" and turns[0]["log_id"] == 7
        assert turns[1]["query"] == "How long is leave for part-timers?"
        listed = ledger.conversations()
        assert [c["id"] for c in listed] == ["c1", "c2"]
        assert listed[0]["title"] == "How long is leave?" and listed[0]["turns"] == 2
        with pytest.raises(NotFoundError):
            ledger.conversation("nope")

    def test_sentence_vectors_are_kept_by_chunk_hash_and_embedder(self, ledger: Ledger) -> None:
        kept = SentenceVectors.of([(0, 13), (14, 26)], np.stack([vec(1), vec(2)]))
        ledger.put_sentence_vectors("m", {"hash-1": kept})
        found = ledger.sentence_vectors("m", DIM, ["hash-1", "unknown"])
        assert list(found) == ["hash-1"]
        assert found["hash-1"].spans == ((0, 13), (14, 26))
        assert np.allclose(found["hash-1"].vectors, kept.vectors, atol=0.01)  # stored in 8 bits
        assert ledger.sentence_vectors("another-embedder", DIM, ["hash-1"]) == {}
        ledger.put_sentence_vectors("m", {"hash-1": SentenceVectors.of([(0, 3)], vec(4)[None, :])})  # replaced
        assert ledger.sentence_vectors("m", DIM, ["hash-1"])["hash-1"].spans == ((0, 3),)
