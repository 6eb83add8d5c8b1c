"""`docket ingest` killed with SIGKILL at random points leaves a sound index that the next sync completes.

Each trial indexes the same corpus (a few hundred generated notes, the CC0 handbook and a CSV) into
a fresh knowledge base, kills the process (after a seeded number of documents are in, or during
start-up), checks the database (integrity, no duplicated or orphaned passage, every indexed
document complete), sometimes kills the resumed sync too, then runs `docket sync` and compares
the final index with an uninterrupted run's: documents, passages, vectors and keyword postings.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docket.index.bm25 import unpack_terms
from tests.conftest import DEMO

pytestmark = pytest.mark.slow

TRIALS = 20
NOTES = 320
WORDS = (
    "warehouse invoice refund policy leave holiday salary office laptop travel expense contract client "
    "meeting report budget payroll shipping courier pallet supplier audit quarterly forecast"
).split()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("DOCKET_") and "__" in k)}
    env.pop("DOCKET_DATABASE_URL", None)
    env["DOCKET_EMBEDDER__NAME"] = "fake"  # deterministic hashing vectors: no model to load
    return env


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "docket", *args], capture_output=True, text=True, env=_env())
    assert proc.returncode == 0, f"docket {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "docket", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()
    )


def make_corpus(root: Path, notes: int = NOTES, seed: int = 1) -> Path:
    """Generated text and markdown notes in a few folders, the handbook, and one spreadsheet."""
    rng = random.Random(seed)
    corpus = root / "corpus"
    for i in range(notes):
        folder = corpus / f"dept{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        paragraphs = [
            " ".join(
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24))) + f" item {i}-{p}-{s}."
                for s in range(rng.randint(2, 8))
            )
            for p in range(rng.randint(1, 5))
        ]
        suffix = ".md" if i % 2 else ".txt"
        header = f"# Note {i}\n\n" if suffix == ".md" else ""
        (folder / f"note{i:03d}{suffix}").write_text(header + "\n\n".join(paragraphs))
    shutil.copytree(DEMO, corpus / "handbook")
    rows = "\n".join(f"{i},{rng.choice(WORDS)},{rng.randint(1, 999)}" for i in range(50))
    (corpus / "ledger.csv").write_text("id,item,amount\n" + rows + "\n")
    return corpus


def _connect(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'docket.db'}?mode=ro", uri=True)


def check_sound(home: Path, reference: dict[str, Any] | None = None) -> int:
    """The checks after a kill; returns the number of documents indexed. Each indexed document must
    be complete (equal to the uninterrupted run's when ``reference`` is given)."""
    if not (home / "docket.db").exists():
        return 0
    db = _connect(home)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "chunks" not in tables:  # killed while the schema was being created
            return 0
        duplicated = db.execute(
            "SELECT doc_id, ordinal, COUNT(*) FROM chunks GROUP BY doc_id, ordinal HAVING COUNT(*) > 1"
        ).fetchall()
        assert duplicated == [], f"passages written twice: {duplicated[:5]}"
        orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)").fetchone()
        assert orphans == (0,), "passages without a document"
        dim = db.execute("SELECT value FROM meta WHERE key = 'embedder_dim'").fetchone()
        bad = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE vector IS NULL OR length(vector) != ?", (int(dim[0]) * 4 if dim else 0,)
        ).fetchone()
        assert bad == (0,), "passages without a whole vector"
        gaps = db.execute(
            "SELECT doc_id FROM chunks GROUP BY doc_id HAVING MIN(ordinal) != 0 OR MAX(ordinal) != COUNT(*) - 1"
        ).fetchall()
        assert gaps == [], f"documents with missing passages: {gaps[:5]}"
        empty = db.execute(
            "SELECT path FROM documents d WHERE text != '' AND NOT EXISTS (SELECT 1 FROM chunks WHERE doc_id = d.id)"
        ).fetchall()
        assert empty == [], f"documents without their passages: {empty[:5]}"
        count = int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    finally:
        db.close()
    if reference is not None and count:
        partial = snapshot(home)
        for path, doc in partial["documents"].items():
            assert doc == reference["documents"][path], f"{path} differs from the uninterrupted run's"
    tables_db = home / "tables.db"
    if tables_db.exists():
        # opened as the next process would (read-write): a read-only connection cannot recover a
        # write-ahead log left by the killed process and fails with "attempt to write a readonly database"
        db = sqlite3.connect(tables_db)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            db.close()
    return count


def snapshot(home: Path) -> dict[str, Any]:
    """The index as data that does not depend on run order: documents by path, each with its
    passages (text, context, location, hash, a digest of the vector, the keyword terms). Sources
    inside the home (uploads) are named relative to it."""
    inside = str(home.resolve())
    db = _connect(home)
    try:
        vocab = dict(db.execute("SELECT id, term FROM vocab"))
        documents: dict[str, Any] = {}
        for doc_id, source, path, title, filetype, chash, size, mtime, ws, access, tags, meta, text in db.execute(
            "SELECT id, source, path, title, filetype, content_hash, size, mtime, workspace, access, tags, "
            "metadata, text FROM documents"
        ).fetchall():
            passages = []
            for ordinal, ptext, context, location, h, vector, terms, length in db.execute(
                "SELECT ordinal, text, context, location, hash, vector, terms, length FROM chunks "
                "WHERE doc_id = ? ORDER BY ordinal",
                (doc_id,),
            ):
                ids, counts = unpack_terms(terms)
                postings = sorted((vocab[int(t)], int(n)) for t, n in zip(ids, counts, strict=True))
                digest = hashlib.sha256(np.frombuffer(vector, dtype=np.float32).tobytes()).hexdigest()
                passages.append((ordinal, ptext, context, location, h, digest, postings, length))
            documents[f"{source.replace(inside, '<home>')}:{path}"] = {
                "meta": (title, filetype, chash, size, mtime, ws, access, tags, meta),
                "text": hashlib.sha256(text.encode()).hexdigest(),
                "passages": passages,
            }
        sources = sorted(r[0].replace(inside, "<home>") for r in db.execute("SELECT name FROM sources"))
        failures = sorted(db.execute("SELECT source, path, error FROM failures").fetchall())
        embedder = db.execute("SELECT value FROM meta WHERE key IN ('embedder_name', 'embedder_dim')").fetchall()
    finally:
        db.close()
    return {"documents": documents, "sources": sources, "failures": failures, "embedder": sorted(embedder)}


def _kill_when(proc: subprocess.Popen[bytes], home: Path, target: int, rng: random.Random) -> None:
    """SIGKILL ``proc`` once ``target`` documents are indexed (0: at a random moment of start-up),
    or when it ends by itself."""
    if target == 0:
        time.sleep(rng.uniform(0.0, 0.8))
    else:
        db: sqlite3.Connection | None = None
        try:
            while proc.poll() is None:
                if db is None and (home / "docket.db").exists():
                    db = sqlite3.connect(f"file:{home / 'docket.db'}?mode=ro", uri=True, timeout=0.05)
                if db is not None:
                    try:
                        if db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] >= target:
                            break
                    except sqlite3.Error:
                        pass  # the tables are not there yet
                time.sleep(0.001)
        finally:
            if db is not None:
                db.close()
        time.sleep(rng.uniform(0.0, 0.01))
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("crash")
    corpus = make_corpus(root)
    home = root / "reference"
    _run("ingest", str(corpus), "--home", str(home), "--json")
    return corpus, snapshot(home)


def test_the_reference_corpus_is_big_enough(reference: tuple[Path, dict[str, Any]]) -> None:
    _, expected = reference
    assert len(expected["documents"]) > NOTES
    assert sum(len(d["passages"]) for d in expected["documents"].values()) > len(expected["documents"])
    assert expected["failures"] == []


def test_ingest_killed_at_random_points_leaves_a_sound_index_that_sync_completes(
    reference: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    corpus, expected = reference
    total = len(expected["documents"])
    rng = random.Random(20261129)
    part_way = 0
    for trial in range(TRIALS):
        home = tmp_path / f"trial{trial}"
        target = 0 if trial % 6 == 0 else rng.randint(1, total - 1)
        _kill_when(_start("ingest", str(corpus), "--home", str(home)), home, target, rng)
        indexed = check_sound(home, expected)
        part_way += 0 < indexed < total
        registered = (home / "docket.db").exists() and bool(snapshot_sources(home))
        if registered and trial % 4 == 1:  # kill the resumed run as well
            _kill_when(_start("sync", "--home", str(home)), home, min(total - 1, indexed + rng.randint(1, 40)), rng)
            check_sound(home, expected)
        if registered:
            _run("sync", "--home", str(home), "--json")
        else:  # killed before the folder was even registered: the user runs the same command again
            _run("ingest", str(corpus), "--home", str(home), "--json")
        assert check_sound(home, expected) == total
        assert snapshot(home) == expected, f"trial {trial}: the final index differs from the uninterrupted run's"
        shutil.rmtree(home)
    print(f"{TRIALS} trials on {total} files: {part_way} kills part-way through the documents")  # with -s
    assert part_way >= TRIALS // 3, f"only {part_way} of {TRIALS} kills landed part-way through the documents"


def snapshot_sources(home: Path) -> list[str]:
    db = _connect(home)
    try:
        return [r[0] for r in db.execute("SELECT name FROM sources")]
    except sqlite3.Error:
        return []
    finally:
        db.close()
