"""docket chat as a person and a script use it: one-shot messages, resuming, the prompt loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.cli.conftest import docket


def test_a_conversation_is_resumed_and_listed(indexed) -> None:
    home = str(indexed[0])
    first = json.loads(docket("chat", "-m", "How many weeks of parental leave?", "--home", home, "--json").stdout)
    assert "12 weeks" in first["answer"] and first["query"] == first["message"]
    cid = first["conversation"]
    second = json.loads(docket("chat", "--resume", cid, "-m", "and the sabbatical?", "--home", home, "--json").stdout)
    assert second["conversation"] == cid
    assert second["query"] == "How many weeks of parental leave? and the sabbatical?"
    listed = json.loads(docket("chat", "--list", "--home", home, "--json").stdout)
    assert {"id": cid, "turns": 2}.items() <= next(c for c in listed if c["id"] == cid).items()


def test_the_prompt_loop_reads_lines_until_exit(indexed) -> None:
    home = str(indexed[0])
    proc = subprocess.run(
        [sys.executable, "-m", "docket", "chat", "--home", home],
        input="How many weeks of parental leave?\n/history\n/exit\n",
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("12 weeks") >= 2  # the answer, then the history
    assert "docket chat --resume" in proc.stdout


def test_resuming_an_unknown_conversation_fails_clearly(indexed) -> None:
    proc = docket("chat", "--resume", "nope", "-m", "hi", "--home", str(indexed[0]), check=False)
    assert proc.returncode == 2 and "docket chat --list" in proc.stderr
