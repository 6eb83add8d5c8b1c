"""bench/figures.py: the README's headline table and RESULTS.md's headline section, regenerated from
JSON results. Every test works on a repository tree in tmp_path with fixture JSON, never on the real
README, so a new benchmark run never breaks the suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.bench_modules import load_bench

figures = load_bench("bench_figures", "figures.py")
REAL_RECORDED = Path(__file__).resolve().parents[2] / "bench" / "out" / "recorded"

LATENCY = figures.Figure(
    name="Hybrid search at 100,000 passages",
    source="latency-100k*.json",
    values={"p50": "hybrid.end_to_end_ms.p50", "p95": "hybrid.end_to_end_ms.p95"},
    text="{p50:.1f} ms median, {p95:.0f} ms p95",
    goals=(figures.Goal("p50", "<=", 15, "ms", what="p50"), figures.Goal("p95", "<=", 35, "ms", what="p95")),
    command="python bench/latency.py --chunks 100000 --json-out bench/out/latency-100k.json",
)
SCALE = figures.Figure(
    name="One million chunks, vector search",
    source="scale*.json",
    values={
        "p95": "rows[chunks=1000000,store^=PostgreSQL].vector_ms.p95",
        "recall": "rows[chunks=1000000,store^=PostgreSQL].recall@10",
    },
    text="p95 {p95:.1f} ms, recall@10 {recall:.3f}",
    goals=(figures.Goal("p95", "<=", 90, "ms", what="p95"), figures.Goal("recall", ">=", 0.95, what="recall@10")),
    command="python bench/scale.py --sizes 1000000 --json",
)
REGISTRY = (LATENCY, SCALE)


def latency(p50: float, p95: float, date: str, **extra: Any) -> dict[str, Any]:
    return {"date": date, "hybrid": {"end_to_end_ms": {"p50": p50, "p95": p95}}, **extra}


def scale_row(store: str, chunks: int, p95: float, recall: float, **extra: Any) -> dict[str, Any]:
    return {
        "store": store,
        "chunks": chunks,
        "vectors": "mixture",
        "words": 20,
        "hybrid_ms": {"p50": p95 / 2, "p95": p95 * 3},
        "vector_ms": {"p50": p95 / 2, "p95": p95},
        "recall@10": recall,
        **extra,
    }


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository tree: a README with the markers, a RESULTS.md without its headline section yet,
    and one recorded JSON per fixture figure."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "README.md").write_text(
        "# Docket\n\n## How good, how fast\n\n<!-- figures:start -->\nold hand-edited table\n<!-- figures:end -->\n\n"
        "## Documentation\n",
        encoding="utf-8",
    )
    (tmp_path / "bench" / "RESULTS.md").write_text(
        "# Benchmark results\n\nHow to reproduce.\n\n## 2026-11-29 — a dated section\n\nits figures\n", encoding="utf-8"
    )
    recorded = tmp_path / "bench" / "out" / "recorded"
    write(recorded / "latency-100k-2026-11-29.json", latency(9.62, 16.41, "2026-11-29", transcribed_from="RESULTS.md"))
    rows = [scale_row("PostgreSQL (pgvector HNSW)", 1_000_000, 7.9, 0.987), scale_row("embedded", 1_000_000, 123, 1)]
    write(recorded / "scale-2026-11-29.json", {"date": "2026-11-29", "rows": rows})
    monkeypatch.setattr(figures, "REGISTRY", REGISTRY)
    return tmp_path


def run(repo: Path, *args: str) -> int:
    return int(figures.main(["--root", str(repo), "--no-plot", *args]))


def readme_rows(repo: Path) -> list[str]:
    return [line for line in (repo / "README.md").read_text().splitlines() if line.startswith("| ")]


def test_writes_each_figure_with_its_date_goal_and_command_between_the_markers(repo: Path) -> None:
    assert run(repo) == 0
    text = (repo / "README.md").read_text()
    assert "old hand-edited table" not in text
    assert text.startswith("# Docket\n\n## How good, how fast\n\n<!-- figures:start -->\n")
    assert text.endswith("<!-- figures:end -->\n\n## Documentation\n")
    rows = readme_rows(repo)
    assert rows[0] == "| figure | measured | goal | date | reproduce |"
    assert rows[1] == (
        "| Hybrid search at 100,000 passages | 9.6 ms median, 16 ms p95 | p50 ≤ 15 ms: met; p95 ≤ 35 ms: met "
        "| 2026-11-29 | `python bench/latency.py --chunks 100000 --json-out bench/out/latency-100k.json` |"
    )
    assert rows[2].startswith("| One million chunks, vector search | p95 7.9 ms, recall@10 0.987 |")


def test_a_missed_goal_is_shown_as_missed_in_both_files(repo: Path) -> None:
    write(repo / "bench" / "out" / "latency-100k.json", latency(21.0, 48.0, "2026-12-08 09:00 UTC"))
    assert run(repo) == 0
    row = readme_rows(repo)[1]
    assert "p50 ≤ 15 ms: **missed** (21)" in row and "p95 ≤ 35 ms: **missed** (48)" in row and "2026-12-08" in row
    results = (repo / "bench" / "RESULTS.md").read_text()
    assert "| Hybrid search at 100,000 passages | p50 ≤ 15 ms | 21 ms | **no** | 2026-12-08 |" in results


def test_results_gets_a_headline_section_before_the_dated_sections_and_keeps_them(repo: Path) -> None:
    assert run(repo) == 0
    results = (repo / "bench" / "RESULTS.md").read_text()
    assert results.index("## Headline figures") < results.index("## 2026-11-29 — a dated section")
    assert results.startswith("# Benchmark results\n\nHow to reproduce.\n")
    assert results.endswith("## 2026-11-29 — a dated section\n\nits figures\n")
    assert "`bench/out/recorded/scale-2026-11-29.json` |" in results
    assert "`bench/out/recorded/latency-100k-2026-11-29.json` (transcribed) |" in results
    assert run(repo) == 0 and (repo / "bench" / "RESULTS.md").read_text() == results  # written once, in place


def test_check_passes_when_up_to_date_and_fails_when_a_newer_run_lands(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repo, "--check") == 1  # the hand-edited table
    assert run(repo) == 0
    assert run(repo, "--check") == 0
    before = (repo / "README.md").read_text()
    write(repo / "bench" / "out" / "latency-100k.json", latency(8.0, 12.0, "2026-12-08"))
    capsys.readouterr()
    assert run(repo, "--check") == 1
    assert "README.md is out of date with the JSON; run `make figures`" in capsys.readouterr().err
    assert (repo / "README.md").read_text() == before  # --check changes nothing
    assert not (repo / "bench" / "out" / "recorded" / "latency-100k-2026-12-08.json").exists()


def test_the_newest_run_wins_and_is_recorded_for_the_commit(repo: Path) -> None:
    write(repo / "bench" / "out" / "latency-100k.json", latency(8.0, 12.0, "2026-12-08 10:00 UTC"))
    write(repo / "bench" / "out" / "latency-100k-2026-10-01.json", latency(99.0, 99.0, "2026-10-01"))
    assert run(repo) == 0
    assert "| 8.0 ms median, 12 ms p95 |" in readme_rows(repo)[1]
    recorded = repo / "bench" / "out" / "recorded" / "latency-100k-2026-12-08.json"
    assert json.loads(recorded.read_text())["hybrid"]["end_to_end_ms"]["p50"] == 8.0
    (repo / "bench" / "out" / "latency-100k.json").unlink()
    assert run(repo, "--check") == 0  # a fresh clone, with only the recorded JSON, gives the same table


def test_a_newer_file_without_the_keys_is_skipped_with_a_warning(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "bench" / "out" / "scale-2026-12-08.json", {"date": "2026-12-08", "rows": [{"chunks": 10}]})
    assert run(repo) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "scale-2026-12-08.json" in err and "matches 0 items" in err
    assert "2026-11-29" in readme_rows(repo)[2]


def test_missing_sources_dates_and_markers_are_clear_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "bench" / "out" / "scale-latest.json", {"rows": []})
    assert run(repo) == 2
    assert "scale-latest.json: no date" in capsys.readouterr().err
    (repo / "bench" / "out" / "scale-latest.json").unlink()
    (repo / "bench" / "out" / "recorded" / "scale-2026-11-29.json").unlink()
    assert run(repo) == 2
    err = capsys.readouterr().err
    assert "no JSON matches 'scale*.json'" in err and "python bench/scale.py --sizes 1000000 --json" in err
    rows = [scale_row("PostgreSQL (pgvector HNSW)", 1_000_000, 7.9, 0.987)]
    write(repo / "bench" / "out" / "recorded" / "scale-2026-11-29.json", {"date": "2026-11-29", "rows": rows})
    (repo / "README.md").write_text("# Docket\n")
    assert run(repo) == 2
    assert "README.md: needs exactly one <!-- figures:start -->" in capsys.readouterr().err


def test_key_paths_walk_objects_and_pick_list_items() -> None:
    data = {"rows": [scale_row("PostgreSQL (pgvector HNSW)", 10_000, 3.0, 0.98), scale_row("embedded", 10_000, 1, 1)]}
    assert figures.lookup(data, "rows[chunks=10000,store^=Postgre].recall@10") == 0.98
    assert figures.lookup(data, "rows[chunks=1e4,store=embedded].vector_ms.p95") == 1
    assert figures.lookup(data, "rows[1].store") == "embedded"
    with pytest.raises(KeyError, match="matches 2 items"):
        figures.lookup(data, "rows[chunks=10000].recall@10")
    with pytest.raises(KeyError, match="no key 'keyword_ms'"):
        figures.lookup(data, "rows[0].keyword_ms.p95")


def test_goals_compare_in_both_directions() -> None:
    at_most = figures.Goal("p95", "<=", 90, "ms")
    at_least = figures.Goal("recall", ">=", 0.95)
    assert at_most.met(90) and not at_most.met(90.1)
    assert at_least.met(0.95) and not at_least.met(0.949)
    assert at_most.describe() == "p95 ≤ 90 ms" and at_least.describe() == "recall ≥ 0.95"


def test_the_committed_records_cover_every_headline_figure(tmp_path: Path) -> None:
    """Each entry of the real registry reads its values from bench/out/recorded alone (what a fresh
    clone has), so `make figures` works before any benchmark is run again."""
    shutil.copytree(REAL_RECORDED, tmp_path / "bench" / "out" / "recorded")
    (tmp_path / "README.md").write_text("<!-- figures:start -->\n<!-- figures:end -->\n")
    (tmp_path / "bench" / "RESULTS.md").write_text("# Benchmark results\n")
    outcome = figures.generate(tmp_path)  # the module's own REGISTRY (not monkeypatched here)
    assert outcome.warnings == []
    assert len(outcome.readings) == len(figures.REGISTRY) >= 15
    assert all(r.source.path.parent.name == "recorded" for r in outcome.readings)
    one_million = next(r for r in outcome.readings if r.figure.name.startswith("One million chunks, vector"))
    assert "synthetic data" in one_million.formatted() and "~20-word passages" in one_million.formatted()


def test_the_scale_curve_is_drawn_from_the_rows_and_is_stable(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    rows = [
        scale_row(store, n, p95, recall, keyword_ms={"p50": 1.0, "p95": 2.0})
        for store in ("PostgreSQL (pgvector HNSW)", "embedded (SQLite + numpy)")
        for n, p95, recall in ((10_000, 3.0, 0.98), (100_000, 5.0, 0.97), (1_000_000, 8.0, 0.99))
    ]
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert figures.plot_scale(rows, first, "2026-12-08")
    assert figures.plot_scale(rows, second, "2026-12-08")
    svg = first.read_text()
    assert first.read_bytes() == second.read_bytes()  # no timestamp: it changes only with the data
    for label in ("PostgreSQL, keyword", "embedded, hybrid", "PostgreSQL, vector", "run of 2026-12-08"):
        assert label in svg, label


def test_write_result_dates_the_json_and_names_the_command(tmp_path: Path) -> None:
    out = tmp_path / "out" / "latency-100k.json"
    figures.write_result(out, {"chunks": 100}, argv=["bench/latency.py", "--chunks", "100"])
    data = json.loads(out.read_text())
    assert data["chunks"] == 100 and data["machine"]["nproc"] >= 1
    assert figures.DATE.fullmatch(data["date"][:10])
    assert data["command"].endswith("latency.py --chunks 100")
