"""The tables of the embedded store's SQLite file (``index.db``) as numbered migrations.

``meta`` (schema version, embedder, generation), ``documents`` (with the extracted text),
``chunks`` (text, location, content hash, the float32 vector and the keyword postings as blobs)
and ``vocab`` (keyword term ids) are the index's (:mod:`docket.index.sqlite`); ``sources``,
``failures`` (the last reason each failing file was not indexed, with what the file was when it
failed to parse), ``answer_log``, ``conversations``, ``turns`` and ``sentences`` are the ledger's
(:mod:`docket.ledger`).
"""

from __future__ import annotations

import sqlite3

from docket.index.migrations import Migration, check_not_newer, latest, pending

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    created REAL NOT NULL,
    last_sync REAL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    filetype TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    workspace TEXT NOT NULL DEFAULT 'default',
    access TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    text TEXT NOT NULL DEFAULT '',
    indexed_at REAL NOT NULL,
    UNIQUE (source, path)
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents (content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL,
    location TEXT NOT NULL,
    hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    terms BLOB NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks (hash);
CREATE TABLE IF NOT EXISTS vocab (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS answer_log (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    method TEXT NOT NULL,
    model TEXT,
    prompt TEXT,
    sources TEXT NOT NULL,
    citations TEXT NOT NULL,
    notes TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost REAL,
    latency_ms REAL NOT NULL,
    confidence REAL
);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    at REAL NOT NULL,
    question TEXT NOT NULL,
    query TEXT NOT NULL,
    answer TEXT NOT NULL,
    log_id INTEGER,
    PRIMARY KEY (conversation_id, n)
);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    error TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (source, path)
);
"""


def _initial_schema(db: sqlite3.Connection) -> None:
    db.executescript(_SCHEMA)


def _sentences_table(db: sqlite3.Connection) -> None:
    db.execute(_SENTENCES)


_SENTENCES = """CREATE TABLE IF NOT EXISTS sentences (
    hash TEXT NOT NULL,
    embedder TEXT NOT NULL,
    spans BLOB NOT NULL,
    vectors BLOB NOT NULL,
    PRIMARY KEY (hash, embedder)
)"""

# What a file was when it failed to parse, and what tried (docket.types.ParseAttempt); NULL for
# failures recorded before these columns, or without an attempt: those are always tried again.
_ATTEMPT_COLUMNS = (
    ("size", "INTEGER"),
    ("mtime", "REAL"),
    ("content_hash", "TEXT"),
    ("docket_version", "TEXT"),
    ("tried_with", "TEXT"),
)


def _failure_attempts(db: sqlite3.Connection) -> None:
    have = {row[1] for row in db.execute("PRAGMA table_info(failures)")}
    for column, sql_type in _ATTEMPT_COLUMNS:
        if column not in have:  # each ALTER commits alone: a crash half-way is finished on the next open
            db.execute(f"ALTER TABLE failures ADD COLUMN {column} {sql_type}")


# Numbered schema changes (docket.index.migrations); append, never edit. Applied when the store opens.
MIGRATIONS = [
    Migration(1, "documents, chunks, keyword postings, answer log, conversations", _initial_schema),
    Migration(2, "sentence vectors of chunks, by chunk hash (docket.index.sentences)", _sentences_table),
    Migration(3, "what a file was when it failed to parse, so it is not parsed again unchanged", _failure_attempts),
]
SCHEMA_VERSION = latest(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    """The version recorded in the file (0 for a new one)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def migrate(db: sqlite3.Connection, where: str) -> None:
    """Bring the file's schema up to date (a new file gets every table); refuse a newer one."""
    found = schema_version(db)
    check_not_newer(found, SCHEMA_VERSION, where)
    db.executescript(_SCHEMA)
    logged = {row[1] for row in db.execute("PRAGMA table_info(answer_log)")}
    if "confidence" not in logged:  # knowledge bases from before answers logged their confidence
        db.execute("ALTER TABLE answer_log ADD COLUMN confidence REAL")
    for migration in pending(found, MIGRATIONS):
        migration.apply(db)
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(migration.version),))
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0')")
