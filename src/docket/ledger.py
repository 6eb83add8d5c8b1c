"""The bookkeeping kept beside a knowledge base's documents, written once for every backend.

A :class:`Ledger` holds what is not the searchable index itself: the registered sources, the files
that could not be indexed (with what they were, so they are not parsed again unchanged), the answer
log (every answer with its question, sources, prompt, model, tokens, cost and latency), the turns
of each conversation and the sentence vectors cached by chunk hash. It is plain SQL over
:class:`docket.records.Records` (``?`` placeholders; the few statements that differ check
:attr:`Records.dialect`), so the same code runs on the embedded SQLite file (``index.db``) and on
the PostgreSQL database of the store, in the tables both have always had (``sources``,
``failures``, ``answer_log``, ``conversations``, ``turns``, ``sentences``).

The tables are created by the store's migrations (:mod:`docket.index.sqlite`,
:mod:`docket.index.postgres.schema`), and the ledger lives in the store's database: each store
gives its own as ``store.ledger`` (:class:`Store`). Removing a source's documents is the index's
part (:meth:`docket.kb.KnowledgeBase.remove_source` does both); indexing a file clears its failure
(:meth:`Ledger.clear_failure`, called by :mod:`docket.ingest.sync`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

from docket.errors import NotFoundError
from docket.protocols import DocumentIndex
from docket.records import Records
from docket.types import DEFAULT_WORKSPACE, ParseAttempt, SentenceVectors

__all__ = ["LOG_COLUMNS", "Ledger", "SourceConfig", "Store"]

# answer_log, in the order log_answer writes and answer_logs reads them
LOG_COLUMNS = (
    "id",
    "at",
    "question",
    "answer",
    "abstained",
    "method",
    "model",
    "prompt",
    "sources",
    "citations",
    "notes",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency_ms",
    "confidence",
)
_JSON_LOG = ("sources", "citations", "notes")
# failures: what a file was when it failed to parse, and what tried (docket.types.ParseAttempt)
_ATTEMPT = ("size", "mtime", "content_hash", "docket_version", "tried_with")
_TURN = ("n", "at", "question", "query", "answer", "log_id")
_BATCH = 500


# The keys of a source's stored config, in the order each kind has always written them.
_FOLDER_KEYS: tuple[str, ...] = ("type", "path", "display", "workspace", "tags", "access")
_REMOTE_KEYS: tuple[str, ...] = ("type", "settings", "schedule", "workspace", "tags", "access")
_REMOTE_KEYS += ("checkpoint", "last_result", "last_error", "last_run")
_LISTED = ("created", "last_sync")  # the ledger's own columns, added when listing; never stored


@dataclass(frozen=True)
class SourceConfig:
    """A registered source's config, parsed once where the ledger reads it.

    A folder or file source has ``path`` (and ``display``, the path as given); a remote one
    (web, imap, sql) has its connector's ``settings``, a cron ``schedule`` and the state of its
    last sync. ``created`` and ``last_sync`` are the ledger's columns, not part of the stored JSON.
    Keys this version does not know are kept in ``extra``; :meth:`to_json` writes back the keys
    that were read, in their order, so a stored config round-trips unchanged.
    """

    type: str = "folder"
    path: str | None = None
    display: str = ""
    workspace: str = DEFAULT_WORKSPACE
    tags: tuple[str, ...] = ()
    access: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    checkpoint: Mapping[str, Any] = field(default_factory=dict)
    last_result: Mapping[str, Any] | None = None
    last_error: str | None = None
    last_run: float | None = None
    created: float | None = None
    last_sync: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)  # as stored, in order

    @property
    def is_local(self) -> bool:
        """A folder or single file (indexed by ``docket ingest``), not a remote connector."""
        return self.type in ("folder", "file")

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, created: float | None = None, last_sync: float | None = None
    ) -> SourceConfig:
        """The config stored as ``data`` (the ``sources.config`` JSON, decoded)."""
        known = {f.name for f in fields(cls)} - {"extra", "keys", *_LISTED}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("tags", "access"):
            if key in values:
                values[key] = tuple(values[key] or ())
        for key in ("settings", "checkpoint"):
            if key in values:
                values[key] = dict(values[key] or {})
        extra = {k: v for k, v in data.items() if k not in known and k not in _LISTED}
        keys = tuple(k for k in data if k not in _LISTED)
        return cls(**values, created=created, last_sync=last_sync, extra=extra, keys=keys)

    def to_json(self) -> dict[str, Any]:
        """The config as stored: the keys read (or this kind's keys for a new one), then any of this
        kind's keys since given a value."""
        canonical = _FOLDER_KEYS if self.is_local else _REMOTE_KEYS
        order = self.keys or canonical
        defaults = SourceConfig()
        order += tuple(k for k in canonical if k not in order and getattr(self, k) != getattr(defaults, k))
        out: dict[str, Any] = {}
        for key in order:
            if key in self.extra:
                out[key] = self.extra[key]
            elif key in ("tags", "access"):
                out[key] = list(getattr(self, key))
            elif key in ("settings", "checkpoint"):
                out[key] = dict(getattr(self, key))
            elif hasattr(self, key) and key not in ("extra", "keys", *_LISTED):
                out[key] = getattr(self, key)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The config as listed (``docket sources list``, the HTTP API): stored keys, then
        ``created`` and ``last_sync``."""
        return {**self.to_json(), "created": self.created, "last_sync": self.last_sync}


class Ledger:
    """Sources, failures, the answer log, conversations and cached sentence vectors of one
    knowledge base, in ``records`` (the store's own database). Thread-safe as ``records`` is."""

    def __init__(self, records: Records) -> None:
        self.records = records
        postgres = records.dialect == "postgres"
        self._postgres = postgres
        self._c = ' COLLATE "C"' if postgres else ""  # byte order on both, whatever the database's locale

    def close(self) -> None:
        self.records.close()

    def _text(self, value: str) -> str:
        """PostgreSQL text cannot hold NUL characters (some PDFs yield them); they are dropped there."""
        return value.replace("\x00", "") if self._postgres else value

    def counts(self) -> dict[str, int]:
        """How many sources and failing files there are (the store's ``stats``)."""
        row = self.records.one("SELECT (SELECT COUNT(*) FROM sources), (SELECT COUNT(*) FROM failures)")
        return {"sources": int(row[0]), "failures": int(row[1])}

    # ------------------------------------------------------------------ sources
    def add_source(self, name: str, config: SourceConfig) -> None:
        """Register ``name`` with ``config``, or replace the config of the one registered."""
        self.records.execute(
            "INSERT INTO sources (name, config, created) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET config = excluded.config",
            (name, json.dumps(config.to_json()), time.time()),
        )

    def import_source(self, name: str, config: SourceConfig) -> None:
        """A source with its recorded times, ``config.created`` and ``config.last_sync`` (``docket db copy``)."""
        self.records.execute(
            "INSERT INTO sources (name, config, created, last_sync) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET config = excluded.config, last_sync = excluded.last_sync",
            (name, json.dumps(config.to_json()), config.created, config.last_sync),
        )

    def sources(self) -> dict[str, SourceConfig]:
        """Each source's config, with its ``created`` and ``last_sync`` times, by name."""
        rows = self.records.all(f"SELECT name, config, created, last_sync FROM sources ORDER BY name{self._c}")
        return {
            name: SourceConfig.from_json(json.loads(config), created=created, last_sync=last)
            for name, config, created, last in rows
        }

    def mark_synced(self, name: str) -> None:
        self.records.execute("UPDATE sources SET last_sync = ? WHERE name = ?", (time.time(), name))

    def remove_source(self, name: str) -> None:
        """Forget source ``name`` and its failures (its documents are the index's to delete)."""
        with self.records.tx() as tx:
            if tx.execute("DELETE FROM sources WHERE name = ?", (name,)).rowcount == 0:
                known = [r[0] for r in tx.execute(f"SELECT name FROM sources ORDER BY name{self._c}").rows]
                raise NotFoundError(f"no source named '{name}'. Sources: {', '.join(known) or 'none'}")
            tx.execute("DELETE FROM failures WHERE source = ?", (name,))

    # ------------------------------------------------------------------ failures
    def record_failure(self, source: str, path: str, error: str, attempt: ParseAttempt | None = None) -> None:
        """Keep ``error`` as the reason ``path`` is not indexed, replacing an earlier one. ``attempt``
        (a file that failed to parse) says what the file was and what tried, so that an unchanged
        file is not parsed again (docket.ingest.failures); None for failures to try again anyway."""
        seen = (None,) * 5 if attempt is None else tuple(getattr(attempt, name) for name in _ATTEMPT)
        updates = ", ".join(f"{c} = excluded.{c}" for c in ("error", "at", *_ATTEMPT))
        self.records.execute(
            f"INSERT INTO failures (source, path, error, at, {', '.join(_ATTEMPT)}) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, path) DO UPDATE SET {updates}",
            (source, path, self._text(error), time.time(), *seen),
        )

    def clear_failure(self, source: str, path: str) -> None:
        """``path`` was indexed: it fails no more."""
        self.records.execute("DELETE FROM failures WHERE source = ? AND path = ?", (source, path))

    def failures(self, source: str | None = None) -> list[dict[str, Any]]:
        """``{"source", "path", "error", "at", "attempt"}`` per failing file, by source then path;
        ``attempt`` is :meth:`ParseAttempt.to_dict` or None."""
        where = " WHERE source = ?" if source else ""
        rows = self.records.all(
            f"SELECT source, path, error, at, {', '.join(_ATTEMPT)} FROM failures{where} "
            f"ORDER BY source{self._c}, path{self._c}",
            (source,) if source else (),
        )
        out = []
        for src, path, error, at, *seen in rows:
            attempt = ParseAttempt.from_dict(dict(zip(_ATTEMPT, seen, strict=True)))
            out.append(
                {
                    "source": src,
                    "path": path,
                    "error": error,
                    "at": float(at),
                    "attempt": None if attempt is None else attempt.to_dict(),
                }
            )
        return out

    # ------------------------------------------------------------------ the answer log
    def log_answer(self, record: Mapping[str, Any]) -> int:
        """Append an answer (the :data:`LOG_COLUMNS`; ``id`` only when copying a log); returns its id."""
        values = dict(record)
        for key in _JSON_LOG:
            values[key] = json.dumps(values.get(key, []), ensure_ascii=False)
        values["abstained"] = bool(values.get("abstained"))
        names = LOG_COLUMNS if values.get("id") is not None else LOG_COLUMNS[1:]
        row = self.records.one(
            f"INSERT INTO answer_log ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) RETURNING id",
            [values.get(n) for n in names],
        )
        return int(row[0])

    @staticmethod
    def _log_row(row: Iterable[Any]) -> dict[str, Any]:
        out = dict(zip(LOG_COLUMNS, row, strict=True))
        for key in _JSON_LOG:
            out[key] = json.loads(out[key])
        out["abstained"] = bool(out["abstained"])
        return out

    def answer_logs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first."""
        rows = self.records.all(
            f"SELECT {', '.join(LOG_COLUMNS)} FROM answer_log ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return [self._log_row(r) for r in rows]

    def answer_log(self, log_id: int) -> dict[str, Any]:
        row = self.records.one(f"SELECT {', '.join(LOG_COLUMNS)} FROM answer_log WHERE id = ?", (log_id,))
        if row is None:
            raise NotFoundError(f"no logged answer with id {log_id}; `docket logs` lists them")
        return self._log_row(row)

    def spent_since(self, timestamp: float) -> float:
        """Sum of logged model costs since ``timestamp`` (POSIX seconds)."""
        row = self.records.one("SELECT COALESCE(SUM(cost), 0) FROM answer_log WHERE at >= ?", (timestamp,))
        return float(row[0])

    # ------------------------------------------------------------------ conversations
    def add_turn(self, conversation_id: str, record: Mapping[str, Any]) -> None:
        """Append a turn (``question``, ``query``, ``answer``, ``log_id``, ``at``); the first one
        creates the conversation, titled by its question."""
        at = float(record.get("at") or time.time())
        with self.records.tx() as tx:
            tx.execute(
                "INSERT INTO conversations (id, title, created, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET updated = excluded.updated",
                (conversation_id, str(record["question"])[:200], at, at),
            )
            tx.execute(
                "INSERT INTO turns (conversation_id, n, at, question, query, answer, log_id) "
                "SELECT ?, COALESCE(MAX(n), 0) + 1, ?, ?, ?, ?, ? FROM turns WHERE conversation_id = ?",
                (
                    conversation_id,
                    at,
                    record["question"],
                    record.get("query") or record["question"],
                    record["answer"],
                    record.get("log_id"),
                    conversation_id,
                ),
            )

    def conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        """The turns of one conversation, oldest first; NotFoundError when there is none."""
        rows = self.records.all(
            f"SELECT {', '.join(_TURN)} FROM turns WHERE conversation_id = ? ORDER BY n", (conversation_id,)
        )
        if not rows:
            raise NotFoundError(f"no conversation '{conversation_id}'; `docket chat --list` shows them")
        return [dict(zip(_TURN, row, strict=True)) for row in rows]

    def conversations(self, limit: int = 20) -> list[dict[str, Any]]:
        """``id``, ``title``, ``turns``, ``created``, ``updated``; most recently used first."""
        order = "c.seq" if self._postgres else "c.rowid"  # ties: the one created last first
        rows = self.records.all(
            "SELECT c.id, c.title, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id), c.created, "
            f"c.updated FROM conversations c ORDER BY c.updated DESC, {order} DESC LIMIT ?",
            (limit,),
        )
        names = ("id", "title", "turns", "created", "updated")
        return [dict(zip(names, row, strict=True)) for row in rows]

    # ------------------------------------------------------------------ sentence vectors (docket.sentences)
    def put_sentence_vectors(self, embedder: str, vectors: Mapping[str, SentenceVectors]) -> None:
        """Keep the sentence vectors of these chunk hashes (computed with ``embedder``)."""
        if not vectors:
            return
        rows = [(h, embedder, *v.pack()) for h, v in vectors.items()]
        self.records.executemany(
            "INSERT INTO sentences (hash, embedder, spans, vectors) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (hash, embedder) DO UPDATE SET spans = excluded.spans, vectors = excluded.vectors",
            rows,
        )

    def sentence_vectors(self, embedder: str, dim: int, hashes: Iterable[str]) -> dict[str, SentenceVectors]:
        """Those kept for these chunk hashes by ``embedder`` (of ``dim`` dimensions); a hash without
        any is left out."""
        wanted = list(dict.fromkeys(h for h in hashes if h))
        out: dict[str, SentenceVectors] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            for h, spans, vectors in self.records.all(
                f"SELECT hash, spans, vectors FROM sentences WHERE embedder = ? AND hash IN ({marks})",
                [embedder, *batch],
            ):
                out[h] = SentenceVectors.unpack(bytes(spans), bytes(vectors), dim)
        return out

    def prune_sentence_vectors(self, embedder: str | None) -> int:
        """Drop those of chunks no longer indexed (the ``chunks`` table beside it) or of an embedder
        other than ``embedder`` (the index's; None: drop all); returns how many."""
        if embedder is None:
            return self.records.execute("DELETE FROM sentences").rowcount
        return self.records.execute(
            "DELETE FROM sentences WHERE embedder <> ? "
            "OR NOT EXISTS (SELECT 1 FROM chunks c WHERE c.hash = sentences.hash)",
            (embedder,),
        ).rowcount


@runtime_checkable
class Store(DocumentIndex, Protocol):
    """A document index with its :class:`Ledger` in the same database: what the built-in backends
    (:mod:`docket.index`) are, and what ingestion and the knowledge base work on."""

    ledger: Ledger
