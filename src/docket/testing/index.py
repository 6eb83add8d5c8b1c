"""What every :class:`~docket.protocols.DocumentIndex` must do (and what one that can switch
embedders in place, :class:`~docket.protocols.Reembedding`, must do besides). A backend's test class
inherits the contract and provides the ``store`` fixture; see :mod:`docket.testing`."""

from __future__ import annotations

from typing import Protocol, cast

import numpy as np
import pytest

from docket.errors import IndexMismatchError, NotFoundError
from docket.index import document_by_id, document_page, get_document
from docket.protocols import DocumentIndex, Reembedding
from docket.testing.helpers import DIM, make_doc, put, vec
from docket.types import Access, Filters

__all__ = ["DocumentIndexContract", "ReembeddingContract"]


class _ListingOnly:
    """An index seen only through ``documents()``: what :func:`docket.index.document_page` falls
    back to for an index without :class:`~docket.protocols.DocumentPaging`."""

    def __init__(self, store: DocumentIndex) -> None:
        self.documents = store.documents


class Reembeddable(DocumentIndex, Reembedding, Protocol):
    """An index that can switch embedders in place."""


class DocumentIndexContract:
    """Documents, chunks, both retrievers, filters and access checks inside the queries."""

    @pytest.fixture
    def store(self) -> DocumentIndex:  # pragma: no cover - provided by each backend's test class
        raise NotImplementedError

    def test_embedder_is_recorded_and_another_is_refused(self, store: DocumentIndex) -> None:
        store.bind_embedder("model-a", DIM)
        store.bind_embedder("model-a", DIM)
        assert store.embedder_info() == ("model-a", DIM)
        with pytest.raises(IndexMismatchError, match="docket reindex"):
            store.bind_embedder("model-b", DIM)

    def test_put_then_get_document_and_chunks(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt", tags=("hr",), access=("group:hr",))
        put(store, doc, ["first passage", "second passage"], [0, 1])
        got = get_document(store, "src", "a.txt")
        assert got == doc
        assert [c.text for c in store.chunks("d1")] == ["first passage", "second passage"]
        assert store.document_text("d1") == "first passage\n\nsecond passage"

    def test_a_scan_without_passages_is_kept_with_its_nested_metadata(self, store: DocumentIndex) -> None:
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
        got = get_document(store, "src", "scan.pdf")
        assert got == doc and got.metadata["quality"]["page_details"][0]["reader"] is None
        assert store.chunks("d1") == [] and store.document_text("d1") == ""
        assert [d.path for d in store.documents("src")] == ["scan.pdf"]
        store.delete_document("d1")
        assert get_document(store, "src", "scan.pdf") is None

    def test_putting_a_document_again_replaces_all_its_chunks(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt")
        put(store, doc, ["old alpha text", "old beta text"], [0, 1])
        put(store, doc, ["new gamma text"], [2])
        assert [c.text for c in store.chunks("d1")] == ["new gamma text"]
        assert store.keyword_search("alpha", 10, Filters(), Access.owner()) == []
        assert len(store.keyword_search("gamma", 10, Filters(), Access.owner())) == 1
        assert store.stats()["chunks"] == 1

    def test_vectors_are_found_by_chunk_hash(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        chunks = put(store, make_doc("d1", "a.txt"), ["some text"], [3])
        found = store.vectors_for([chunks[0].hash, "unknown"])
        assert list(found) == [chunks[0].hash]
        assert np.allclose(found[chunks[0].hash], vec(3))

    def test_delete_removes_document_chunks_and_keyword_entries(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["vanishing words"], [0])
        store.delete_document("d1")
        assert get_document(store, "src", "a.txt") is None
        assert store.keyword_search("vanishing", 5, Filters(), Access.owner()) == []
        assert store.vector_search(vec(0), 5, Filters(), Access.owner()) == []

    def test_update_document_changes_metadata_without_touching_chunks(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["stays the same"], [0])
        store.update_document("d1", path="b.txt", mtime=2000.0)
        assert get_document(store, "src", "a.txt") is None
        moved = get_document(store, "src", "b.txt")
        assert moved is not None and moved.mtime == 2000.0
        assert [c.text for c in store.chunks("d1")] == ["stays the same"]
        with pytest.raises(NotFoundError):
            store.update_document("nope", mtime=1.0)

    def test_keyword_search_ranks_by_bm25(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["parental leave is twelve weeks", "office plants need water"], [0, 1])
        put(store, make_doc("d2", "b.txt"), ["leave requests go to your manager"], [2])
        ranked = store.keyword_search("How long is parental leave?", 10, Filters(), Access.owner())
        hits = store.hits(ranked, Access.owner())
        assert hits[0].text == "parental leave is twelve weeks"
        assert {h.path for h in hits} == {"a.txt", "b.txt"}
        assert all(score > 0 for _, score in ranked)

    def test_vector_search_is_exact_cosine(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["x", "y", "z"], [0, 1, 2])
        ranked = store.vector_search(vec(1), 2, Filters(), Access.owner())
        assert len(ranked) == 2
        assert store.hits(ranked[:1], Access.owner())[0].text == "y"
        assert ranked[0][1] == pytest.approx(1.0)

    def test_filters_apply_inside_both_retrievers(self, store: DocumentIndex) -> None:
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

    def test_access_is_enforced_inside_retrieval(self, store: DocumentIndex) -> None:
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

    def test_document_hits_are_in_order_and_access_checked(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "contract.md", workspace="sales"), ["first part", "second part", "third"], [0, 1, 2])
        hits = store.document_hits("d1", Access.owner())
        assert [h.text for h in hits] == ["first part", "second part", "third"]
        assert {h.path for h in hits} == {"contract.md"}
        assert store.document_hits("d1", Access(workspaces=("hr",))) == []
        assert store.document_hits("missing", Access.owner()) == []

    def test_listing_documents_applies_access_inside_the_query(self, store: DocumentIndex) -> None:
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

    def test_a_page_of_documents_is_searched_filtered_and_counted_inside_the_query(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        for i in range(12):
            put(store, make_doc(f"p{i}", f"policies/policy-{i:02d}.md", workspace="support"), ["a"], [0])
        put(store, make_doc("r1", "reports/100%_done.pdf", filetype="pdf", workspace="support"), ["b"], [0])
        put(store, make_doc("s1", "policies/secret-policy.md", workspace="support", access=("group:hr",)), ["c"], [0])
        put(store, make_doc("h1", "policies/hr-policy.md", workspace="hr"), ["d"], [0])
        member = Access(workspaces=("support",), principals=("user:ann",))

        # the store's own query, and the fallback for an index without one: the same answers
        for index in (store, cast(DocumentIndex, _ListingOnly(store))):
            page, total = document_page(index, Filters(), member, offset=0, limit=5)
            assert total == 13 and [d.path for d in page] == [f"policies/policy-{i:02d}.md" for i in range(5)]
            page, total = document_page(index, Filters(), member, offset=10, limit=5)
            assert total == 13 and [d.path for d in page] == [
                "policies/policy-10.md",
                "policies/policy-11.md",
                "reports/100%_done.pdf",
            ]
            assert document_page(index, Filters(), member, offset=50, limit=5) == (
                [],
                13,
            )  # past the end: still counted

            page, total = document_page(index, Filters(), member, text="POLICY-1")  # path or title, any case
            assert total == 2 and [d.path for d in page] == ["policies/policy-10.md", "policies/policy-11.md"]
            assert document_page(index, Filters(), member, text="secret") == ([], 0)  # not readable: not counted
            assert document_page(index, Filters(), member, text="%_")[1] == 1  # LIKE's wildcards are literal
            assert document_page(index, Filters(filetypes=("pdf",)), member)[1] == 1
            hr = Access(workspaces=("support", "hr"), principals=("group:hr",))
            assert document_page(index, Filters(), hr, text="-policy")[1] == 2
            assert document_page(index, Filters(), Access(workspaces=()))[1] == 0
            assert document_page(index, Filters(), Access.owner())[1] == 15

    def test_writing_the_same_document_twice_keeps_one_copy(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        doc = make_doc("d1", "a.txt")
        put(store, doc, ["repeated words here"], [0])
        put(store, doc, ["repeated words here"], [0])
        put(store, make_doc("d1-new", "a.txt"), ["repeated words here"], [0])  # same path, another id
        assert [d.id for d in store.documents()] == ["d1-new"]
        assert len(store.keyword_search("repeated", 10, Filters(), Access.owner())) == 1
        assert len(store.vector_search(vec(0), 10, Filters(), Access.owner())) == 1
        assert store.stats()["documents"] == 1 and store.stats()["chunks"] == 1

    def test_path_globs_follow_glob_rules(self, store: DocumentIndex) -> None:
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

    def test_a_selective_filter_still_finds_its_rows_among_many(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        for i in range(60):  # many close neighbours the caller may not read
            put(store, make_doc(f"n{i}", f"near/{i}.md", workspace="other"), [f"near text {i}"], [0])
        put(store, make_doc("far", "far.md", workspace="mine"), ["far text"], [7])
        mine = Access(workspaces=("mine",))
        found = store.hits(store.vector_search(vec(0), 5, Filters(), mine), mine)
        assert [h.path for h in found] == ["far.md"]
        found = store.hits(store.vector_search(vec(0), 5, Filters(path_glob="far*"), Access.owner()), Access.owner())
        assert [h.path for h in found] == ["far.md"]

    def test_keyword_scores_are_normalised_bm25(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        texts = ["alpha beta", "gamma delta", "alpha alpha alpha beta gamma"]
        put(store, make_doc("d1", "a.txt", title=""), texts, [0, 1, 2])  # no title: no context terms
        ranked = store.keyword_search("alpha", 10, Filters(), Access.owner())
        # N = 3, df = 2, average length 3: idf = ln(1 + 1.5 / 2.5); each score is divided by that idf
        assert [round(score, 5) for _, score in ranked] == [
            round(3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 5 / 3)), 5),
            round(1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3)), 5),
        ]

    def test_generation_changes_with_every_document_change(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        seen = [store.generation()]
        put(store, make_doc("d1", "a.txt"), ["text"], [0])
        seen.append(store.generation())
        store.update_document("d1", metadata={"profile": {"title": "A"}})
        seen.append(store.generation())
        store.delete_document("d1")
        seen.append(store.generation())
        assert len(set(seen)) == 4

    def test_a_document_filter_limits_both_retrievers_to_those_documents(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "a.txt"), ["shared words here"], [0])
        put(store, make_doc("d2", "b.txt"), ["shared words there"], [0])
        only = Filters(documents=("d2",))
        keyword = store.keyword_search("shared words", 10, only, Access.owner())
        dense = store.vector_search(vec(0), 10, only, Access.owner())
        assert [h.doc_id for h in store.hits(keyword, Access.owner())] == ["d2"]
        assert [h.doc_id for h in store.hits(dense, Access.owner())] == ["d2"]
        assert store.keyword_search("shared", 10, Filters(documents=()), Access.owner()) == []

    def test_a_document_is_found_by_id_and_path_inside_the_query(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        put(store, make_doc("d1", "public.md", workspace="support"), ["a"], [0])
        put(store, make_doc("d2", "lead.md", workspace="support", access=("group:leads",)), ["b"], [0])
        member = Access(workspaces=("support",), principals=("user:ann",))
        assert document_by_id(store, "d2") == make_doc("d2", "lead.md", workspace="support", access=("group:leads",))
        assert document_by_id(store, "d2", member) is None  # another's document is not found at all
        assert document_by_id(store, "missing") is None
        assert [d.id for d in store.documents(ids=["d1", "d2", "nope"])] == ["d2", "d1"]  # by path
        assert [d.id for d in store.documents("src", path="public.md")] == ["d1"]
        assert list(store.documents("other", path="public.md")) == []
        assert list(store.documents(ids=[])) == []

    def test_a_hit_carries_its_chunk_hash(self, store: DocumentIndex) -> None:
        store.bind_embedder("m", DIM)
        chunks = put(store, make_doc("d1", "a.txt"), ["One sentence. Another one."], [0])
        (top,) = store.keyword_search("sentence", 1, Filters(), Access.owner())
        assert store.hits([(top[0], 1.0)], Access.owner())[0].chunk_hash == chunks[0].hash


class ReembeddingContract:
    """``docket reindex``: every vector replaced at once, or none."""

    @pytest.fixture
    def store(self) -> Reembeddable:  # pragma: no cover - provided by each backend's test class
        raise NotImplementedError

    def test_swapping_the_embedder_replaces_every_vector_at_once(self, store: Reembeddable) -> None:
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

    def test_a_failed_swap_changes_nothing(self, store: Reembeddable) -> None:
        store.bind_embedder("old", DIM)
        put(store, make_doc("d1", "a.md"), ["alpha text"], [0])

        def broken(current: list[tuple[str, str]]) -> dict[str, np.ndarray]:
            raise RuntimeError("embedding server went away")

        with pytest.raises(RuntimeError):
            store.swap_embedder("new", DIM, None, broken)
        assert store.embedder_info() == ("old", DIM)
        assert store.vector_search(vec(0), 1, Filters(), Access.owner())[0][1] > 0.99
