"""docket hooks and docket schedules, run as real processes on a knowledge base's accounts.db."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import docket

pytest.importorskip("croniter", reason="the server extra is not installed (pip install 'docket[server]')")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    from docket.accounts import Accounts

    home = tmp_path / "kb"
    accounts = Accounts(home / "accounts.db")
    accounts.workspaces.create("support")
    accounts.close()
    return home


def test_a_hook_is_created_with_its_url_shown_once_then_listed_and_removed(home: Path) -> None:
    shown = docket(
        "hooks", "create", "support-reply", "--workspace", "support", "--name", "helpdesk", "--home", str(home)
    )
    url = shown.stdout.split()[-1]
    assert url.startswith("http://127.0.0.1:8000/hooks/wh_") and "shown once" in shown.stdout
    token = url.rsplit("/", 1)[1]
    assert token.encode() not in (home / "accounts.db").read_bytes()
    listed = json.loads(docket("hooks", "list", "--home", str(home), "--json").stdout)
    assert [(h["name"], h["workflow"], h["workspace"]) for h in listed] == [("helpdesk", "support-reply", "support")]
    assert token not in json.dumps(listed) and token.startswith(listed[0]["prefix"])
    assert json.loads(docket("hooks", "remove", str(listed[0]["id"]), "--home", str(home), "--json").stdout) == {
        "removed": listed[0]["id"]
    }
    assert json.loads(docket("hooks", "list", "--home", str(home), "--json").stdout) == []


def test_a_hook_for_an_unknown_workflow_or_workspace_is_refused(home: Path) -> None:
    proc = docket("hooks", "create", "nope", "--workspace", "support", "--home", str(home), check=False)
    assert proc.returncode == 2 and "no workflow 'nope'" in proc.stderr
    proc = docket("hooks", "create", "support-reply", "--workspace", "sales", "--home", str(home), check=False)
    assert proc.returncode == 2 and "no workspace 'sales'" in proc.stderr


def test_schedules_add_list_remove(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "sales.csv"
    data.write_text("ORDERDATE,SALES\n2024-01-05,100\n")
    spec = tmp_path / "spec.yml"
    spec.write_text("title: Sales\nmetrics:\n  - {name: revenue, column: SALES, agg: sum}\n")
    added = json.loads(
        docket(
            "schedules", "add", "weekly-sales", "--workflow", "report", "--cron", "0 7 * * 1",
            "--input", str(data), "--spec", str(spec), "--output", str(tmp_path / "reports"),
            "--home", str(home), "--json",
        ).stdout
    )  # fmt: skip
    assert added["name"] == "weekly-sales" and added["next_run"] is not None
    assert added["params"] == {"spec": str(spec.resolve())} and added["output"] == str((tmp_path / "reports").resolve())
    assert "report" in docket("schedules", "list", "--home", str(home)).stdout
    listed = json.loads(docket("schedules", "list", "--home", str(home), "--json").stdout)
    assert [(s["name"], s["cron"], s["last_run"]) for s in listed] == [("weekly-sales", "0 7 * * 1", None)]
    docket("schedules", "remove", "weekly-sales", "--home", str(home))
    assert json.loads(docket("schedules", "list", "--home", str(home), "--json").stdout) == []


def test_schedules_add_explains_bad_input(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "tickets.jsonl"
    data.write_text('{"text": "hi"}\n')
    common = ["--workflow", "ticket-triage", "--input", str(data), "--home", str(home)]
    proc = docket("schedules", "add", "x", "--cron", "every monday", *common, check=False)
    assert proc.returncode == 2 and "not a cron expression" in proc.stderr
    proc = docket("schedules", "add", "x", "--cron", "0 7 * * 1", "--params", "{bad", *common, check=False)
    assert proc.returncode == 2 and "--params: not JSON" in proc.stderr
    proc = docket("schedules", "add", "x", "--workflow", "report", "--cron", "0 7 * * 1", "--input", str(data),
                  "--home", str(home), check=False)  # fmt: skip
    assert proc.returncode == 2 and "--spec" in proc.stderr
    proc = docket("schedules", "add", "x", "--cron", "0 7 * * 1", "--workflow", "ticket-triage",
                  "--input", str(tmp_path / "gone.csv"), "--home", str(home), check=False)  # fmt: skip
    assert proc.returncode == 2 and "no input" in proc.stderr
