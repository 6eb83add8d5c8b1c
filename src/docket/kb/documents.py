"""Whole documents: finding one by name, every passage of it, answers over all of them, and
corrections of their profiles.

Functions of a knowledge base (``kb``, a :class:`~docket.kb.parts.Core`), behind its ``document_hits``,
``find_document``, ``summarize`` and ``ask_documents``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.answer.numbering import renumbered
from docket.errors import NotFoundError, UserError
from docket.index import document_by_id, get_document
from docket.ingest.profiles import PROFILE_KEY, extract_profile, profile_of
from docket.types import Access, Answer, Block, Document, Hit, ParsedDocument, Profile

if TYPE_CHECKING:
    from docket.kb.parts import Core
    from docket.protocols import ChatModel

__all__ = [
    "document_hits",
    "document_task",
    "find_document",
    "lookup_document",
    "profile_missing",
    "read_file",
    "set_profile",
]


def document_hits(kb: Core, files: Sequence[str], access: Access = Access.owner()) -> list[list[Hit]]:
    """Every chunk of each named document, in order.

    A name is an indexed document's path (``policies/leave.md``, or its end, ``leave.md``; the
    source's name in front, ``hr/leave.md``, tells apart equal paths of two sources) or
    a file on disk: inside a source it is the indexed version; elsewhere (the local owner
    only) it is read and cut into chunks on the fly, without being indexed.
    """
    out = []
    for name in files:
        doc = lookup_document(kb, name)
        if doc is not None:
            hits = kb.store.document_hits(doc.id, access)
            if not hits:
                raise NotFoundError(f"no document '{name}' that you may read")
            out.append(hits)
        elif access.unrestricted and Path(name).is_file():
            out.append(read_file(kb, Path(name)))
        else:
            raise NotFoundError(f"no document '{name}': give an indexed path (see `docket search`) or an existing file")
    return out


def find_document(kb: Core, name: str) -> Document:
    """The indexed document ``name`` gives: its path (or the end of it, or source/path), or a
    file on disk that is indexed. NotFoundError when none is; UserError when several match."""
    found = lookup_document(kb, name)
    if found is None:
        raise NotFoundError(f"no indexed document '{name}'; `docket documents` lists them")
    return found


def lookup_document(kb: Core, name: str) -> Document | None:
    path = Path(name)
    if path.is_file():
        full = path.resolve()
        for source, cfg in kb.ledger.sources().items():
            root = Path(cfg.path or "").resolve()
            if full.is_relative_to(root) and full != root:
                found = get_document(kb.store, source, full.relative_to(root).as_posix())
                if found is not None:
                    return found
            elif full == root:  # a source that is a single file
                found = get_document(kb.store, source, full.name)
                if found is not None:
                    return found
        return None
    wanted = name.strip("/")
    matches = []
    for d in kb.store.documents():
        qualified = f"{d.source}/{d.path}"  # the source's name disambiguates equal paths
        if d.path == wanted or qualified == wanted or qualified.endswith("/" + wanted):
            matches.append(d)
    exact = [d for d in matches if wanted in (d.path, f"{d.source}/{d.path}")]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if matches:
        shown = ", ".join(d.path for d in matches[:5])
        raise UserError(f"'{name}' matches {len(matches)} documents ({shown}); give more of the path")
    return None


def read_file(kb: Core, path: Path) -> list[Hit]:
    from docket.ingest.chunking import chunk_document
    from docket.ingest.parsers import parse_bytes

    parsed = parse_bytes(path.read_bytes(), path.name)
    title = parsed.title or path.stem
    cfg = kb.settings.chunking
    chunks = chunk_document(parsed, title, cfg.max_tokens, cfg.overlap_tokens)
    shown = str(path)
    return [Hit(-1 - i, "", "", shown, title, c.text, c.location, 0.0) for i, c in enumerate(chunks)]


def document_task(
    kb: Core,
    question: str | None,
    files: Sequence[str],
    access: Access,
    model: str | ChatModel | None,
    stream: Callable[[str], None] | None,
    on_prompt: Callable[[Any], None] | None,
    progress: Callable[[int, int, str], None] | None,
) -> Answer:
    from docket.answer.documents import document_answer

    if not files:
        raise UserError("name at least one document")
    started = time.perf_counter()
    documents = document_hits(kb, files, access)
    chat = kb.answering_model(model)
    prompts: list[Any] = []

    def seen(prompt: Any) -> None:
        prompts.append(prompt)
        kb.prompt_guard(chat, on_prompt)(prompt)

    cfg = kb.settings.answer
    answer = document_answer(
        question,
        documents,
        chat,
        kb.embedder,
        budget_tokens=cfg.document_tokens,
        max_sentences=cfg.summary_sentences,
        min_support=kb.settings.model.min_support,
        stream=stream,
        on_prompt=seen,
        progress=progress,
    )
    answer = kb.priced(renumbered(answer))  # 1..n by first use, like every answer
    prompt_text = "\n\n".join(p.render() for p in prompts) if prompts else None
    return replace(answer, log_id=kb.log_answer(answer, prompt_text, (time.perf_counter() - started) * 1000))


def profile_missing(kb: Core, documents: Iterable[Document] | None = None) -> int:
    """Give a profile to every document indexed before profiles existed (read from its stored
    text); returns how many were profiled. Documents ingested since have one already.
    ``documents``: every document of the index, when the caller has just read them."""
    done = 0
    for doc in kb.store.documents() if documents is None else documents:
        if PROFILE_KEY in doc.metadata:
            continue
        parsed = ParsedDocument(blocks=(Block(kb.store.document_text(doc.id)),), metadata=doc.metadata)
        profile = extract_profile(parsed, doc.title, doc.path)
        kb.store.update_document(doc.id, metadata={**doc.metadata, PROFILE_KEY: profile.to_dict()})
        done += 1
    return done


def set_profile(kb: Core, doc_id: str, **fields: Any) -> Profile:
    """Correct a document's profile by hand (an admin's edit): ``fields`` are Profile fields
    (``organizations``, ``doc_type``, ``date``, ``period_start``, ``period_end``, ``fiscal_year``,
    ``fiscal_quarter``, ``title``); a value of None clears the edit of that field, which goes back
    to what the rules read. Edited fields survive every re-ingest of the document."""
    doc = document_by_id(kb.store, doc_id)
    if doc is None:
        raise NotFoundError(f"no document {doc_id}")
    editable = set(Profile.__dataclass_fields__) - {"edited"}
    unknown = set(fields) - editable
    if unknown:
        raise UserError(f"unknown profile field(s) {sorted(unknown)}; use: {', '.join(sorted(editable))}")
    current = profile_of(doc.metadata)
    cleared = {k for k, v in fields.items() if v is None}
    if cleared:  # back to what the rules read from the document's own text
        parsed = ParsedDocument(blocks=(Block(kb.store.document_text(doc.id)),), metadata=doc.metadata)
        extracted = extract_profile(parsed, doc.title, doc.path)
        current = replace(current, **{k: getattr(extracted, k) for k in cleared})
    values: dict[str, Any] = {k: (tuple(v) if k == "organizations" else v) for k, v in fields.items() if v is not None}
    edited = tuple(sorted((set(current.edited) | set(values)) - cleared))
    profile = replace(current, **values, edited=edited)
    kb.store.update_document(doc.id, metadata={**doc.metadata, PROFILE_KEY: profile.to_dict()})
    return profile
