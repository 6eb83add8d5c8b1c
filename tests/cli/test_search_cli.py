"""`docket search`: long paths are never cut, and a search that finds nothing says so and what to try."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import docket

DEEP = "policies/customer-service/returns-and-refunds/regional-variations/european-union-member-states"
NAME = "refunds-for-orders-placed-before-the-2024-price-change.md"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search-cli")
    folder = root / "docs" / DEEP
    folder.mkdir(parents=True)
    (folder / NAME).write_text("# Refunds\n\nRefunds are issued within 14 days of the return.\n")
    (root / "docs" / "deliveries.md").write_text("# Deliveries\n\nDeliveries arrive on Mondays.\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKET_EMBEDDER__NAME", "fake")
        docket("ingest", str(root / "docs"), "--home", str(root / "kb"))
    return root / "kb"


@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")
    monkeypatch.setenv("COLUMNS", "80")


def test_json_keeps_the_whole_path(home: Path) -> None:
    hits = json.loads(docket("search", "refunds", "--home", str(home), "--json").stdout)
    assert hits[0]["path"] == f"{DEEP}/{NAME}"


def test_the_table_wraps_a_long_path_instead_of_cutting_it(home: Path) -> None:
    out = docket("search", "refunds", "--home", str(home)).stdout
    assert "…" not in out.split("Refunds are issued")[0]
    shown = ""
    for line in out.splitlines():
        cells = line.split("│")
        if len(cells) >= 5:  # a row of the table: its third column is "file / location"
            shown += cells[3].strip()
    assert f"{DEEP}/{NAME}" in shown


def test_a_search_that_finds_nothing_says_so_and_suggests(home: Path) -> None:
    # keyword mode: the test embedder's hashed vectors make chance neighbours in meaning
    def search(*args: str) -> str:
        return docket("search", *args, "--mode", "keyword", "--home", str(home)).stdout

    assert "No documents match." in search("zzqx flurbl")
    misspelt = search("refnds")
    assert "No documents match." in misspelt and "Try: docket search refunds" in misspelt
    filtered = search("refunds", "--type", "pdf")
    assert "No documents match." in filtered and "excluded every match" in filtered
    as_json = docket("search", "zzqx flurbl", "--mode", "keyword", "--home", str(home), "--json")
    assert json.loads(as_json.stdout) == [] and "No documents match." in as_json.stderr


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\nThe office opens at {i + 8} o'clock.\n")
    proc = docket("ingest", str(docs), "--home", str(tmp_path / "kb"))
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Indexing: ")]
    assert lines == [f"Indexing: {n}/3 note{n - 1}.md" for n in (1, 2, 3)], proc.stderr


def test_quickstart_without_home_keeps_to_a_demo_home_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_HOME", str(tmp_path / "mine"))
    proc = docket("quickstart")
    assert "12 weeks" in proc.stdout
    assert (tmp_path / "mine-demo" / "docket.db").is_file()
    assert not (tmp_path / "mine").exists()  # the user's own knowledge base is not touched
