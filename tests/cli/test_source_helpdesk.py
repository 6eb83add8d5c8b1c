"""`docket sources add zendesk|freshdesk|json-http`, `docket sources sync` and `docket reviews approve` writing an
internal note, end to end in a real `docket` process against a loopback help desk
(tests/ingest/sources/helpdesk_server.py cites the vendors' API references)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docket.workflows.review import ReviewQueue
from tests.cli.conftest import docket
from tests.ingest.sources.helpdesk_server import TOKEN, helpdesk_server
from tests.ingest.sources.test_helpdesk import GENERIC

yaml = pytest.importorskip("yaml", reason="the workflows extra: pip install -e '.[workflows]'")


@pytest.mark.parametrize("kind", ["zendesk", "freshdesk", "json-http"])
def test_a_help_desk_is_added_synced_and_takes_an_approved_note(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    home = str(tmp_path / "kb")
    with helpdesk_server(kind) as desk:
        desk.add_ticket(101, "Refund", "Where is my refund?", "2026-01-05T09:00:00Z")
        desk.add_ticket(102, "Payroll", "My payslip is wrong.", "2026-01-05T10:00:00Z", group_id=7)
        if kind == "json-http":  # the desk's API described in YAML
            described = {"url": desk.url, "allow_private": True, "token_env": "DESK_TOKEN", **GENERIC}
            described["group_access"] = {"7": ["group:payroll"]}
            (tmp_path / "desk.yml").write_text(yaml.safe_dump(described))
            options = ["--settings", str(tmp_path / "desk.yml")]
        else:
            options = ["--url", desk.url, "--allow-private", "--token-env", "DESK_TOKEN"]
            options += ["--group-access", "7=group:payroll"] + (["--email", "agent@example.com"] * (kind == "zendesk"))
        added = docket(
            "sources", "add", kind, *options, "--name", "desk", "--workspace", "support", "--home", home, "--json"
        )
        saved = json.loads(added.stdout)
        assert saved["settings"]["group_access"] == {"7": ["group:payroll"]} and TOKEN not in added.stdout

        synced = json.loads(docket("sources", "sync", "desk", "--home", home, "--json").stdout)
        assert "desk" in json.dumps(synced) and '"added": 2' in json.dumps(synced)

        with ReviewQueue(Path(home) / "reviews.db") as queue:
            review = queue.add(
                "support-reply", {"draft": "Refunds take 14 days."}, webhook="helpdesk:desk/101", workspace="support"
            )
        approved = docket("reviews", "approve", str(review), "--reviewer", "olive", "--home", home)

    assert f"Review #{review} approved. Help desk sent: internal note" in approved.stdout
    [(ticket, note)] = desk.notes
    assert ticket == 101 and "14 days" in note["body"]


def test_a_help_desk_needs_one_token_and_well_formed_groups(tmp_path: Path) -> None:
    home = str(tmp_path / "kb")
    neither = docket("sources", "add", "freshdesk", "--domain", "acme", "--home", home, check=False)
    assert neither.returncode != 0 and "--token-env VAR" in neither.stdout + neither.stderr
    bad = docket(
        "sources", "add", "freshdesk", "--domain", "acme", "--token-env", "T", "--group-access", "7", "--home", home,
        check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "GROUP_ID=PRINCIPAL" in bad.stdout + bad.stderr
