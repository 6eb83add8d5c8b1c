"""The PostgreSQL schema as numbered migrations, and what is checked when a database is opened.

Tables mirror the embedded store's, with these differences: keyword postings are rows of
``postings (term, chunk_id, doc_id, tf, length)`` (the same Snowball terms and counts the embedded
store keeps as blobs; the chunk's document and length are repeated so that a keyword query reads
only the postings of its terms, from the index), ``corpus`` holds the chunk count and total length
BM25 needs (kept by triggers on ``chunks``), ``terms`` holds each term's document frequency and the
largest count and smallest chunk length among its postings (kept by triggers on ``postings``; the
last two are not narrowed on delete, so they stay bounds of the term's BM25 weight), and vectors
are a pgvector ``vector`` column, typed ``vector(dim)`` and given an HNSW index (cosine distance)
once the embedder is bound.
"""

from __future__ import annotations

from typing import Any

from docket.errors import DatabaseError
from docket.index.migrations import Migration, check_not_newer, latest, pending

__all__ = ["HNSW_MAX_DIM", "MIGRATIONS", "SCHEMA_VERSION", "create_vector_index", "impact_sql", "prepare"]

HNSW_MAX_DIM = 2000  # pgvector cannot index longer `vector`s; longer ones are searched exactly

_INITIAL = """
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE sources (
    name text PRIMARY KEY,
    config text NOT NULL,
    created double precision NOT NULL,
    last_sync double precision
);
CREATE TABLE documents (
    id text PRIMARY KEY,
    source text NOT NULL,
    path text NOT NULL,
    title text NOT NULL,
    filetype text NOT NULL,
    content_hash text NOT NULL,
    size bigint NOT NULL,
    mtime double precision NOT NULL,
    workspace text NOT NULL DEFAULT 'default',
    access jsonb NOT NULL DEFAULT '[]',
    tags jsonb NOT NULL DEFAULT '[]',
    metadata text NOT NULL DEFAULT '{}',
    text text NOT NULL DEFAULT '',
    indexed_at double precision NOT NULL,
    UNIQUE (source, path)
);
CREATE INDEX documents_hash ON documents (content_hash);
CREATE INDEX documents_workspace ON documents (workspace);
CREATE TABLE chunks (
    id bigserial PRIMARY KEY,
    doc_id text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    text text NOT NULL,
    context text NOT NULL,
    location text NOT NULL,
    hash text NOT NULL,
    vector vector NOT NULL,
    length integer NOT NULL
);
CREATE INDEX chunks_doc ON chunks (doc_id);
CREATE INDEX chunks_hash ON chunks (hash);
CREATE TABLE postings (
    term text NOT NULL,
    chunk_id bigint NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    doc_id text NOT NULL,
    tf integer NOT NULL,
    length integer NOT NULL,
    PRIMARY KEY (term, chunk_id) INCLUDE (doc_id, tf, length)
);
CREATE INDEX postings_chunk ON postings (chunk_id);
CREATE TABLE corpus (
    one boolean PRIMARY KEY DEFAULT TRUE CHECK (one),
    chunks bigint NOT NULL,
    total_length bigint NOT NULL
);
INSERT INTO corpus VALUES (TRUE, 0, 0);
CREATE FUNCTION docket_count_inserted_chunks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corpus SET chunks = chunks + (SELECT COUNT(*) FROM inserted),
                      total_length = total_length + (SELECT COALESCE(SUM(length), 0) FROM inserted);
    RETURN NULL;
END $$;
CREATE FUNCTION docket_count_deleted_chunks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corpus SET chunks = chunks - (SELECT COUNT(*) FROM deleted),
                      total_length = total_length - (SELECT COALESCE(SUM(length), 0) FROM deleted);
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_counted_in AFTER INSERT ON chunks REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION docket_count_inserted_chunks();
CREATE TRIGGER chunks_counted_out AFTER DELETE ON chunks REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION docket_count_deleted_chunks();
CREATE TABLE answer_log (
    id bigserial PRIMARY KEY,
    at double precision NOT NULL,
    question text NOT NULL,
    answer text NOT NULL,
    abstained boolean NOT NULL,
    method text NOT NULL,
    model text,
    prompt text,
    sources text NOT NULL,
    citations text NOT NULL,
    notes text NOT NULL,
    prompt_tokens integer NOT NULL,
    completion_tokens integer NOT NULL,
    cost double precision,
    latency_ms double precision NOT NULL,
    confidence double precision
);
CREATE INDEX answer_log_at ON answer_log (at);
CREATE TABLE conversations (
    id text PRIMARY KEY,
    title text NOT NULL,
    created double precision NOT NULL,
    updated double precision NOT NULL,
    seq bigserial
);
CREATE TABLE turns (
    conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    n integer NOT NULL,
    at double precision NOT NULL,
    question text NOT NULL,
    query text NOT NULL,
    answer text NOT NULL,
    log_id bigint,
    PRIMARY KEY (conversation_id, n)
);
CREATE TABLE failures (
    source text NOT NULL,
    path text NOT NULL,
    error text NOT NULL,
    at double precision NOT NULL,
    PRIMARY KEY (source, path)
);
INSERT INTO meta (key, value) VALUES ('generation', '0');
"""


def _initial(conn: Any) -> None:
    conn.execute(_INITIAL)


_JOBS = """
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    path text NOT NULL,
    action text NOT NULL CHECK (action IN ('index', 'delete')),
    workspace text NOT NULL DEFAULT 'default',
    tags jsonb NOT NULL DEFAULT '[]',
    access jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'leased', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until timestamptz,
    error text,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_path ON jobs (source, path);
CREATE INDEX jobs_claimable ON jobs (status, id);
"""


def _jobs(conn: Any) -> None:
    conn.execute(_JOBS)


_SENTENCES = """
CREATE TABLE IF NOT EXISTS sentences (
    hash text NOT NULL,
    embedder text NOT NULL,
    spans bytea NOT NULL,
    vectors bytea NOT NULL,
    PRIMARY KEY (hash, embedder)
);
"""


def _sentences(conn: Any) -> None:
    conn.execute(_SENTENCES)


# What a file was when it failed to parse, and what tried (docket.types.ParseAttempt); NULL for
# failures recorded before these columns, or without an attempt: those are always tried again.
_FAILURE_ATTEMPTS = """
ALTER TABLE failures
    ADD COLUMN IF NOT EXISTS size bigint,
    ADD COLUMN IF NOT EXISTS mtime double precision,
    ADD COLUMN IF NOT EXISTS content_hash text,
    ADD COLUMN IF NOT EXISTS docket_version text,
    ADD COLUMN IF NOT EXISTS tried_with text;
"""


def _failure_attempts(conn: Any) -> None:
    conn.execute(_FAILURE_ATTEMPTS)


_TERMS = """
CREATE TABLE IF NOT EXISTS terms (
    term text PRIMARY KEY,
    df bigint NOT NULL,
    max_tf integer NOT NULL,
    min_length integer NOT NULL
);
DELETE FROM terms;
INSERT INTO terms SELECT term, COUNT(*), MAX(tf), MIN(length) FROM postings GROUP BY term;
CREATE OR REPLACE FUNCTION docket_count_inserted_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM corpus FOR UPDATE;  -- every writer locks corpus first, then terms: no deadlock
    INSERT INTO terms
        SELECT term, COUNT(*), MAX(tf), MIN(length) FROM inserted GROUP BY term ORDER BY term
    ON CONFLICT (term) DO UPDATE SET df = terms.df + excluded.df,
        max_tf = GREATEST(terms.max_tf, excluded.max_tf), min_length = LEAST(terms.min_length, excluded.min_length);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION docket_count_deleted_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM corpus FOR UPDATE;
    UPDATE terms SET df = terms.df - gone.n
        FROM (SELECT term, COUNT(*) AS n FROM deleted GROUP BY term ORDER BY term) gone
        WHERE terms.term = gone.term;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS postings_counted_in ON postings;
DROP TRIGGER IF EXISTS postings_counted_out ON postings;
CREATE TRIGGER postings_counted_in AFTER INSERT ON postings REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION docket_count_inserted_postings();
CREATE TRIGGER postings_counted_out AFTER DELETE ON postings REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION docket_count_deleted_postings();
"""


def _terms(conn: Any) -> None:
    conn.execute(_TERMS)  # re-runnable: the counts are rebuilt from the postings


def impact_sql(length: float, alias: str = "") -> str:
    """The order in which a term's postings are read by a bounded keyword query: BM25's tf-part
    ``tf / (tf + k1 (1 - b) + k1 b length / L)`` at a fixed reference length ``L`` (the average chunk
    length when the index was made, kept in ``meta`` as ``impact_length``). Written out as a literal,
    so that the index ``postings_impact`` on ``(term, this DESC)`` serves ``ORDER BY`` it; the store
    scores with the current average length, so a drifted ``L`` changes only which postings come first."""
    from docket.index.bm25 import K1, B

    a = f"{alias}." if alias else ""
    return f"({a}tf::float8 / ({a}tf + {K1 * (1 - B)!r} + {a}length * {K1 * B / float(length)!r}))"


def _impact(conn: Any) -> None:
    row = conn.execute("SELECT chunks, total_length FROM corpus").fetchone()
    length = row[1] / row[0] if row and row[0] and row[1] else 100.0
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('impact_length', %s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (repr(float(length)),),
    )
    conn.execute("DROP INDEX IF EXISTS postings_impact")
    conn.execute(
        f"CREATE INDEX postings_impact ON postings (term, {impact_sql(length)} DESC) "
        "INCLUDE (chunk_id, doc_id, tf, length)"
    )


# Append, never edit: a database at version N gets every migration above N from `docket db upgrade`.
MIGRATIONS = [
    Migration(1, "documents, chunks, vectors, keyword postings, answer log, conversations", _initial),
    Migration(2, "the ingestion queue of `docket enqueue` / `docket worker` (jobs)", _jobs),
    Migration(3, "sentence vectors of chunks, by chunk hash (docket.index.sentences)", _sentences),
    Migration(4, "what a file was when it failed to parse, so it is not parsed again unchanged", _failure_attempts),
    Migration(5, "per-term statistics of the keyword postings (document frequency, bounds for pruning)", _terms),
    Migration(6, "keyword postings in impact order per term (bounded keyword search)", _impact),
]
SCHEMA_VERSION = latest(MIGRATIONS)

_LOCK = 0x646F636B6574  # advisory lock held while the schema is created or upgraded ("docket")


def schema_version(conn: Any) -> int:
    """The version recorded in the database; 0 when Docket's tables are not there yet."""
    # a plain catalog query, not to_regclass: after waiting for the schema lock, to_regclass can
    # still answer from this session's cache that a table another process just created is missing
    found = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'meta'"
    ).fetchone()
    if found is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def pgvector_version(conn: Any) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return None if row is None else str(row[0])


def _ensure_pgvector(conn: Any, where: str) -> None:
    import psycopg

    from docket.records.postgres import first_line

    if pgvector_version(conn) is not None:
        return
    try:
        with conn.transaction():
            # two processes starting on an empty database would both create it (one fails on a
            # duplicate key even with IF NOT EXISTS): take the schema lock first
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        raise DatabaseError(
            f"{where} has no pgvector extension and Docket may not add it ({first_line(exc)}); install pgvector "
            "on the server and run CREATE EXTENSION vector; in the database as a superuser"
        ) from exc


def prepare(conn: Any, where: str, upgrade: bool = False) -> int:
    """Check the database and bring its schema up to date where allowed; returns the version.

    A database without Docket's tables gets them (and pgvector, if Docket may create it). One at
    an older version is upgraded only when ``upgrade`` (``docket db upgrade``); one at a newer
    version is refused.
    """
    found = schema_version(conn)
    check_not_newer(found, SCHEMA_VERSION, where)
    if found == SCHEMA_VERSION:
        if pgvector_version(conn) is None:
            _ensure_pgvector(conn, where)
        return found
    if found and not upgrade:
        raise DatabaseError(
            f"{where} has schema version {found}; this Docket uses {SCHEMA_VERSION}. Run: docket db upgrade"
        )
    _ensure_pgvector(conn, where)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        found = schema_version(conn)  # another process may have done it meanwhile
        check_not_newer(found, SCHEMA_VERSION, where)
        for migration in pending(found, MIGRATIONS):
            migration.apply(conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(migration.version),),
            )
    return SCHEMA_VERSION


def create_vector_index(conn: Any, dim: int, m: int, ef_construction: int) -> None:
    """Type the vector column as ``vector(dim)`` and build its HNSW index (cosine distance)."""
    conn.execute(f"ALTER TABLE chunks ALTER COLUMN vector TYPE vector({int(dim)})")
    if dim <= HNSW_MAX_DIM:
        conn.execute(
            "CREATE INDEX IF NOT EXISTS chunks_vector ON chunks USING hnsw (vector vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
        )
