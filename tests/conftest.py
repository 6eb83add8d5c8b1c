"""Shared fixtures. Every test runs with DOCKET_HOME in its own temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.config import Settings, load_settings
from docket.models.embedders import FakeEmbedder, MiniLMEmbedder

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO = REPO / "src" / "docket" / "demo" / "clef-handbook"


@pytest.fixture(autouse=True)
def _hermetic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKET_MODELS_DIR", str(tmp_path / "models"))  # never the user's shared model folder
    for name in list(__import__("os").environ):
        if name.startswith("DOCKET_") and "__" in name:
            monkeypatch.delenv(name)
    monkeypatch.delenv("DOCKET_DATABASE_URL", raising=False)  # the embedded store unless a test says otherwise


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real default embedder, loaded once per test session."""
    return MiniLMEmbedder(threads=2)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "kb")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_kb(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder):
    """The bundled demo handbook indexed once with the real default embedder (read-only use)."""
    from docket.kb import KnowledgeBase

    kb = KnowledgeBase(load_settings(home=tmp_path_factory.mktemp("demo-kb")), embedder=minilm)
    report = kb.ingest([str(DEMO)])
    assert report.failed == [], report.failed
    yield kb
    kb.close()


# A real PostgreSQL (pgserver) for the store tests; see tests/postgres.py.
from tests.postgres import pg_database, pg_server, pg_url  # noqa: E402, F401

# The server's record database on SQLite and on PostgreSQL; see tests/records_backends.py.
from tests.records_backends import records  # noqa: E402, F401
