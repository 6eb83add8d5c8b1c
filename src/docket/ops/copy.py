"""Copying a knowledge base into PostgreSQL without re-embedding (``docket db copy``).

Everything goes through the :class:`~docket.ledger.Store` reads of the source, so any store can
be copied: documents with their text, chunks with their vectors (keyword postings are rebuilt from
the text with the same analyzer), sources, failures, the answer log and conversations. Into an
empty database chunk and answer-log ids are kept, so logged answers still name the right chunks;
with ``merge`` the target numbers the new rows itself. Afterwards the copy is checked: the counts,
and the top hits of a few sampled keyword and vector queries, must be the same on both sides.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.config import Settings
from docket.errors import DatabaseError, MissingExtraError, NotFoundError, UserError
from docket.index.postgres.store import PostgresStore
from docket.ledger import SourceConfig, Store
from docket.protocols import Reembedding
from docket.records import SCHEMA, Records
from docket.records.postgres import pg_text
from docket.types import Access, Filters, ParseAttempt

if TYPE_CHECKING:
    from docket.index.postgres.tables import PostgresTableStore

__all__ = ["HomeCopy", "copy_store", "home_parts", "verify_copy"]

Progress = Callable[[int, int, str], None]
_PAGE = 500
_SAMPLES = 5
_TOP = 5


def _counts(store: Store) -> dict[str, int]:
    stats = store.stats()
    return {
        "documents": int(stats["documents"]),
        "chunks": int(stats["chunks"]),
        "sources": len(store.ledger.sources()),
        "failures": len(store.ledger.failures()),
        "answers": len(_all_answers(store)),
        "conversations": len(store.ledger.conversations(limit=1_000_000)),
    }


def _all_answers(store: Store) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while page := store.ledger.answer_logs(limit=_PAGE, offset=len(out)):
        out.extend(page)
    return out[::-1]  # oldest first


def copy_store(
    source: Store,
    target: PostgresStore,
    merge: bool = False,
    progress: Progress | None = None,
    rename: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Copy ``source`` into ``target``; returns what was copied and how it was verified. ``rename``
    maps source names (and paths) that change on the way: the folders of uploaded files."""
    same = rename or (lambda name: name)
    before = _counts(target)
    if not merge and any(before.values()):
        raise UserError(
            f"the database {target.where} is not empty ({before['documents']} documents, {before['answers']} logged "
            "answers); copy into an empty database, or add --merge to add this knowledge base to it"
        )
    info = source.embedder_info()
    if info is not None:
        target.bind_embedder(info[0], info[1], source.embedder_spec() if isinstance(source, Reembedding) else None)
    copied = {key: 0 for key in before}
    for name, config in source.ledger.sources().items():
        stored = {k: same(v) if isinstance(v, str) else v for k, v in config.to_json().items()}
        renamed = SourceConfig.from_json(stored, created=float(config.created or 0.0), last_sync=config.last_sync)
        target.ledger.import_source(same(name), renamed)
        copied["sources"] += 1
    documents = list(source.documents())
    if not merge:
        target.drop_vector_index()  # rebuilt once at the end
    for n, doc in enumerate(documents, 1):
        chunks = source.chunks(doc.id)
        ids = [h.chunk_id for h in source.document_hits(doc.id, Access.owner())]
        vectors = source.vectors_for(c.hash for c in chunks)
        target.import_document(
            replace(doc, source=same(doc.source)),
            chunks,
            vectors,
            source.document_text(doc.id),
            chunk_ids=None if merge else ids,
            durable=False,
        )
        copied["documents"] += 1
        copied["chunks"] += len(chunks)
        if progress is not None:
            progress(n, len(documents), doc.path)
    for failure in source.ledger.failures():
        attempt = ParseAttempt.from_dict(failure.get("attempt"))  # copied: not parsed again unchanged there either
        target.ledger.record_failure(same(failure["source"]), failure["path"], failure["error"], attempt)
        copied["failures"] += 1
    log_ids: dict[int, int] = {}
    for record in _all_answers(source):
        old = int(record["id"])
        log_ids[old] = target.ledger.log_answer(record if not merge else {k: v for k, v in record.items() if k != "id"})
        copied["answers"] += 1
    conversations = source.ledger.conversations(limit=1_000_000)[::-1]  # least recently used first
    for conv in conversations:
        try:
            target.ledger.conversation(conv["id"])
            continue  # merging: a conversation of that id is already there
        except NotFoundError:
            pass
        for turn in source.ledger.conversation(conv["id"]):
            log_id = turn.get("log_id")
            target.ledger.add_turn(conv["id"], {**turn, "log_id": log_ids.get(int(log_id), log_id) if log_id else None})
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


# ---------------------------------------------------------------------- the rest of the home
_HOME_FILES = (("records", "accounts.db"), ("reviews", "reviews.db"), ("tables", "tables.db"))
_BATCH = 1000


def home_parts(home: Path) -> dict[str, Path]:
    """What besides the store an embedded home holds that `docket db copy` moves: ``accounts.db``
    (the server's records), ``reviews.db``, ``tables.db`` and the ``uploads/`` folder."""
    parts = {part: home / name for part, name in _HOME_FILES if (home / name).is_file()}
    if (home / "uploads").is_dir():
        parts["uploads"] = home / "uploads"
    return parts


class HomeCopy:
    """Copies the server's records, the review queue, the spreadsheet tables and the uploaded files
    of an embedded home into a PostgreSQL database, where ``docket serve`` and the commands find
    them when ``store.url`` names it (schemas ``docket_server`` and ``docket_tables``).

    Records are copied generically, table by table, from the SQLite files' own tables into the
    same-named PostgreSQL tables, rows as they are (ids kept, so sessions, API keys, memberships and
    the audit log stay valid); afterwards every identity column's sequence is moved past the
    copied ids. ``merge``: rows whose key (or another unique column) is already there are kept as
    they are and counted as ``kept``; meant for running an interrupted copy again, not for joining
    the records of two servers (their ids would clash).
    """

    def __init__(self, settings: Settings, url: str, merge: bool) -> None:
        self.home = settings.home
        self.parts = home_parts(settings.home)
        self.merge = merge
        self.records: Records | None = None
        self.tables: PostgresTableStore | None = None
        self._uploads: tuple[str, str] | None = None  # (old root, new root) of uploaded files
        try:
            if {"records", "reviews", "uploads"} & set(self.parts):
                from docket.accounts import Accounts, uploads
                from docket.workflows.review import ReviewQueue

                self.records = Records.postgres(url, pool_size=2, connect_timeout=settings.store.connect_timeout)
                try:
                    accounts = Accounts(self.records)  # creates the tables of the docket_server schema
                except ImportError as exc:  # argon2, of the server extra
                    raise MissingExtraError("argon2", "server", "Copying the server's records (accounts.db)") from exc
                ReviewQueue(self.records, owned=False)
                old = str((self.home / "uploads").resolve())
                self._uploads = (old, str(uploads.root(accounts.uploads, settings)))
            if "tables" in self.parts:
                from docket.index.postgres.tables import PostgresTableStore

                self.tables = PostgresTableStore(url, settings.store.connect_timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.records is not None:
            self.records.close()
        if self.tables is not None:
            self.tables.close()

    def rename(self, value: str) -> str:
        """A source name or path under ``HOME/uploads`` as the servers on PostgreSQL see it (their
        shared cache folder of uploads, :func:`docket.accounts.uploads.root`); others as they are."""
        if self._uploads is None:
            return value
        old, new = self._uploads
        if value == old or value.startswith(old + os.sep):
            return new + value[len(old) :]
        return value

    def check_empty(self) -> None:
        """Refuse (without ``merge``) a database that already holds records or tables."""
        if self.merge:
            return
        held: list[str] = []
        if self.records is not None:
            for part in ("records", "reviews"):
                if part in self.parts:
                    for table in _sqlite_tables(self.parts[part]):
                        n = self._target_count(table)
                        if n:
                            held.append(f"{n} {table}")
        if self.tables is not None and self.tables.tables():
            held.append(f"{len(self.tables.tables())} spreadsheet tables")
        if held:
            raise UserError(
                f"the database already holds a server's records ({', '.join(held)}); copy into an empty database, "
                "or add --merge to keep what is there and add the rest"
            )

    def copy(self) -> dict[str, Any]:
        """Copy every part; returns the rows copied per part (and, merging, those kept)."""
        out: dict[str, Any] = {"records": {}, "reviews": {}, "tables": 0, "uploads": 0, "run_files": 0}
        kept: dict[str, Any] = {"records": {}, "reviews": {}, "tables": 0, "uploads": 0, "run_files": 0}
        for part in ("records", "reviews"):
            if part in self.parts:
                for table, (copied, left) in self._copy_records(self.parts[part]).items():
                    out[part][table] = copied
                    if left:
                        kept[part][table] = left
        if self.records is not None:
            self._move_sequences()
        if self.tables is not None:
            tables = self.tables.import_sqlite(self.parts["tables"], self.rename)
            out["tables"], kept["tables"] = tables["tables"], tables["kept"]
        if "uploads" in self.parts:
            out["uploads"], kept["uploads"] = self._copy_uploads(self.parts["uploads"])
        if "records" in self.parts:
            out["run_files"], kept["run_files"] = self._copy_run_files(self.parts["records"])
        if self.merge:
            out["kept"] = kept
        return out

    # -- records
    def _target_count(self, table: str) -> int:
        assert self.records is not None
        if not self._target_columns(table):
            return 0
        return int(self.records.one(f'SELECT COUNT(*) FROM "{table}"')[0])

    def _target_columns(self, table: str) -> dict[str, str]:
        assert self.records is not None
        rows = self.records.all(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            (SCHEMA, table),
        )
        return {str(name): str(kind) for name, kind in rows}

    def _copy_records(self, path: Path) -> dict[str, tuple[int, int]]:
        """Each table of the SQLite file ``path`` into the same-named table: (copied, kept) rows."""
        assert self.records is not None
        counts: dict[str, tuple[int, int]] = {}
        src = _read_only(path)
        try:
            for table in _sqlite_tables(path):
                target = self._target_columns(table)
                if not target:
                    raise DatabaseError(
                        f"{path.name} has a table '{table}' that the records in PostgreSQL lack; "
                        "copy with the Docket version that made the file"
                    )
                columns = [str(c[1]) for c in src.execute(f'PRAGMA table_info("{table}")') if str(c[1]) in target]
                kinds = [target[c] for c in columns]
                quoted = ", ".join(f'"{c}"' for c in columns)
                sql = (
                    f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(columns))}) ON CONFLICT DO NOTHING'
                )
                before = self._target_count(table)
                total = 0
                cur = src.execute(f'SELECT {quoted} FROM "{table}" ORDER BY rowid')
                while rows := cur.fetchmany(_BATCH):
                    total += len(rows)
                    self.records.executemany(sql, [self._row(row, kinds) for row in rows])
                copied = self._target_count(table) - before
                if not self.merge and copied != total:
                    raise DatabaseError(
                        f"the copy of {path.name}'s table {table} does not match its source ({copied} rows in the "
                        f"target, {total} in the source); run it again into an empty database"
                    )
                counts[table] = (copied, total - copied)
        except sqlite3.Error as exc:
            raise DatabaseError(
                f"cannot read {path}: {exc}; check the file (sqlite3 {path.name} 'PRAGMA integrity_check')"
            ) from exc
        finally:
            src.close()
        return counts

    def _row(self, row: Sequence[Any], kinds: Sequence[str]) -> tuple[Any, ...]:
        return tuple(self._value(v, k) for v, k in zip(row, kinds, strict=True))

    def _value(self, value: Any, kind: str) -> Any:
        """A SQLite value as the PostgreSQL column's type wants it (SQLite keeps what it is given)."""
        if value is None:
            return None
        if kind in ("bigint", "integer", "smallint"):
            return int(value) if isinstance(value, float) and value.is_integer() else value
        if kind in ("double precision", "real", "numeric"):
            return float(value) if isinstance(value, int) else value
        if kind == "boolean":
            return bool(value)
        if kind == "bytea":
            return value.encode() if isinstance(value, str) else bytes(value)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            return str(value)
        if self._uploads is not None and self._uploads[0] in value:  # a job's folder of uploads
            value = value.replace(self._uploads[0], self._uploads[1])
        return pg_text(value)

    def _move_sequences(self) -> None:
        """Every identity column's next value past the ids copied, so new rows get fresh ids."""
        assert self.records is not None
        for table, column in self.records.all(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? "
            "AND is_identity = 'YES'",
            (SCHEMA,),
        ):
            self.records.execute(
                f"SELECT setval(pg_get_serial_sequence('{SCHEMA}.\"{table}\"', '{column}'), "
                f'COALESCE(MAX("{column}"), 0) + 1, false) FROM "{table}"'
            )

    # -- uploads
    def _copy_uploads(self, root: Path) -> tuple[int, int]:
        """The files under ``HOME/uploads/<workspace>/`` (and its access lists' hidden sub-folders)
        into ``docket_server.uploads``: (copied, kept)."""
        from docket.accounts.uploads import RESTRICTED

        assert self.records is not None
        copied = kept = 0
        for workspace in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            folders = [(workspace, "")] + [
                (p, p.name) for p in sorted(workspace.iterdir()) if p.is_dir() and p.name.startswith(RESTRICTED)
            ]
            for folder, sub in folders:
                for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
                    data = file.read_bytes()
                    result = self.records.execute(
                        "INSERT INTO uploads (workspace, folder, name, sha256, data, created) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, folder, name) DO NOTHING",
                        (workspace.name, sub, file.name, hashlib.sha256(data).hexdigest(), data, file.stat().st_mtime),
                    )
                    if result.rowcount:
                        copied += 1
                    else:
                        kept += 1
        return copied, kept

    def _copy_run_files(self, path: Path) -> tuple[int, int]:
        """The files of each workflow run's folder (``HOME/runs/ID/``: its input, results and reports)
        into ``docket_server.run_files``, as a server on PostgreSQL keeps them: (copied, kept)."""
        assert self.records is not None
        if "workflow_runs" not in _sqlite_tables(path):
            return 0, 0
        src = _read_only(path)
        try:
            ids = [str(r[0]) for r in src.execute("SELECT id FROM workflow_runs ORDER BY rowid")]
        finally:
            src.close()
        copied = kept = 0
        for run_id in ids:
            folder = self.home / "runs" / run_id
            if not folder.is_dir():
                continue
            for file in sorted(folder.rglob("*")):
                if not file.is_file() or file.name.endswith(".progress") or file.name.startswith(".part-"):
                    continue
                result = self.records.execute(
                    "INSERT INTO run_files (run_id, name, data) VALUES (?, ?, ?) ON CONFLICT (run_id, name) DO NOTHING",
                    (run_id, file.relative_to(folder).as_posix(), file.read_bytes()),
                )
                copied, kept = (copied + 1, kept) if result.rowcount else (copied, kept + 1)
        return copied, kept


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)


def _sqlite_tables(path: Path) -> list[str]:
    """The tables of a SQLite file in the order they were created (so referenced ones come first)."""
    db = _read_only(path)
    try:
        rows = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        ).fetchall()
    finally:
        db.close()
    return [str(r[0]) for r in rows]
