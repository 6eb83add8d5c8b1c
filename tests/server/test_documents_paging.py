"""GET /api/documents pages, searches and filters the library inside the store's query: a caller
never learns of a document they may not read, not from a row and not from ``total``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app

PUBLIC_FILES = 130  # more than a page holds at most (100)


@dataclass
class Library:
    client: TestClient
    keys: dict[str, str]

    def list(self, persona: str, **params: Any) -> Any:
        r = self.client.get("/api/documents", params=params, headers={"Authorization": f"Bearer {self.keys[persona]}"})
        return r


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("library")
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
        public = root / "public"
        public.mkdir()
        for i in range(PUBLIC_FILES):
            (public / f"report-{i:03d}.md").write_text(f"# Report {i}\n\nQuarterly figures, number {i}.\n")
        (public / "Handbook.TXT").write_text("The staff handbook.\n")
        (public / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
        secret = root / "secret"
        secret.mkdir()
        for i in range(3):
            (secret / f"secret-report-{i}.md").write_text(f"Salary band {i}.\n")
        other = root / "other"
        other.mkdir()
        (other / "hr-report.md").write_text("Payroll.\n")
        st.kb.ingest([str(public)], workspace="support")
        st.kb.ingest([str(secret)], workspace="support", access=("group:hr",))
        st.kb.ingest([str(other)], workspace="hr")
        keys = {"owner": accounts.keys.create(owner.id)[1], "ann": accounts.keys.create(ann.id)[1]}
        yield Library(client, keys)


def test_the_list_comes_in_pages_of_at_most_a_hundred(library: Library) -> None:
    first = library.list("ann", workspace="support", per_page=100).json()
    assert (first["total"], first["page"], first["per_page"]) == (PUBLIC_FILES + 1, 1, 100)
    assert len(first["documents"]) == 100
    second = library.list("ann", workspace="support", per_page=100, page=2).json()
    assert len(second["documents"]) == PUBLIC_FILES + 1 - 100
    paths = [d["path"] for d in first["documents"] + second["documents"]]
    assert len(set(paths)) == len(paths) == PUBLIC_FILES + 1  # every document once, in a stable order
    past = library.list("ann", workspace="support", page=99).json()
    assert past["documents"] == [] and past["total"] == PUBLIC_FILES + 1
    default = library.list("ann", workspace="support").json()
    assert default["per_page"] == 50 and len(default["documents"]) == 50
    assert {"failures"} <= set(default)  # the fields callers used before paging are still there


def test_a_page_larger_than_a_hundred_is_refused_naming_the_field(library: Library) -> None:
    for params in ({"per_page": 101}, {"per_page": 0}, {"page": 0}):
        r = library.list("ann", workspace="support", **params)
        assert r.status_code == 400, params
        assert next(iter(params)) in r.json()["error"]["message"]
    r = library.list("ann", workspace="support", status="broken")
    assert r.status_code == 400 and "status must be one of indexed, failed" in r.json()["error"]["message"]


def test_a_reader_never_counts_documents_they_may_not_read(library: Library) -> None:
    ann = library.list("ann", workspace="support", per_page=100).json()
    owner = library.list("owner", workspace="support", per_page=100).json()
    assert owner["total"] == ann["total"] + 3  # the three restricted to group:hr
    assert library.list("ann", workspace="support", q="secret").json()["total"] == 0
    assert library.list("owner", workspace="support", q="secret").json()["total"] == 3
    everything = library.list("ann", q="report", per_page=100).json()  # all of ann's workspaces: not hr
    assert everything["total"] == PUBLIC_FILES
    assert library.list("owner", q="report", per_page=100).json()["total"] == PUBLIC_FILES + 3 + 1
    assert library.list("ann", workspace="hr").status_code == 404


def test_search_matches_path_or_title_in_any_case(library: Library) -> None:
    found = library.list("ann", workspace="support", q="REPORT-12").json()
    assert found["total"] == 10 and {d["path"] for d in found["documents"]} == {
        f"report-{i:03d}.md" for i in range(120, 130)
    }
    assert [d["path"] for d in library.list("ann", workspace="support", q="handbook").json()["documents"]] == [
        "Handbook.TXT"
    ]
    assert library.list("ann", workspace="support", q="100%").json()["total"] == 0  # % is a character, not a wildcard


def test_filters_by_type_status_source_and_profile(library: Library) -> None:
    txt = library.list("ann", workspace="support", type="txt").json()
    assert [d["path"] for d in txt["documents"]] == ["Handbook.TXT"]
    failed = library.list("ann", workspace="support", status="failed").json()
    assert failed["documents"] == [] and failed["total"] == 0
    assert [f["path"] for f in failed["failures"]] == ["broken.pdf"]
    indexed = library.list("ann", workspace="support", status="indexed").json()
    assert indexed["failures"] == [] and indexed["total"] == PUBLIC_FILES + 1
    source = indexed["documents"][0]
    doc_id = source["id"]
    owner_headers = {"Authorization": f"Bearer {library.keys['owner']}"}
    patched = library.client.patch(
        f"/api/documents/{doc_id}/profile", json={"organizations": ["Acme Corp"]}, headers=owner_headers
    )
    assert patched.status_code == 200, patched.text
    acme = library.list("ann", workspace="support", org="acme").json()
    assert [d["id"] for d in acme["documents"]] == [doc_id] and acme["total"] == 1
    assert library.list("ann", workspace="support", org="acme", q="nothing-like-it").json()["total"] == 0


def test_filtering_by_source_keeps_to_that_source(library: Library) -> None:
    hr_report = library.list("owner", q="hr-report").json()["documents"][0]
    hr_source = library.client.get("/api/sources", headers={"Authorization": f"Bearer {library.keys['owner']}"}).json()
    name = next(s["name"] for s in hr_source["sources"] if s["workspace"] == "hr")
    only = library.list("owner", source=name).json()
    assert only["total"] == 1 and only["documents"][0]["id"] == hr_report["id"]
    assert library.list("ann", source=name).json()["total"] == 0  # a source of another workspace: nothing
    # the source filter's choices: source names are server paths, so admins only (as GET /api/sources)
    assert library.list("ann", workspace="support").json()["sources"] == []
    support = library.list("owner", workspace="support").json()["sources"]
    assert sorted(s["label"] for s in support) == ["public", "secret"] and name not in [s["name"] for s in support]
    assert name in [s["name"] for s in library.list("owner").json()["sources"]]
