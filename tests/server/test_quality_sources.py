"""GET /api/quality/sources: each source's parse-quality totals, counted over only the documents
the caller may read; source names (server paths) for admins only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter

from docket.config import load_settings
from docket.server.app import create_app
from tests.conftest import REPO

MEMO = REPO / "tests" / "data" / "fuzz" / "fake-memo.pdf"
MEMO_PAGES = len(PdfReader(MEMO).pages)


def _memo_with_a_blank_page(path: Path) -> None:
    writer = PdfWriter(clone_from=MEMO)
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    path.write_bytes(out.getvalue())


@dataclass
class Library:
    client: TestClient
    keys: dict[str, str]
    folders: dict[str, Path]

    def totals(self, persona: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[persona]}"}
        return self.client.get("/api/quality/sources", params=params, headers=headers)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("quality")
    settings = load_settings(home=root / "kb", overrides={"embedder": {"name": "fake"}})
    app = create_app(settings, start_jobs=False)
    with TestClient(app) as client:
        st = app.state.docket
        accounts = st.accounts
        owner = accounts.users.create("owner@example.com", "owner-password", "owner")
        ann = accounts.users.create("ann@example.com", "ann-password", "member")
        accounts.workspaces.create("support")
        accounts.workspaces.create("hr")
        accounts.workspaces.add_member("support", ann.id, "member")
        folders = {name: root / name for name in ("minutes", "public", "secret", "other")}
        for folder in folders.values():
            folder.mkdir()
        _memo_with_a_blank_page(folders["public"] / "memo.pdf")
        (folders["public"] / "note.md").write_text("# Note\n\nThe office opens at nine.\n")
        (folders["minutes"] / "minutes.md").write_text("# Minutes\n\nThe board met.\n")
        for name in ("salaries.pdf", "bonuses.pdf"):
            _memo_with_a_blank_page(folders["secret"] / name)
        _memo_with_a_blank_page(folders["other"] / "payroll.pdf")
        st.kb.ingest([str(folders["public"])], workspace="support")
        st.kb.ingest([str(folders["minutes"])], workspace="support")
        st.kb.ingest([str(folders["secret"])], workspace="support", access=("group:hr",))
        st.kb.ingest([str(folders["other"])], workspace="hr")
        keys = {"owner": accounts.keys.create(owner.id)[1], "ann": accounts.keys.create(ann.id)[1]}
        yield Library(client, keys, folders)


def test_a_reader_gets_totals_of_only_the_documents_they_may_read(library: Library) -> None:
    r = library.totals("ann", workspace="support")
    assert r.status_code == 200
    body = r.json()
    assert body["workspace"] == "support"
    minutes, public = body["sources"]  # not the folder restricted to group:hr
    assert (minutes["files"], minutes["pages"], minutes["parsers"]) == (1, 0, {"markdown": 1})
    assert (public["files"], public["parsers"], public["files_with_warnings"]) == (2, {"pdf": 1, "markdown": 1}, 1)
    assert public["pages"] == MEMO_PAGES + 1
    assert public["pages_without_text"] == {"blank": 1}
    assert (public["pages_ocr"], public["ocr_confidence"], public["not_recorded"]) == (0, None, 0)
    # every workspace of hers: still not hr's, nor the restricted folder
    assert [s["pages"] for s in library.totals("ann").json()["sources"]] == [0, MEMO_PAGES + 1]
    assert library.totals("ann", workspace="hr").status_code == 404


def test_a_reader_is_not_told_the_sources_server_paths(library: Library) -> None:
    sources = library.totals("ann", workspace="support").json()["sources"]
    assert [(s["name"], s["label"], s["type"]) for s in sources] == [
        (None, "folder 1", "folder"),
        (None, "folder 2", "folder"),
    ]
    assert not any(str(folder) in str(sources) for folder in library.folders.values())


def test_an_admin_gets_every_source_by_name_with_restricted_documents_counted(library: Library) -> None:
    sources = {s["name"]: s for s in library.totals("owner", workspace="support").json()["sources"]}
    public, secret = str(library.folders["public"]), str(library.folders["secret"])
    assert set(sources) == {public, secret, str(library.folders["minutes"])}
    assert sources[secret]["files"] == 2
    assert sources[secret]["pages"] == 2 * (MEMO_PAGES + 1)
    assert sources[secret]["pages_without_text"] == {"blank": 2}
    assert sources[public]["pages"] == MEMO_PAGES + 1
    everything = library.totals("owner").json()["sources"]
    assert sum(s["files"] for s in everything) == 6
    assert {s["label"] for s in everything} == {"minutes", "public", "secret", "other"}
