"""`docket sources add|list|sync|remove` end to end, against a website served on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import docket
from tests.ingest.sources.site import serve


def _home(tmp_path: Path) -> str:
    home = tmp_path / "kb"
    home.mkdir()
    (home / "docket.toml").write_text('[embedder]\nname = "fake"\n')
    return str(home)


def test_add_sync_search_list_and_remove_a_website(tmp_path: Path) -> None:
    home = _home(tmp_path)
    with serve() as site:
        added = json.loads(
            docket(
                "sources", "add", "web", site.base + "/", "--name", "intranet", "--allow-private", "--delay", "0",
                "--schedule", "0 6 * * *", "--tag", "web", "--home", home, "--json",
            ).stdout
        )  # fmt: skip
        assert added["type"] == "web" and added["settings"]["allow_private"] is True
        synced = json.loads(docket("sources", "sync", "intranet", "--home", home, "--json").stdout)
        assert synced["intranet"]["added"] == 5 and synced["intranet"]["error"] is None
        site.html("/about.html", "About Clef", "Clef makes metronomes now.")
        again = json.loads(docket("sources", "sync", "--home", home, "--json").stdout)
        assert (again["intranet"]["updated"], again["intranet"]["unchanged"]) == (1, 4)

    hits = json.loads(docket("search", "metronomes", "--home", home, "--json").stdout)
    top = hits["hits"][0] if isinstance(hits, dict) else hits[0]
    assert top["path"] == site.base + "/about.html" and top["title"] == "About Clef"

    listed = json.loads(docket("sources", "list", "--home", home, "--json").stdout)
    assert [(s["name"], s["type"], s["documents"]) for s in listed] == [("intranet", "web", 5)]
    assert listed[0]["last_result"]["updated"] == 1 and listed[0]["next_run"] > listed[0]["last_run"]
    table = docket("sources", "list", "--home", home).stdout
    assert "intranet" in table and "updated" in table

    down = docket("sources", "sync", "intranet", "--home", home, "--json", check=False)  # the site has stopped
    assert down.returncode == 1 and "cannot connect" in json.loads(down.stdout)["intranet"]["error"]
    assert json.loads(docket("sources", "list", "--home", home, "--json").stdout)[0]["documents"] == 5

    assert json.loads(docket("sources", "remove", "intranet", "--home", home, "--json").stdout) == {
        "removed": "intranet"
    }
    assert json.loads(docket("sources", "list", "--home", home, "--json").stdout) == []


def test_bad_input_gets_one_line_errors(tmp_path: Path) -> None:
    home = _home(tmp_path)
    bad_url = docket("sources", "add", "web", "intranet", "--home", home, check=False)
    assert bad_url.returncode == 2 and "is not a web address" in bad_url.stderr
    bad_cron = docket(
        "sources", "add", "web", "https://example.com/", "--schedule", "hourly", "--home", home, check=False
    )
    assert bad_cron.returncode == 2 and "not a cron expression" in bad_cron.stderr
    unknown = docket("sources", "sync", "nope", "--home", home, "--json", check=False)
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"]["code"] == "not_found"
