"""Behaviour every Store backend must have. A backend's test class only provides the ``store`` fixture."""

from __future__ import annotations

import numpy as np
import pytest

from docket.errors import IndexMismatchError, NotFoundError
from docket.protocols import Store
from docket.types import Access, Chunk, Document, Filters, Location

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
        assert store.failures() == [{"source": "src", "path": "bad.pdf", "error": "encrypted PDF"}]
        store.mark_synced("src")
        assert store.sources()["src"]["type"] == "folder"
        assert store.sources()["src"]["last_sync"] is not None
        store.remove_source("src")
        assert store.sources() == {}
        assert list(store.documents()) == []
        assert store.failures() == []
        with pytest.raises(NotFoundError):
            store.remove_source("src")

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
