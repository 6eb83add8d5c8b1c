"""Uploads that respect what is there: a file of the same name is kept apart or replaced as asked,
never overwritten silently; an empty file is skipped with a warning; a job reads only its own
files and shows each one's state. Driven over HTTP against `docket serve` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.test_serve import _port, _serve
from tests.server.test_upload_crash import _auth, _finished, _template

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("upload-names")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKET_EMBEDDER__NAME", "fake")  # deterministic vectors, no model to load
        home, key = _template(root)
        port = _port()
        proc = _serve(home, port, root / "serve.log")
    try:
        yield f"http://127.0.0.1:{port}/api", key
    finally:
        proc.terminate()
        proc.wait(20)


def _upload(api: tuple[str, str], files: list[tuple[str, bytes]], **form: str) -> httpx.Response:
    url, key = api
    sent = [("files", (name, data)) for name, data in files]
    return httpx.post(f"{url}/workspaces/Support/documents", files=sent, data=form, headers=_auth(key), timeout=60)


def _done(api: tuple[str, str], reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 202, reply.text
    url, key = api
    job = _finished(url, key, int(reply.json()["job"]["id"]))
    assert job["state"] == "done", job
    return job


def _text_of(api: tuple[str, str], path: str) -> bytes:
    url, key = api
    docs = httpx.get(f"{url}/documents", params={"workspace": "Support"}, headers=_auth(key), timeout=10).json()
    (doc,) = [d for d in docs["documents"] if d["path"] == path]
    return httpx.get(f"{url}/documents/{doc['id']}/download", headers=_auth(key), timeout=10).content


def test_a_second_file_of_the_same_name_is_kept_beside_the_first(api: tuple[str, str]) -> None:
    first = _upload(api, [("policy.md", b"# Policy\n\nRefunds take 14 days.")])
    assert first.json()["files"] == [{"name": "policy.md", "stored_as": "policy.md", "status": "added", "reason": None}]
    _done(api, first)

    second = _upload(api, [("policy.md", b"# Policy\n\nRefunds take 30 days.")])
    assert second.json()["files"] == [
        {"name": "policy.md", "stored_as": "policy (2).md", "status": "renamed", "reason": None}
    ]
    job = _done(api, second)
    assert job["report"]["added"] == 1 and job["report"]["unchanged"] == 0  # its own file only, not the folder
    assert job["progress"]["total"] == 1
    assert job["progress"]["files"] == [{"name": "policy (2).md", "state": "done", "error": None}]
    assert _text_of(api, "policy.md") == b"# Policy\n\nRefunds take 14 days."
    assert _text_of(api, "policy (2).md") == b"# Policy\n\nRefunds take 30 days."

    third = _upload(api, [("policy.md", b"x" * 3), ("policy.md", b"y" * 3)])  # twice in one upload too
    assert [f["stored_as"] for f in third.json()["files"]] == ["policy (3).md", "policy (4).md"]
    _done(api, third)


def test_replace_is_asked_for_and_said(api: tuple[str, str]) -> None:
    _done(api, _upload(api, [("rules.md", b"# Rules\n\nOld rule.")]))
    replaced = _upload(api, [("rules.md", b"# Rules\n\nNew rule.")], if_exists="replace")
    assert replaced.json()["files"][0] == {
        "name": "rules.md",
        "stored_as": "rules.md",
        "status": "replaced",
        "reason": None,
    }
    job = _done(api, replaced)
    assert job["report"]["updated"] == 1
    assert _text_of(api, "rules.md") == b"# Rules\n\nNew rule."
    refused = _upload(api, [("rules.md", b"again")], if_exists="overwrite")
    assert refused.status_code == 400 and "if_exists" in refused.json()["error"]["message"]


def test_an_empty_file_is_skipped_with_a_warning_not_a_failure(api: tuple[str, str]) -> None:
    reply = _upload(api, [("empty.txt", b""), ("notes.txt", b"Deliveries arrive on Mondays.")])
    body = reply.json()
    assert body["files"][0] == {
        "name": "empty.txt",
        "stored_as": None,
        "status": "skipped",
        "reason": "the file is empty",
    }
    assert body["warnings"] == ["empty.txt: skipped, the file is empty"]
    job = _done(api, reply)
    assert job["report"]["failed"] == [] and job["report"]["added"] == 1
    assert [f["name"] for f in job["progress"]["files"]] == ["notes.txt"]

    only_empty = _upload(api, [("blank.md", b"")])
    assert only_empty.status_code == 202 and only_empty.json()["job"] is None
    assert only_empty.json()["files"][0]["status"] == "skipped"


def test_a_failing_file_shows_its_error_in_the_jobs_file_list(api: tuple[str, str]) -> None:
    job = _done(api, _upload(api, [("broken.pdf", b"%PDF-1.4 broken"), ("fine.txt", b"All is fine here.")]))
    states = {f["name"]: f for f in job["progress"]["files"]}
    assert states["fine.txt"]["state"] == "done"
    assert states["broken.pdf"]["state"] == "failed" and states["broken.pdf"]["error"]


def test_skipped_files_are_not_documents(api: tuple[str, str]) -> None:
    url, key = api
    docs = httpx.get(f"{url}/documents", params={"workspace": "Support"}, headers=_auth(key), timeout=10).json()
    paths = {d["path"] for d in docs["documents"]}
    assert {"policy.md", "policy (2).md", "rules.md", "notes.txt"} <= paths
    assert "empty.txt" not in paths and "blank.md" not in paths
