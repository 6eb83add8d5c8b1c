"""The command line as users and scripts call it: the real `docket` process, JSON contract included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import docket


def test_ingest_json_contract(indexed) -> None:
    _, _, report = indexed
    for key in ("added", "updated", "unchanged", "deleted", "chunks_embedded"):
        assert isinstance(report[key], int)
    assert report["added"] == 8
    assert report["chunks_embedded"] > 8
    assert [f["path"] for f in report["failed"]] == ["broken.pdf"]
    assert report["failed"][0]["error"]
    assert {"parse", "embed_model", "write", "other"} <= set(report["stages"])
    assert sum(report["stages"].values()) <= report["seconds"] + 0.02  # each rounded to the millisecond


def test_profile_prints_each_stage_with_its_share(capsys) -> None:
    from docket.cli.ingest import print_profile
    from docket.types import SyncReport

    print_profile(SyncReport(chunks_embedded=10, seconds=2.0, stages={"parse": 0.5, "embed_model": 1.5}))
    out = capsys.readouterr().out
    assert "5.0 chunks/s" in out
    assert [line.split() for line in out.splitlines()[1:]] == [
        ["parse", "0.50s", "25.0%"],
        ["embed_model", "1.50s", "75.0%"],
    ]


def test_search_json_contract(indexed) -> None:
    home, _, _ = indexed
    hits = json.loads(docket("search", "parental leave", "--k", "3", "--home", str(home), "--json").stdout)
    assert len(hits) == 3
    assert hits[0]["path"] == "benefits/New Parent Leave.md"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    for hit in hits:
        assert {"path", "score", "text", "location"} <= set(hit)
        assert isinstance(hit["location"], dict)


def test_search_filters_from_the_command_line(indexed) -> None:
    home, _, _ = indexed
    hits = json.loads(docket("search", "leave", "--path", "benefits/S*", "--home", str(home), "--json").stdout)
    assert hits and {h["path"] for h in hits} == {"benefits/Sabbatical.md"}


def test_ask_json_contract(indexed) -> None:
    home, _, _ = indexed
    answer = json.loads(docket("ask", "How many weeks of parental leave?", "--home", str(home), "--json").stdout)
    assert answer["abstained"] is False
    assert "12 weeks" in answer["answer"]
    for c in answer["citations"]:
        assert {"n", "path", "location", "quote"} <= set(c)
    missing = json.loads(docket("ask", "What is the capital of Peru?", "--home", str(home), "--json").stdout)
    assert missing["abstained"] is True and missing["citations"] == []


def test_sync_reports_changes(indexed, tmp_path: Path) -> None:
    home, _, _ = indexed
    report = json.loads(docket("sync", "--home", str(home), "--json").stdout)
    assert report["unchanged"] == 8 and report["added"] == 0 and report["chunks_embedded"] == 0
    assert report["failed"] == [] and [f["path"] for f in report["failed_before"]] == ["broken.pdf"]


def test_missing_path_is_a_clear_error_with_exit_status_2(tmp_path: Path) -> None:
    proc = docket("ingest", str(tmp_path / "nope"), "--home", str(tmp_path / "kb"), check=False)
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr
    proc = docket("ingest", str(tmp_path / "nope"), "--home", str(tmp_path / "kb"), "--json", check=False)
    assert json.loads(proc.stdout)["error"]["code"] == "path_not_found"


def test_everything_failing_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.docx").write_bytes(b"nope")
    proc = docket("ingest", str(bad), "--home", str(tmp_path / "kb"), "--json", check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["failed"][0]["path"] == "a.docx"
    again = docket("ingest", str(bad), "--home", str(tmp_path / "kb"), check=False)  # not parsed again: still failing
    assert again.returncode == 1
    assert "failed before a.docx" in " ".join(again.stdout.split()) and "--retry-failed" in again.stdout
    retried = docket("sync", "--retry-failed", "--home", str(tmp_path / "kb"), "--json", check=False)
    assert retried.returncode == 1 and [f["path"] for f in json.loads(retried.stdout)["failed"]] == ["a.docx"]


def test_configuring_another_embedder_keeps_search_working_until_the_switch(indexed, tmp_path: Path) -> None:
    home, _, _ = indexed
    other = tmp_path / "kb"
    shutil.copytree(home, other)
    (other / "docket.toml").write_text('[embedder]\nname = "fake"\n')
    hits = json.loads(docket("search", "sabbatical", "--home", str(other), "--json").stdout)
    assert hits[0]["path"] == "benefits/Sabbatical.md"  # still the index's own embedder
    status = json.loads(docket("status", "--home", str(other), "--json").stdout)
    assert status["embedder"] == "minilm-l6-v2-int8" and status["embedder_configured"] == "fake"
    assert "docket reindex" in docket("status", "--home", str(other)).stdout
    result = json.loads(docket("reindex", "--home", str(other), "--json").stdout)  # the configured one
    assert result["embedder"] == "fake-hash" and result["chunks"] > 8
    status = json.loads(docket("status", "--home", str(other), "--json").stdout)
    assert status["embedder"] == "fake-hash" and "embedder_configured" not in status


def test_reindex_in_the_background_swaps_when_done(indexed, tmp_path: Path) -> None:
    import time

    home, _, _ = indexed
    other = tmp_path / "kb"
    shutil.copytree(home, other)
    started = json.loads(docket("reindex", "--embedder", "fake", "--background", "--home", str(other), "--json").stdout)
    assert started["pid"] > 0
    for _ in range(600):  # the detached process finishes by itself; poll its visible effect
        if json.loads(docket("status", "--home", str(other), "--json").stdout)["embedder"] == "fake-hash":
            break
        time.sleep(0.2)
    hits = json.loads(docket("search", "sabbatical", "--home", str(other), "--json").stdout)
    assert hits[0]["path"] == "benefits/Sabbatical.md"
    assert not (other / "reindex.json").exists() and not (other / "reindex.db").exists()


def test_unknown_setting_is_rejected_with_the_valid_ones(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    home.mkdir()
    (home / "docket.toml").write_text("[search]\nalfa = 0.5\n")
    proc = docket("config", "show", "--home", str(home), check=False)
    assert proc.returncode == 2
    assert "unknown setting 'search.alfa'" in proc.stderr and "alpha" in proc.stderr


def test_status_and_sources(indexed) -> None:
    home, docs, _ = indexed
    status = json.loads(docket("status", "--home", str(home), "--json").stdout)
    assert status["documents"] == 8 and status["embedder"] == "minilm-l6-v2-int8"
    assert [f["path"] for f in status["failed"]] == ["broken.pdf"]
    sources = json.loads(docket("sources", "list", "--home", str(home), "--json").stdout)
    assert sources[0]["name"] == str(docs.resolve()) and sources[0]["documents"] == 8


def test_quickstart_prints_a_cited_answer(tmp_path: Path) -> None:
    proc = docket("quickstart", "--home", str(tmp_path / "kb"))
    assert "12 weeks" in proc.stdout
    assert "[1] Benefits and Perks/New Parent Leave.md" in proc.stdout


def test_watch_resyncs_when_a_file_changes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The office opens at nine in the morning.")
    with subprocess.Popen(
        [sys.executable, "-m", "docket", "ingest", str(docs), "--watch", "--json", "--home", str(tmp_path / "kb")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    ) as proc:
        try:
            reports = _read_json_objects(proc, 1)
            assert reports[0]["added"] == 1
            (docs / "b.txt").write_text("Parking is free for employees.")
            reports = _read_json_objects(proc, 1)
            assert reports[0]["added"] == 1 and reports[0]["unchanged"] == 1
            (docs / "a.txt").unlink()
            reports = _read_json_objects(proc, 1)
            assert reports[0]["deleted"] == 1
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _read_json_objects(proc: subprocess.Popen[str], count: int) -> list[dict]:
    """Read ``count`` pretty-printed JSON objects from the process's stdout (bounded by pytest-timeout)."""
    out, buffer = [], ""
    assert proc.stdout is not None
    while len(out) < count:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"docket exited early: {proc.stderr.read() if proc.stderr else ''}")
        buffer += line
        if line.startswith("}"):
            out.append(json.loads(buffer))
            buffer = ""
    return out


def test_every_answer_is_logged_with_its_prompt(indexed) -> None:
    home, _, _ = indexed
    docket("ask", "How long is the sabbatical?", "--model", "fake", "--home", str(home), "--json")
    docket("ask", "What is the capital of Peru?", "--home", str(home), "--json")
    records = json.loads(docket("logs", "--limit", "2", "--home", str(home), "--json").stdout)
    assert [r["question"] for r in records] == ["What is the capital of Peru?", "How long is the sabbatical?"]
    assert records[0]["abstained"] is True and records[0]["prompt"] is None
    generated = json.loads(docket("logs", "show", str(records[1]["id"]), "--home", str(home), "--json").stdout)
    assert generated["model"] == "fake:fake" and '<source n="1"' in generated["prompt"]
    assert generated["sources"] and generated["latency_ms"] > 0
    missing = docket("logs", "show", "999999", "--home", str(home), check=False)
    assert missing.returncode == 2 and "docket logs" in missing.stderr


def test_config_show_prints_toml_leaving_out_what_is_unset(tmp_path: Path) -> None:
    import tomllib

    out = docket("config", "show", "--home", str(tmp_path / "kb")).stdout
    shown = tomllib.loads(out)
    assert shown["search"]["alpha"] == 0.75 and "name" not in shown["model"]
