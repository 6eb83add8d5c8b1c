"""Copying a knowledge base into PostgreSQL without re-embedding (``docket db copy``).

Everything goes through the :class:`~docket.protocols.Store` reads of the source, so any store can
be copied: documents with their text, chunks with their vectors (keyword postings are rebuilt from
the text with the same analyzer), sources, failures, the answer log and conversations. Into an
empty database chunk and answer-log ids are kept, so logged answers still name the right chunks;
with ``merge`` the target numbers the new rows itself. Afterwards the copy is checked: the counts,
and the top hits of a few sampled keyword and vector queries, must be the same on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docket.errors import DatabaseError, NotFoundError, UserError
from docket.index.postgres.store import PostgresStore
from docket.protocols import Store
from docket.types import Access, Filters

__all__ = ["copy_store", "verify_copy"]

Progress = Callable[[int, int, str], None]
_PAGE = 500
_SAMPLES = 5
_TOP = 5


def _counts(store: Store) -> dict[str, int]:
    stats = store.stats()
    return {
        "documents": int(stats["documents"]),
        "chunks": int(stats["chunks"]),
        "sources": len(store.sources()),
        "failures": len(store.failures()),
        "answers": len(_all_answers(store)),
        "conversations": len(store.conversations(limit=1_000_000)),
    }


def _all_answers(store: Store) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while page := store.answer_logs(limit=_PAGE, offset=len(out)):
        out.extend(page)
    return out[::-1]  # oldest first


def copy_store(
    source: Store, target: PostgresStore, merge: bool = False, progress: Progress | None = None
) -> dict[str, Any]:
    """Copy ``source`` into ``target``; returns what was copied and how it was verified."""
    before = _counts(target)
    if not merge and any(before.values()):
        raise UserError(
            f"the database {target.where} is not empty ({before['documents']} documents, {before['answers']} logged "
            "answers); copy into an empty database, or add --merge to add this knowledge base to it"
        )
    info = source.embedder_info()
    if info is not None:
        target.bind_embedder(info[0], info[1], source.embedder_spec())
    copied = {key: 0 for key in before}
    for name, config in source.sources().items():
        settings = {k: v for k, v in config.items() if k not in ("created", "last_sync")}
        target.import_source(name, settings, float(config.get("created") or 0.0), config.get("last_sync"))
        copied["sources"] += 1
    documents = list(source.documents())
    if not merge:
        target.drop_vector_index()  # rebuilt once at the end
    for n, doc in enumerate(documents, 1):
        chunks = source.chunks(doc.id)
        ids = [h.chunk_id for h in source.document_hits(doc.id, Access.owner())]
        vectors = source.vectors_for(c.hash for c in chunks)
        target.import_document(
            doc, chunks, vectors, source.document_text(doc.id), chunk_ids=None if merge else ids, durable=False
        )
        copied["documents"] += 1
        copied["chunks"] += len(chunks)
        if progress is not None:
            progress(n, len(documents), doc.path)
    for failure in source.failures():
        target.record_failure(failure["source"], failure["path"], failure["error"])
        copied["failures"] += 1
    log_ids: dict[int, int] = {}
    for record in _all_answers(source):
        old = int(record["id"])
        log_ids[old] = target.log_answer(record if not merge else {k: v for k, v in record.items() if k != "id"})
        copied["answers"] += 1
    conversations = source.conversations(limit=1_000_000)[::-1]  # least recently used first
    for conv in conversations:
        try:
            target.conversation(conv["id"])
            continue  # merging: a conversation of that id is already there
        except NotFoundError:
            pass
        for turn in source.conversation(conv["id"]):
            log_id = turn.get("log_id")
            target.add_turn(conv["id"], {**turn, "log_id": log_ids.get(int(log_id), log_id) if log_id else None})
        copied["conversations"] += 1
    target.finish_import()
    return {"copied": copied, "verified": verify_copy(source, target, before, bool(documents) and not merge)}


def verify_copy(source: Store, target: PostgresStore, before: dict[str, int], compare_search: bool) -> dict[str, Any]:
    """Counts must add up; sampled queries must rank the same passages first on both stores."""
    have, want = _counts(target), _counts(source)
    # merging: rows of the same files replace each other, so the target holds at least as many as either side
    wrong = [
        f"{k}: {have[k]} in the target, expected at least {max(before[k], want[k])}"
        for k in want
        if have[k] < max(before[k], want[k])
    ]
    if not any(before.values()):
        wrong = [f"{k}: {have[k]} in the target, {want[k]} in the source" for k in want if have[k] != want[k]]
    if wrong:
        raise DatabaseError("the copy does not match its source (" + "; ".join(wrong) + "); run it again")
    report: dict[str, Any] = {"counts": have, "queries": 0, "matching": 0}
    if not compare_search:
        return report
    documents = list(source.documents())
    step = max(1, len(documents) // _SAMPLES)
    owner = Access.owner()
    mismatched = []
    for doc in documents[::step][:_SAMPLES]:
        chunks = source.chunks(doc.id)
        if not chunks:
            continue
        query = " ".join(chunks[0].text.split()[:8])
        vector = source.vectors_for([chunks[0].hash])[chunks[0].hash]
        for kind, ranked in (
            ("keyword", lambda s: s.keyword_search(query, _TOP, Filters(), owner)),  # noqa: B023
            ("vector", lambda s: s.vector_search(vector, _TOP, Filters(), owner)),  # noqa: B023
        ):
            report["queries"] += 1
            if _same(source.hits(ranked(source), owner), target.hits(ranked(target), owner)):
                report["matching"] += 1
            else:
                mismatched.append(f"{kind} search for '{query}'")
    if mismatched:
        raise DatabaseError(
            "the copy ranks differently from its source for "
            + ", ".join(mismatched)
            + "; the data is there, but check `docket db status` and store.hnsw_ef_search before switching to it"
        )
    return report


def _same(left: list[Any], right: list[Any]) -> bool:
    """Same passages at each rank (ties, equal scores, may come in either order)."""
    if len(left) != len(right):
        return False
    if not left:
        return True
    for a, b in zip(left, right, strict=True):
        if abs(a.score - b.score) > 1e-4:
            return False
    return {(h.path, h.text) for h in left if h.score > right[-1].score + 1e-4} == {
        (h.path, h.text) for h in right if h.score > right[-1].score + 1e-4
    }
