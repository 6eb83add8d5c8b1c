"""Incremental sync semantics, on real files in real SQLite knowledge bases."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from docket.config import load_settings
from docket.errors import PathNotFoundError
from docket.index import get_document
from docket.index.bm25 import unpack_terms
from docket.index.sqlite import SqliteStore
from docket.ingest import sync as sync_module
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed_passages(texts)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(
        root / "leave.md",
        "# Leave\n\nWe offer twelve weeks of parental leave.\n\n## Sick leave\n\nTen sick days a year.",
    )
    write(root / "travel.txt", "Book travel through the portal. Economy class for flights under six hours.")
    write(root / "sub" / "prices.csv", "product,price\nwidget,10\ngadget,25\n")
    return root


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    k = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=CountingEmbedder())
    yield k
    k.close()


def test_first_ingest_adds_every_file_with_paths_relative_to_the_folder(kb: KnowledgeBase, corpus: Path) -> None:
    report = kb.ingest([str(corpus)])
    assert (report.added, report.updated, report.unchanged, report.deleted) == (3, 0, 0, 0)
    assert report.failed == []
    assert {d.path for d in kb.store.documents()} == {"leave.md", "travel.txt", "sub/prices.csv"}
    assert report.chunks_embedded == kb.store.stats()["chunks"]


def test_report_profiles_every_stage_within_the_total_time(kb: KnowledgeBase, corpus: Path) -> None:
    report = kb.ingest([str(corpus)])
    assert list(report.stages) == list(sync_module.STAGES)
    assert all(seconds >= 0 for seconds in report.stages.values())
    assert sum(report.stages.values()) <= report.seconds + 1e-9
    assert report.stages["parse"] > 0 and report.stages["embed_model"] > 0 and report.stages["write"] > 0
    assert report.to_dict()["stages"].keys() == report.stages.keys()
    again = kb.sync()  # nothing to embed: the stages are still all there, and still within the total
    assert list(again.stages) == list(sync_module.STAGES) and again.stages["embed_model"] == 0
    assert sum(again.stages.values()) <= again.seconds + 1e-9


def test_profile_keeps_within_the_total_when_the_embedder_counts_more_than_it_took(
    tmp_path: Path, corpus: Path
) -> None:
    """An embedder shared with another thread (a server's searches) counts that thread's model time too."""

    class Overcounting(CountingEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.timings = {"tokenize": 0.0, "model": 0.0}

        def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
            self.timings["tokenize"] += 50.0
            self.timings["model"] += 100.0
            return super().embed_passages(texts)

    kb = KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=Overcounting())
    report = kb.ingest([str(corpus)])
    kb.close()
    assert report.stages["embed_tokenize"] + report.stages["embed_model"] < 50.0
    assert sum(report.stages.values()) <= report.seconds + 1e-9


def test_second_sync_skips_unchanged_files_without_parsing(
    kb: KnowledgeBase, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb.ingest([str(corpus)])
    calls: list[str] = []
    real = sync_module.parse_bytes
    monkeypatch.setattr(sync_module, "parse_bytes", lambda data, path: calls.append(path) or real(data, path))
    report = kb.sync()
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 0, 3, 0)
    assert report.chunks_embedded == 0
    assert calls == []


def test_touched_but_identical_file_is_unchanged(kb: KnowledgeBase, corpus: Path) -> None:
    kb.ingest([str(corpus)])
    os.utime(corpus / "travel.txt", (time.time() + 100, time.time() + 100))
    report = kb.sync()
    assert report.unchanged == 3 and report.updated == 0


def test_edit_keeping_size_and_mtime_is_skipped_unless_rehash(kb: KnowledgeBase, corpus: Path) -> None:
    """Unchanged size and time mean unchanged without reading the file; ``rehash`` (``docket sync
    --rehash``) reads and hashes it anyway, for copies that keep the time (cp -p, rsync -t)."""
    kb.ingest([str(corpus)])
    path = corpus / "travel.txt"
    before = path.stat()
    path.write_text("Book travel through the portal. Business class for flights over ten hours.", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    report = kb.sync()
    assert (report.updated, report.unchanged) == (0, 3)
    assert "Business" not in kb.search("class for flights", k=1)[0].text
    report = kb.sync(rehash=True)
    assert (report.updated, report.unchanged) == (1, 2)
    assert report.chunks_embedded == 1
    assert "Business" in kb.search("class for flights", k=1)[0].text


def test_sync_loads_the_embedder_only_when_a_file_needs_it(tmp_path: Path, corpus: Path) -> None:
    store = SqliteStore(tmp_path / "index.db")
    loads: list[CountingEmbedder] = []

    def load() -> CountingEmbedder:
        loads.append(CountingEmbedder())
        return loads[-1]

    source = sync_module.source_for_path(str(corpus))
    first = sync_module.sync_source(store, load, source)
    assert first.added == 3 and len(loads) == 1 and first.stages["embed_load"] > 0
    unchanged = sync_module.sync_source(store, load, source)
    assert unchanged.unchanged == 3 and len(loads) == 1 and unchanged.stages["embed_load"] == 0
    (corpus / "travel.txt").unlink()  # deleting needs no model either
    assert sync_module.sync_source(store, load, source).deleted == 1 and len(loads) == 1
    write(corpus / "new.txt", "Remote work needs a manager's approval.")
    assert sync_module.sync_source(store, load, source).added == 1 and len(loads) == 2
    assert loads[-1].embedded and kb_search_paths(store, loads[-1], "remote work approval") == ["new.txt"]
    store.close()


def kb_search_paths(store: SqliteStore, embedder: CountingEmbedder, query: str) -> list[str]:
    from docket.index.search import search

    return [h.path for h in search(store, embedder, query, k=1)]


def test_knowledge_base_sync_with_nothing_changed_does_not_load_the_model(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docket.kb.knowledge_base as kb_module

    settings = load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}})
    built: list[str] = []
    real = kb_module.embedder_from_settings
    monkeypatch.setattr(kb_module, "embedder_from_settings", lambda cfg: built.append(cfg.name) or real(cfg))
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([str(corpus)]).added == 3
    assert built == ["fake"]
    with KnowledgeBase(settings) as kb:  # a new process, as `docket sync` from cron
        report = kb.sync()
        assert report.unchanged == 3 and built == ["fake"]
        write(corpus / "travel.txt", "Book travel through the portal. Economy class only.")
        assert kb.sync().updated == 1 and built == ["fake", "fake"]


def test_changed_file_reembeds_only_its_changed_chunks(kb: KnowledgeBase, corpus: Path) -> None:
    kb.ingest([str(corpus)])
    embedder = kb.embedder
    assert isinstance(embedder, CountingEmbedder)
    embedder.embedded.clear()
    write(
        corpus / "leave.md",
        "# Leave\n\nWe offer twelve weeks of parental leave.\n\n## Sick leave\n\nFifteen sick days.",
    )
    report = kb.sync()
    assert report.updated == 1 and report.unchanged == 2
    assert report.chunks_embedded == 1 and report.chunks_reused == 1
    assert len(embedder.embedded) == 1 and embedder.embedded[0].endswith("Fifteen sick days.")
    hits = kb.search("sick days", k=1)
    assert "Fifteen" in hits[0].text


def test_deleted_file_disappears_from_the_index(kb: KnowledgeBase, corpus: Path) -> None:
    kb.ingest([str(corpus)])
    (corpus / "travel.txt").unlink()
    report = kb.sync()
    assert report.deleted == 1
    assert get_document(kb.store, str(corpus.resolve()), "travel.txt") is None
    assert all(h.path != "travel.txt" for h in kb.search("economy flights portal", k=10))


def test_renamed_file_is_moved_without_reembedding(kb: KnowledgeBase, corpus: Path) -> None:
    kb.ingest([str(corpus)])
    (corpus / "travel.txt").rename(corpus / "sub" / "travel-policy.txt")
    report = kb.sync()
    assert report.renamed == 1 and report.deleted == 0 and report.added == 0
    assert report.chunks_embedded == 0
    assert kb.search("economy flights", k=1)[0].path == "sub/travel-policy.txt"


def test_bad_files_are_reported_and_the_batch_goes_on(kb: KnowledgeBase, corpus: Path) -> None:
    (corpus / "broken.docx").write_bytes(b"not a zip at all")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "image.bin").write_bytes(bytes(range(256)) * 10)
    report = kb.ingest([str(corpus)])
    assert report.added == 3
    failed = {f["path"]: f["error"] for f in report.failed}
    assert set(failed) == {"broken.docx", "empty.txt", "image.bin"}
    assert "zip" in failed["broken.docx"]
    assert "empty" in failed["empty.txt"]
    assert "unsupported" in failed["image.bin"]
    assert {f["path"] for f in kb.ledger.failures()} == set(failed)


def test_a_file_that_breaks_keeps_its_last_good_version(kb: KnowledgeBase, corpus: Path) -> None:
    kb.ingest([str(corpus)])
    (corpus / "leave.md").write_bytes(b"")
    report = kb.sync()
    assert [f["path"] for f in report.failed] == ["leave.md"]
    assert "twelve weeks" in kb.search("parental leave", k=1)[0].text


def test_missing_path_is_a_clear_error(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(PathNotFoundError, match="no such file or folder"):
        kb.ingest([str(tmp_path / "nope")])


def test_single_file_keeps_the_path_as_given(kb: KnowledgeBase, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus.parent)
    report = kb.ingest(["docs/travel.txt"])
    assert report.added == 1
    assert [d.path for d in kb.store.documents()] == ["docs/travel.txt"]
    (corpus / "travel.txt").unlink()
    assert kb.sync().deleted == 1


def test_hidden_files_and_folders_are_ignored(kb: KnowledgeBase, corpus: Path) -> None:
    write(corpus / ".git" / "config.txt", "secret")
    write(corpus / ".hidden.txt", "secret")
    kb.ingest([str(corpus)])
    assert all(not d.path.startswith(".") and "/." not in d.path for d in kb.store.documents())


_INGEST_SCRIPT = textwrap.dedent(
    """
    import sys
    from docket.config import load_settings
    from docket.kb import KnowledgeBase
    settings = load_settings(home=sys.argv[1], overrides={"embedder": {"name": "fake"}})
    with KnowledgeBase(settings) as kb:
        kb.ingest([sys.argv[2]])
    """
)


def _snapshot(db: Path) -> tuple[set[tuple[str, str]], list[str]]:
    store = SqliteStore(db)
    docs = {(d.path, d.content_hash) for d in store.documents()}
    hashes = sorted(c.hash for d in store.documents() for c in store.chunks(d.id))
    store.close()
    return docs, hashes


def test_killed_ingest_leaves_a_consistent_index_and_the_next_sync_completes_it(tmp_path: Path) -> None:
    corpus = tmp_path / "many"
    for i in range(150):
        write(corpus / f"f{i:03}.txt", f"Document {i}. " + " ".join(f"word{i}x{j} sentence." for j in range(300)))
    reference_home = tmp_path / "reference"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", _INGEST_SCRIPT, str(reference_home), str(corpus)], check=True, env=env)
    expected = _snapshot(reference_home / "docket.db")

    for trial in range(3):
        home = tmp_path / f"crash{trial}"
        proc = subprocess.Popen([sys.executable, "-c", _INGEST_SCRIPT, str(home), str(corpus)], env=env)
        db = home / "docket.db"
        deadline = time.monotonic() + 60
        target = 10 + 40 * trial
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                n = sqlite3.connect(db).execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            except sqlite3.Error:
                n = 0
            if n >= target:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, "the ingest finished before it could be interrupted"
        con = sqlite3.connect(db)
        assert con.execute("SELECT COUNT(*) FROM documents").fetchone()[0] < 150
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = con.execute("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)").fetchone()
        assert orphans[0] == 0
        vocab = {row[0] for row in con.execute("SELECT id FROM vocab")}
        for (blob,) in con.execute("SELECT terms FROM chunks"):
            assert set(unpack_terms(blob)[0].tolist()) <= vocab, "keyword postings name unknown terms"
        empty_docs = con.execute(
            "SELECT COUNT(*) FROM documents WHERE id NOT IN (SELECT doc_id FROM chunks)"
        ).fetchone()[0]
        assert empty_docs == 0
        con.close()
        subprocess.run([sys.executable, "-c", _INGEST_SCRIPT, str(home), str(corpus)], check=True, env=env)
        assert _snapshot(db) == expected


def test_reingesting_with_new_tags_or_workspace_relabels_without_reembedding(kb: KnowledgeBase, corpus: Path) -> None:
    kb.ingest([str(corpus)])
    report = kb.ingest([str(corpus)], workspace="hr", tags=["policy"])
    assert report.unchanged == 3 and report.chunks_embedded == 0
    assert {(d.workspace, d.tags) for d in kb.store.documents()} == {("hr", ("policy",))}


def test_files_over_the_size_limit_are_skipped_with_the_setting_to_change(tmp_path: Path, corpus: Path) -> None:
    settings = load_settings(home=tmp_path / "kb2", overrides={"ingest": {"max_file_mb": 0.00005}})
    with KnowledgeBase(settings, embedder=CountingEmbedder()) as kb:
        report = kb.ingest([str(corpus)])
    too_big = {f["path"]: f["error"] for f in report.failed}
    assert "leave.md" in too_big and "ingest.max_file_mb" in too_big["leave.md"]
    assert report.added == len({"leave.md", "travel.txt", "sub/prices.csv"} - set(too_big))


PDF_DATA = Path(__file__).resolve().parents[1] / "data" / "pdf"


def test_parse_quality_is_stored_with_each_document_and_a_scan_is_read_by_ocr_or_listed_not_failed(
    kb: KnowledgeBase, corpus: Path
) -> None:
    import shutil

    shutil.copy(PDF_DATA / "clinical-protocol-NCT06149832.pdf", corpus / "protocol.pdf")
    shutil.copy(PDF_DATA / "scanned-NCT06155240.pdf", corpus / "scan.pdf")
    assert kb.settings.ingest.sandbox  # parsed in the sandboxed workers, as a user's ingest is
    report = kb.ingest([str(corpus)])
    assert report.failed == [] and report.added == 5
    docs = {d.path: d for d in kb.store.documents()}
    protocol = docs["protocol.pdf"].metadata["quality"]
    assert protocol["readers"] == {"pypdfium2": 6} and len(protocol["page_details"]) == 6
    assert docs["leave.md"].metadata["quality"]["parser"] == "markdown"
    scan = docs["scan.pdf"]
    if shutil.which("tesseract"):  # the OCR engine (CI installs it)
        assert scan.metadata["quality"]["ocr_pages"] == [1] and report.pages_ocr == 1
        assert kb.search("chair-based yoga protocol", k=1)[0].path == "scan.pdf"
    else:  # listed, with nothing to search, and the reason
        assert scan.metadata["quality"]["pages_without_text"] == [1] and kb.store.chunks(scan.id) == []
        warning = next(w["warning"] for w in report.warnings if w["path"] == "scan.pdf")
        assert warning.startswith("page 1: no text, image only (scanned?)") and "apt install tesseract-ocr" in warning
    assert kb.search("allogeneic hematopoietic stem cell transplantation", k=1)[0].path == "protocol.pdf"
    assert kb.sync().unchanged == 5  # a scan is not parsed again until it changes
