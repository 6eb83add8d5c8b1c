"""The paraphrased handbook questions (bench/sets/handbook-questions.jsonl) are well formed."""

from __future__ import annotations

import json
from pathlib import Path

QUESTIONS = Path(__file__).resolve().parents[2] / "bench" / "sets" / "handbook-questions.jsonl"
HANDBOOKS = ("clef-handbook/", "18f-handbook/pages/", "github-site-policy/Policies/")  # CC0 / public domain


def test_every_question_names_an_existing_page_of_a_public_domain_handbook(shared_data: Path) -> None:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 40
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["question"] for r in rows}) == len(rows)
    for row in rows:
        assert row["question"].endswith("?"), row["id"]
        assert row["gold_docs"], row["id"]
        for doc in row["gold_docs"]:
            assert doc.startswith(HANDBOOKS), (row["id"], doc)
            assert (shared_data / doc).is_file(), (row["id"], doc)
    assert {r["corpus"] for r in rows} == {"clef-handbook", "18f-handbook", "github-site-policy"}
