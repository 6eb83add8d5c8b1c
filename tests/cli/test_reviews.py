"""docket reviews: list, show, approve (as is or edited), reject and stats, on the knowledge base's queue."""

from __future__ import annotations

import json
from pathlib import Path

from docket.workflows.review import ReviewQueue
from tests.cli.conftest import docket
from tests.workflows.test_review import receiver

FLOW = """version: 1
name: note
steps:
  - id: note
    kind: compose
    fields:
      text: "'Hello ' ~ inputs.name ~ ', your parcel left today.'"
  - id: check
    kind: review
    title: "Note for {{ inputs.name }}"
    value: note
    then_webhook: "{{ params.hook }}"
params:
  hook: ""
"""


def test_a_run_parks_drafts_that_the_cli_approves_edits_and_rejects(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    home.mkdir()
    (home / "docket.toml").write_text('[network]\nallow_private_hosts = ["127.0.0.1"]\n')  # the loopback receiver
    flow = tmp_path / "note.yml"
    flow.write_text(FLOW)
    items = tmp_path / "people.jsonl"
    items.write_text('{"name": "Ana"}\n{"name": "Luis"}\n')
    with receiver() as hook:
        run = docket(
            "run", str(flow), "--input", str(items), "--home", str(home), "--param", f"hook={hook.url}/n", "--json"
        )
        ids = [r["review_id"] for r in json.loads(run.stdout)["results"]]
        assert len(ids) == 2

        listed = json.loads(docket("reviews", "list", "--home", str(home), "--json").stdout)["reviews"]
        assert [r["title"] for r in listed] == ["Note for Luis", "Note for Ana"]
        shown = docket("reviews", "show", str(ids[0]), "--home", str(home)).stdout
        assert "Note for Ana" in shown and "Hello Ana, your parcel left today." in shown

        text = "Hello Ana, your parcel left this morning."
        approved = docket(
            "reviews", "approve", str(ids[0]), "--text", text, "--reviewer", "olive", "--home", str(home), "--json"
        )
        item = json.loads(approved.stdout)
        assert item["status"] == "edited" and item["final"] == {"text": text} and item["reviewer"] == "olive"
        assert item["delivery"] == "sent: HTTP 200"
        rejected = docket("reviews", "reject", str(ids[1]), "--reason", "wrong name", "--home", str(home))
        assert f"Review #{ids[1]} rejected." in rejected.stdout
    assert [r["body"] for r in hook.requests] == [{"text": text}]

    again = docket("reviews", "approve", str(ids[1]), "--home", str(home), check=False)
    assert again.returncode == 2 and "rejected already by" in again.stderr
    stats = json.loads(docket("reviews", "stats", "--home", str(home), "--json").stdout)["workflows"]
    assert stats[0]["workflow"] == "note" and stats[0]["acceptance_rate"] == 0.5
    table = docket("reviews", "stats", "--home", str(home)).stdout
    assert "note" in table and "50%" in table
    assert "No pending drafts." in docket("reviews", "list", "--home", str(home)).stdout


def test_missing_review_and_bad_status_are_one_line_errors(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    with ReviewQueue.for_home(home) as queue:
        queue.add("w", "draft")
    missing = docket("reviews", "show", "99", "--home", str(home), check=False)
    assert missing.returncode == 2 and "no review 99" in missing.stderr
    bad = docket("reviews", "list", "--status", "done", "--home", str(home), check=False)
    assert bad.returncode == 2 and "unknown review status 'done'" in bad.stderr
    both = docket("reviews", "approve", "1", "--text", "x", "--final", "f.json", "--home", str(home), check=False)
    assert both.returncode == 2 and "give --text or --final, not both" in both.stderr
