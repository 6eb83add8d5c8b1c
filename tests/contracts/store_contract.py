"""Behaviour every Store backend must have. A backend's test class only provides the ``store`` fixture."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docket.errors import IndexMismatchError, NotFoundError
from docket.ingest.sync import source_for_path, sync_source
from docket.protocols import Store
from docket.types import (
    Access,
    Chunk,
    Document,
    Filters,
    Location,
    ParseAttempt,
    ParsedDocument,
    SentenceVectors,
    SyncReport,
)

DIM = 8


def vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for i in hot:
        v[i] = 1.0
    return v / np.linalg.norm(v)


def make_doc(doc_id: str, path: str, **kw: object) -> Document:
    base: dict[str, object] = dict(
        id=doc_id,
        source="src",
        path=path,
        title=path,
        filetype=path.rsplit(".", 1)[-1],
        content_hash="h-" + doc_id,
        size=10,
        mtime=1000.0,
    )
    base.update(kw)
    return Document(**base)  # type: ignore[arg-type]


def put(store: Store, doc: Document, texts: list[str], hot: list[int]) -> list[Chunk]:
    chunks = [Chunk(t, Location(char_start=0, char_end=len(t)), doc.title, i) for i, t in enumerate(texts)]
    store.put_document(doc, chunks, {c.hash: vec(h) for c, h in zip(chunks, hot, strict=True)}, "\n\n".join(texts))
    return chunks


class StoreContract:
    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - provided by each backend's test class
        raise NotImplementedError

    def test_embedder_is_recorded_and_another_is_refused(self, store: Store) -> None:
        store.bind_embedder("model-a", DIM)
        store.bind_embedder("model-a", DIM)
        assert store.embedder_info() == ("model-a", DIM)
        with pytest.raises(IndexMismatchError, match="docket reindex"):
            store.bind_embedder("model-b", DIM)

    def test_put_then_get_document_and_chunks(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt", tags=("hr",), access=("group:hr",))
        put(store, doc, ["first passage", "second passage"], [0, 1])
        got = store.get_document("src", "a.txt")
        assert got == doc
        assert [c.text for c in store.chunks("d1")] == ["first passage", "second passage"]
        assert store.document_text("d1") == "first passage\n\nsecond passage"

    def test_a_scan_without_passages_is_kept_with_its_nested_metadata(self, store: Store) -> None:
        """A scanned PDF is a document with no chunks; its parse-quality record is nested JSON."""
        store.bind_embedder("m", DIM)
        quality = {
            "version": 1,
            "pages": 1,
            "readers": {},
            "pages_without_text": [1],
            "page_details": [{"page": 1, "reader": None, "chars": 0, "has_text": False, "skipped": "image"}],
        }
        doc = make_doc("d1", "scan.pdf", metadata={"pages": 1, "quality": quality})
        store.put_document(doc, [], {}, "")
        got = store.get_document("src", "scan.pdf")
        assert got == doc and got.metadata["quality"]["page_details"][0]["reader"] is None
        assert store.chunks("d1") == [] and store.document_text("d1") == ""
        assert [d.path for d in store.documents("src")] == ["scan.pdf"]
        store.delete_document("d1")
        assert store.get_document("src", "scan.pdf") is None

    def test_putting_a_document_again_replaces_all_its_chunks(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt")
        put(store, doc, ["old alpha text", "old beta text"], [0, 1])
        put(store, doc, ["new gamma text"], [2])
        assert [c.text for c in store.chunks("d1")] == ["new gamma text"]
        assert store.keyword_search("alpha", 10, Filters(), Access.owner()) == []
        assert len(store.keyword_search("gamma", 10, Filters(), Access.owner())) == 1
        assert store.stats()["chunks"] == 1

    def test_vectors_are_found_by_chunk_hash(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        chunks = put(store, make_doc("d1", "a.txt"), ["some text"], [3])
        found = store.vectors_for([chunks[0].hash, "unknown"])
        assert list(found) == [chunks[0].hash]
        assert np.allclose(found[chunks[0].hash], vec(3))

    def test_delete_removes_document_chunks_and_keyword_entries(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["vanishing words"], [0])
        store.delete_document("d1")
        assert store.get_document("src", "a.txt") is None
        assert store.keyword_search("vanishing", 5, Filters(), Access.owner()) == []
        assert store.vector_search(vec(0), 5, Filters(), Access.owner()) == []

    def test_update_document_changes_metadata_without_touching_chunks(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["stays the same"], [0])
        store.update_document("d1", path="b.txt", mtime=2000.0)
        assert store.get_document("src", "a.txt") is None
        moved = store.get_document("src", "b.txt")
        assert moved is not None and moved.mtime == 2000.0
        assert [c.text for c in store.chunks("d1")] == ["stays the same"]
        with pytest.raises(NotFoundError):
            store.update_document("nope", mtime=1.0)

    def test_keyword_search_ranks_by_bm25(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["parental leave is twelve weeks", "office plants need water"], [0, 1])
        put(store, make_doc("d2", "b.txt"), ["leave requests go to your manager"], [2])
        ranked = store.keyword_search("How long is parental leave?", 10, Filters(), Access.owner())
        hits = store.hits(ranked, Access.owner())
        assert hits[0].text == "parental leave is twelve weeks"
        assert {h.path for h in hits} == {"a.txt", "b.txt"}
        assert all(score > 0 for _, score in ranked)

    def test_vector_search_is_exact_cosine(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["x", "y", "z"], [0, 1, 2])
        ranked = store.vector_search(vec(1), 2, Filters(), Access.owner())
        assert len(ranked) == 2
        assert store.hits(ranked[:1], Access.owner())[0].text == "y"
        assert ranked[0][1] == pytest.approx(1.0)

    def test_filters_apply_inside_both_retrievers(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "policies/leave.md", mtime=100.0, tags=("hr",)), ["leave policy text"], [0])
        put(store, make_doc("d2", "sales/leave.pdf", mtime=900.0), ["leave for sales staff"], [0])
        cases = {
            Filters(path_glob="policies/*"): {"policies/leave.md"},
            Filters(filetypes=("pdf",)): {"sales/leave.pdf"},
            Filters(modified_after=500.0): {"sales/leave.pdf"},
            Filters(modified_before=500.0): {"policies/leave.md"},
            Filters(tags=("hr",)): {"policies/leave.md"},
            Filters(sources=("other",)): set(),
        }
        for filters, expected in cases.items():
            kw = store.hits(store.keyword_search("leave", 10, filters, Access.owner()), Access.owner())
            dn = store.hits(store.vector_search(vec(0), 10, filters, Access.owner()), Access.owner())
            assert {h.path for h in kw} == expected, filters
            assert {h.path for h in dn} == expected, filters

    def test_access_is_enforced_inside_retrieval(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "public.md", workspace="support"), ["refund policy for everyone"], [0])
        put(store, make_doc("d2", "hr.md", workspace="hr"), ["refund of salary advances"], [0])
        put(
            store,
            make_doc("d3", "secret.md", workspace="support", access=("group:leads",)),
            ["refund exceptions for leads only"],
            [0],
        )
        member = Access(workspaces=("support",), principals=("user:ann",))
        lead = Access(workspaces=("support",), principals=("user:bob", "group:leads"))
        nobody = Access(workspaces=())
        for access, expected in (
            (member, {"public.md"}),
            (lead, {"public.md", "secret.md"}),
            (nobody, set()),
            (Access(workspaces=("support",), all_documents=True), {"public.md", "secret.md"}),
            (Access.owner(), {"public.md", "hr.md", "secret.md"}),
        ):
            kw = store.keyword_search("refund", 10, Filters(), access)
            dn = store.vector_search(vec(0), 10, Filters(), access)
            assert {h.path for h in store.hits(kw, access)} == expected
            assert {h.path for h in store.hits(dn, access)} == expected
            # materialising ids the caller may not read yields nothing for them
            all_ids = store.vector_search(vec(0), 10, Filters(), Access.owner())
            assert {h.path for h in store.hits(all_ids, access)} == expected

    def test_sources_and_failures_round_trip(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        store.add_source("src", {"type": "folder", "path": "/x"})
        put(store, make_doc("d1", "a.txt"), ["text"], [0])
        store.record_failure("src", "bad.pdf", "encrypted PDF")
        (failure,) = store.failures()
        assert failure["at"] > 0
        assert {k: v for k, v in failure.items() if k != "at"} == {
            "source": "src",
            "path": "bad.pdf",
            "error": "encrypted PDF",
            "attempt": None,
        }
        store.mark_synced("src")
        assert store.sources()["src"]["type"] == "folder"
        assert store.sources()["src"]["last_sync"] is not None
        store.remove_source("src")
        assert store.sources() == {}
        assert list(store.documents()) == []
        assert store.failures() == []
        with pytest.raises(NotFoundError):
            store.remove_source("src")

    def test_a_failure_keeps_what_the_file_was_and_indexing_it_clears_it(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        store.add_source("src", {"type": "folder", "path": "/x"})
        attempt = ParseAttempt(1234, 1700000000.25, "ab" * 32, "0.1.0", "digest-1")
        store.record_failure("src", "a.txt", "no text found in the file", attempt)
        store.record_failure("src", "b.pdf", "cannot read the file: Permission denied")
        assert [(f["path"], ParseAttempt.from_dict(f["attempt"])) for f in store.failures("src")] == [
            ("a.txt", attempt),
            ("b.pdf", None),
        ]
        again = ParseAttempt(99, None, None, "0.2.0", "digest-2")  # a newer failure replaces the attempt
        store.record_failure("src", "a.txt", "took longer than 60 s to parse", again)
        (first, _) = store.failures("src")
        assert first["error"] == "took longer than 60 s to parse" and first["attempt"] == again.to_dict()
        put(store, make_doc("d1", "a.txt"), ["text"], [0])  # the file is indexed at last
        assert [f["path"] for f in store.failures()] == ["b.pdf"]

    def test_a_file_that_failed_is_not_parsed_again_until_it_or_docket_changes(
        self, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import docket
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
        assert [(f["path"], f["error"]) for f in store.failures()] == [("notes.txt", reason)]

        os.utime(bad, (time.time() + 60, time.time() + 60))  # touched, the same bytes
        assert parsed == [] and sync().failed_before == [{"path": "notes.txt", "error": reason}]
        (failure,) = store.failures()
        assert failure["attempt"]["mtime"] == bad.stat().st_mtime  # remembered: next time not even read

        monkeypatch.setattr(docket, "__version__", "99.0")  # an upgraded Docket tries again, once
        assert [f["path"] for f in sync().failed] == ["notes.txt"] and parsed == [str(bad.name)]
        assert sync().failed_before and parsed == []

        smaller = sync(max_file_bytes=1000)  # another limit may give another outcome: tried again
        assert [f["path"] for f in smaller.failed] == ["notes.txt"] and len(parsed) == 1

        assert sync(max_file_bytes=1000, retry_failed=True).failed and len(parsed) == 1  # asked for

        bad.write_bytes(b"\t\t\n\n")  # changed, still broken: parsed again
        assert [f["path"] for f in sync(max_file_bytes=1000).failed] == ["notes.txt"] and len(parsed) == 1

        bad.write_text("Shipping is free above fifty euros.")  # fixed: indexed, the failure is gone
        fixed = sync(max_file_bytes=1000)
        assert fixed.added == 1 and fixed.failed == fixed.failed_before == [] and store.failures() == []

    def test_answer_log_round_trip_newest_first(self, store: Store) -> None:
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
        first = store.log_answer({**base, "question": "one"})
        second = store.log_answer({**base, "question": "two", "abstained": True})
        assert [r["question"] for r in store.answer_logs()] == ["two", "one"]
        record = store.answer_log(first)
        assert record["sources"] == [{"path": "x"}] and record["abstained"] is False
        assert store.answer_log(second)["abstained"] is True
        with pytest.raises(NotFoundError):
            store.answer_log(second + 100)

    def test_spending_is_summed_from_the_answer_log(self, store: Store) -> None:
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
        store.log_answer({**base, "at": 100.0, "cost": 0.5})
        store.log_answer({**base, "at": 200.0, "cost": 0.25})
        store.log_answer({**base, "at": 300.0, "cost": None})
        assert store.spent_since(150.0) == pytest.approx(0.25)
        assert store.spent_since(0.0) == pytest.approx(0.75)

    def test_document_hits_are_in_order_and_access_checked(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "contract.md", workspace="sales"), ["first part", "second part", "third"], [0, 1, 2])
        hits = store.document_hits("d1", Access.owner())
        assert [h.text for h in hits] == ["first part", "second part", "third"]
        assert {h.path for h in hits} == {"contract.md"}
        assert store.document_hits("d1", Access(workspaces=("hr",))) == []
        assert store.document_hits("missing", Access.owner()) == []

    def test_conversations_keep_their_turns_in_order(self, store: Store) -> None:
        store.add_turn("c1", {"question": "How long is leave?", "answer": "12 weeks [1]", "log_id": 7, "at": 1.0})
        store.add_turn("c2", {"question": "Other chat", "answer": "x", "at": 2.0})
        store.add_turn(
            "c1",
            {"question": "and part-timers?", "query": "How long is leave for part-timers?", "answer": "y", "at": 3.0},
        )
        turns = store.conversation("c1")
        assert [t["n"] for t in turns] == [1, 2]
        assert turns[0]["query"] == "How long is leave?" and turns[0]["log_id"] == 7
        assert turns[1]["query"] == "How long is leave for part-timers?"
        listed = store.conversations()
        assert [c["id"] for c in listed] == ["c1", "c2"]
        assert listed[0]["title"] == "How long is leave?" and listed[0]["turns"] == 2
        with pytest.raises(NotFoundError):
            store.conversation("nope")

    def test_swapping_the_embedder_replaces_every_vector_at_once(self, store: Store) -> None:
        store.bind_embedder("old", DIM, {"name": "old"})
        put(store, make_doc("d1", "a.md"), ["alpha text", "beta text"], [0, 1])
        put(store, make_doc("d2", "b.md"), ["alpha text"], [2])  # same text, same hash: embedded once
        pairs = store.chunk_texts()
        assert sorted(text for _, text in pairs) == ["a.md\nalpha text", "a.md\nbeta text", "b.md\nalpha text"]
        seen: list[list[tuple[str, str]]] = []

        def vectors_for(current: list[tuple[str, str]]) -> dict[str, np.ndarray]:
            seen.append(current)
            return {h: vec(3) for h, _ in current}

        store.swap_embedder("new", DIM, {"name": "new"}, vectors_for)
        assert seen == [pairs]
        assert store.embedder_info() == ("new", DIM) and store.embedder_spec() == {"name": "new"}
        top = store.vector_search(vec(3), 10, Filters(), Access.owner())
        assert len(top) == 3 and all(score > 0.99 for _, score in top)
        with pytest.raises(IndexMismatchError):
            store.bind_embedder("old", DIM)

    def test_a_failed_swap_changes_nothing(self, store: Store) -> None:
        store.bind_embedder("old", DIM)
        put(store, make_doc("d1", "a.md"), ["alpha text"], [0])

        def broken(current: list[tuple[str, str]]) -> dict[str, np.ndarray]:
            raise RuntimeError("embedding server went away")

        with pytest.raises(RuntimeError):
            store.swap_embedder("new", DIM, None, broken)
        assert store.embedder_info() == ("old", DIM)
        assert store.vector_search(vec(0), 1, Filters(), Access.owner())[0][1] > 0.99

    def test_listing_documents_applies_access_inside_the_query(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "public.md", workspace="support"), ["a"], [0])
        put(store, make_doc("d2", "hr.md", workspace="hr"), ["b"], [0])
        put(store, make_doc("d3", "lead.md", workspace="support", access=("group:leads",)), ["c"], [0])
        member = Access(workspaces=("support",), principals=("user:ann",))
        lead = Access(workspaces=("support",), principals=("group:leads",))
        assert [d.path for d in store.documents(access=member)] == ["public.md"]
        assert [d.path for d in store.documents(access=lead)] == ["lead.md", "public.md"]
        assert len(list(store.documents())) == 3
        assert list(store.documents(access=Access(workspaces=()))) == []

    def test_writing_the_same_document_twice_keeps_one_copy(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt")
        put(store, doc, ["repeated words here"], [0])
        put(store, doc, ["repeated words here"], [0])
        put(store, make_doc("d1-new", "a.txt"), ["repeated words here"], [0])  # same path, another id
        assert [d.id for d in store.documents()] == ["d1-new"]
        assert len(store.keyword_search("repeated", 10, Filters(), Access.owner())) == 1
        assert len(store.vector_search(vec(0), 10, Filters(), Access.owner())) == 1
        assert store.stats()["documents"] == 1 and store.stats()["chunks"] == 1

    def test_path_globs_follow_glob_rules(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        for i, path in enumerate(["policies/leave.md", "policies/old/leave.md", "sales/Leave.PDF", "notes.txt"]):
            put(store, make_doc(f"d{i}", path), [f"leave text {i}"], [0])
        cases = {
            "policies/*": {"policies/leave.md", "policies/old/leave.md"},
            "*.md": {"policies/leave.md", "policies/old/leave.md"},
            "*/l?ave.md": {"policies/leave.md", "policies/old/leave.md"},
            "[ns]*": {"sales/Leave.PDF", "notes.txt"},
            "[^ns]*": {"policies/leave.md", "policies/old/leave.md"},
            "*leave*": {"policies/leave.md", "policies/old/leave.md"},  # case-sensitive, like GLOB
            "notes.txt": {"notes.txt"},
            "notes?txt": {"notes.txt"},
            "notes.tx": set(),
        }
        for glob, expected in cases.items():
            found = store.hits(
                store.keyword_search("leave", 10, Filters(path_glob=glob), Access.owner()), Access.owner()
            )
            assert {h.path for h in found} == expected, glob

    def test_a_selective_filter_still_finds_its_rows_among_many(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        for i in range(60):  # many close neighbours the caller may not read
            put(store, make_doc(f"n{i}", f"near/{i}.md", workspace="other"), [f"near text {i}"], [0])
        put(store, make_doc("far", "far.md", workspace="mine"), ["far text"], [7])
        mine = Access(workspaces=("mine",))
        found = store.hits(store.vector_search(vec(0), 5, Filters(), mine), mine)
        assert [h.path for h in found] == ["far.md"]
        found = store.hits(store.vector_search(vec(0), 5, Filters(path_glob="far*"), Access.owner()), Access.owner())
        assert [h.path for h in found] == ["far.md"]

    def test_keyword_scores_are_normalised_bm25(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        texts = ["alpha beta", "gamma delta", "alpha alpha alpha beta gamma"]
        put(store, make_doc("d1", "a.txt", title=""), texts, [0, 1, 2])  # no title: no context terms
        ranked = store.keyword_search("alpha", 10, Filters(), Access.owner())
        # N = 3, df = 2, average length 3: idf = ln(1 + 1.5 / 2.5); each score is divided by that idf
        assert [round(score, 5) for _, score in ranked] == [
            round(3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 5 / 3)), 5),
            round(1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3)), 5),
        ]

    def test_sentence_vectors_are_kept_by_chunk_hash_and_embedder(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        chunks = put(store, make_doc("d1", "a.txt"), ["One sentence. Another one."], [0])
        kept = SentenceVectors.of([(0, 13), (14, 26)], np.stack([vec(1), vec(2)]))
        store.put_sentence_vectors("m", {chunks[0].hash: kept})
        found = store.sentence_vectors("m", [chunks[0].hash, "unknown"])
        assert list(found) == [chunks[0].hash]
        assert found[chunks[0].hash].spans == ((0, 13), (14, 26))
        assert np.allclose(found[chunks[0].hash].vectors, kept.vectors, atol=0.01)  # stored in 8 bits
        assert store.sentence_vectors("another-embedder", [chunks[0].hash]) == {}
        # a hit carries its chunk hash, so answers find its sentence vectors
        hit = store.hits([(store.keyword_search("sentence", 1, Filters(), Access.owner())[0][0], 1.0)], Access.owner())
        assert hit[0].chunk_hash == chunks[0].hash

    def test_pruning_drops_sentence_vectors_of_chunks_gone(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        kept = put(store, make_doc("d1", "a.txt"), ["kept text"], [0])
        gone = put(store, make_doc("d2", "b.txt"), ["gone text"], [1])
        one = SentenceVectors.of([(0, 9)], vec(3)[None, :])
        store.put_sentence_vectors("m", {kept[0].hash: one, gone[0].hash: one})
        store.delete_document("d2")
        assert store.prune_sentence_vectors() == 1
        assert list(store.sentence_vectors("m", [kept[0].hash, gone[0].hash])) == [kept[0].hash]

    def test_generation_changes_with_every_document_change(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        seen = [store.generation()]
        put(store, make_doc("d1", "a.txt"), ["text"], [0])
        seen.append(store.generation())
        store.update_document("d1", metadata={"profile": {"title": "A"}})
        seen.append(store.generation())
        store.delete_document("d1")
        seen.append(store.generation())
        assert len(set(seen)) == 4

    def test_a_document_filter_limits_both_retrievers_to_those_documents(self, store: Store) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["shared words here"], [0])
        put(store, make_doc("d2", "b.txt"), ["shared words there"], [0])
        only = Filters(documents=("d2",))
        keyword = store.keyword_search("shared words", 10, only, Access.owner())
        dense = store.vector_search(vec(0), 10, only, Access.owner())
        assert [h.doc_id for h in store.hits(keyword, Access.owner())] == ["d2"]
        assert [h.doc_id for h in store.hits(dense, Access.owner())] == ["d2"]
        assert store.keyword_search("shared", 10, Filters(documents=()), Access.owner()) == []
