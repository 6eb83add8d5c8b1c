"""docket summarize and whole-document questions from the command line."""

from __future__ import annotations

import json

from tests.cli.conftest import docket


def test_summarize_cites_the_document(indexed) -> None:
    summary = json.loads(docket("summarize", "New Parent Leave.md", "--home", str(indexed[0]), "--json").stdout)
    assert summary["question"] == "Summary of benefits/New Parent Leave.md"
    assert "12 weeks" in summary["answer"]
    assert {c["path"] for c in summary["citations"]} == {"benefits/New Parent Leave.md"}


def test_summarize_an_unknown_document_names_it(indexed) -> None:
    proc = docket("summarize", "no-such-file.md", "--home", str(indexed[0]), check=False)
    assert proc.returncode == 2 and "no-such-file.md" in proc.stderr


def test_ask_doc_quotes_each_named_document(indexed) -> None:
    home = str(indexed[0])
    answer = json.loads(
        docket(
            "ask", "How much leave?", "--doc", "New Parent Leave.md", "--doc", "Sabbatical.md", "--home", home, "--json"
        ).stdout
    )
    assert {c["path"] for c in answer["citations"]} == {"benefits/New Parent Leave.md", "benefits/Sabbatical.md"}
    assert answer["method"] == "extractive" and answer["log_id"] > 0
