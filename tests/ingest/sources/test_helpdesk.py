"""Zendesk and Freshdesk: tickets indexed incrementally, and approved drafts written back to a
ticket as internal notes — against loopback servers that implement the documented API subset
(tests/ingest/sources/helpdesk_server.py cites the vendors' API references)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docket.config import load_settings
from docket.errors import ConfigError, SourceError, UserError
from docket.ingest.sources.helpdesk import write_note
from docket.ingest.sources.sync import add_remote_source, check_secret_references
from docket.kb import KnowledgeBase
from docket.workflows.review import ReviewQueue
from tests.ingest.sources.helpdesk_server import TOKEN, Desk, helpdesk_server

KINDS = ["zendesk", "freshdesk", "json-http"]

# the json-http source describing the loopback desk's own API (helpdesk_server.py)
GENERIC: dict[str, Any] = {
    "tickets": {
        "path": "/api/tickets", "params": {"updated_since": "{since}"}, "items": "data", "next": "links.next",
        "id": "id", "updated": "updated_at", "title": "subject", "status": "state", "text": ["description"],
        "group": "team_id",
    },
    "conversation": {"path": "/api/tickets/{id}/messages", "items": "messages", "text": "body", "internal": "internal"},
    "note": {
        "path": "/api/tickets/{id}/notes", "body": {"note": {"body": "{text}", "internal": True}}, "id": "note.id",
    },
}  # fmt: skip


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}))
    yield base
    base.close()


@pytest.fixture(params=KINDS)
def desk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with helpdesk_server(request.param) as server:
        server.add_ticket(
            101, "Refund for order 77", "I returned the kettle; where is my refund?", "2026-01-05T09:00:00Z"
        )
        server.add_ticket(102, "Shipping delay", "My parcel is late.", "2026-01-05T10:00:00Z")
        yield server


def settings_for(desk: Desk, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"url": desk.url, "token_env": "DESK_TOKEN", "allow_private": True, **extra}
    if desk.kind == "zendesk":
        options["email"] = "agent@example.com"
    if desk.kind == "json-http":
        options |= GENERIC
    return options


def test_tickets_are_indexed_then_synced_incrementally_by_updated_time(kb: KnowledgeBase, desk: Desk) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk), workspace="support")

    first = kb.sync(["desk"])
    assert first.added == 2 and not first.failed, first.failed
    hit = kb.search("kettle refund")[0]
    assert hit.path == "tickets/101" and hit.title == "Refund for order 77" and "kettle" in hit.text
    assert {d.workspace for d in kb.store.documents()} == {"support"}

    desk.requests.clear()
    desk.add_ticket(102, "Shipping delay", "My parcel is late. Still nothing after a week!", "2026-01-06T08:00:00Z")
    second = kb.sync(["desk"])

    assert second.updated == 1 and second.added == 0 and second.deleted == 0
    assert "a week" in kb.search("parcel late week")[0].text
    assert not any("/101" in path for _, path in desk.requests)  # an unchanged ticket is not read again
    listing = desk.requests[0][1]
    assert ("cursor=2026-01-05T10" in listing) if desk.kind == "zendesk" else ("updated_since=2026-01-05T10" in listing)


def notes_of(kb: KnowledgeBase) -> Any:
    """What docket serve and docket reviews approve give the queue: write_note over the knowledge base."""
    return lambda item, text: write_note(
        kb.store, item.webhook or "", text, workspace=item.workspace, documents=item.documents
    )


def ingest_text(kb: KnowledgeBase, tmp_path: Path, name: str, text: str, **where: Any) -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.txt").write_text(text)
    kb.ingest([str(folder)], **where)
    [doc] = [d for d in kb.store.documents() if d.path.endswith(f"{name}.txt")]
    return doc.id


def test_an_approved_draft_reaches_the_ticket_as_an_internal_note(
    kb: KnowledgeBase, desk: Desk, tmp_path: Path
) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk))
    with ReviewQueue(tmp_path / "reviews.db") as queue:
        queue.notes = notes_of(kb)
        draft = {"draft": "Your refund was issued on 5 January [1].", "citations": []}
        approved = queue.add("support-reply", draft, webhook="helpdesk:desk/101", workspace="default")
        rejected = queue.add("support-reply", {"draft": "Not this one."}, webhook="helpdesk:desk/102")

        item = queue.approve(approved, "ann", final={**draft, "draft": "Your refund was issued on 5 January."})
        queue.reject(rejected, "ann", "wrong tone")

    assert item.delivery is not None and item.delivery.startswith("sent: internal note")
    assert len(desk.notes) == 1  # the rejected draft was never sent
    ticket, note = desk.notes[0]
    assert ticket == 101 and "refund was issued on 5 January." in note["body"]
    if desk.kind == "zendesk":
        assert note["public"] is False  # a private comment, never a public reply
    elif desk.kind == "freshdesk":
        assert note["private"] is True
    else:
        assert note["internal"] is True  # the body the settings describe, with the text filled in


def test_a_draft_reaches_only_a_ticket_whose_readers_may_read_its_documents(
    kb: KnowledgeBase, desk: Desk, tmp_path: Path
) -> None:
    open_doc = ingest_text(kb, tmp_path, "refunds", "Refunds are issued within 14 days.", workspace="support")
    hr_doc = ingest_text(
        kb, tmp_path, "bands", "Salary bands are reviewed in March.", workspace="support", access=["group:hr"]
    )
    other_doc = ingest_text(kb, tmp_path, "legal", "Contracts renew yearly.", workspace="legal")
    # tickets of group 7 are for the hr group only; the others for every member of support
    add_remote_source(
        kb.store, "desk", desk.kind, settings_for(desk, group_access={"7": ["group:hr"]}), workspace="support"
    )
    desk.add_ticket(103, "Band question", "Which band am I in?", "2026-01-05T11:00:00Z", group_id=7)
    assert not kb.sync(["desk"]).failed
    access = {d.path: d.access for d in kb.store.documents("desk")}
    assert access == {"tickets/101": (), "tickets/102": (), "tickets/103": ("group:hr",)}

    with ReviewQueue(tmp_path / "reviews.db") as queue:
        queue.notes = notes_of(kb)

        def approve(ticket: int, documents: list[str], workspace: str = "support") -> str:
            review = queue.add(
                "support-reply", {"draft": f"About ticket {ticket}."}, webhook=f"helpdesk:desk/{ticket}",
                workspace=workspace, documents=documents,
            )  # fmt: skip
            return queue.approve(review, "ann").delivery or ""

        assert approve(101, [open_doc]).startswith("sent: internal note")
        assert approve(103, [open_doc, hr_doc]).startswith("sent: internal note")  # hr's ticket, hr's document
        refused = approve(101, [open_doc, hr_doc])
        assert (
            refused.startswith("failed:")
            and "'bands' (workspace support, access group:hr)" in refused
            and "group:hr" in refused
        )
        assert "not everyone who reads ticket 101" in refused
        assert "workspace 'legal'" in approve(101, [other_doc], workspace="legal")
        assert "'legal' (workspace legal" in approve(102, [other_doc])  # a document of another workspace
        kb.store.delete_document(open_doc)
        assert "no longer indexed" in approve(101, [open_doc])

    assert [ticket for ticket, _ in desk.notes] == [101, 103]


def test_a_rate_limited_desk_is_waited_for_then_reported_with_its_retry_after(kb: KnowledgeBase, desk: Desk) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk, max_wait_s=5), workspace="support")
    desk.throttle[:] = ["1"]  # one 429 asking for a second: waited for, then the note is written
    assert write_note(kb.store, "helpdesk:desk/101", "First note.", workspace="support", documents=[])
    assert [ticket for ticket, _ in desk.notes] == [101]
    assert len([m for m, _ in desk.requests if m != "GET"]) == 2  # the refused request and its retry

    desk.throttle[:] = ["120"]  # longer than max_wait_s: not waited for, reported with what was asked
    with pytest.raises(SourceError, match=r"HTTP 429, rate limited \(retry after 120 s; waited 0 s of max_wait_s 5\)"):
        write_note(kb.store, "helpdesk:desk/101", "Second note.", workspace="support", documents=[])
    desk.throttle[:] = ["1", None]
    report = kb.sync(["desk"])
    assert (
        report.failed
        and "HTTP 429" in report.failed[0]["error"]
        and "no Retry-After given" in report.failed[0]["error"]
    )
    assert len(desk.notes) == 1


def test_a_ticket_deleted_after_it_was_listed_fails_alone(kb: KnowledgeBase, desk: Desk) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk))
    desk.gone.add(102)
    report = kb.sync(["desk"])
    assert report.added == 1 and [f["path"] for f in report.failed] == ["tickets/102"]
    assert "HTTP 404" in report.failed[0]["error"] and kb.ledger.sources()["desk"].last_error is None


def test_a_desk_that_keeps_answering_429_is_given_up_on(kb: KnowledgeBase, desk: Desk) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk))
    desk.throttle[:] = ["0"] * 10
    with pytest.raises(SourceError, match=r"HTTP 429, still rate limited after 5 retries"):
        write_note(kb.store, "helpdesk:desk/101", "text", workspace="default", documents=[])
    assert desk.notes == [] and len(desk.throttle) == 4  # the first request and 5 retries


def test_a_missing_ticket_is_a_404_that_says_what_to_check(kb: KnowledgeBase, desk: Desk) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk))
    with pytest.raises(SourceError, match=r"/tickets/999.*HTTP 404 \(not found: check the ticket number"):
        write_note(kb.store, "helpdesk:desk/999", "text", workspace="default", documents=[])
    assert desk.notes == []


def test_a_wrong_token_is_a_source_error_that_does_not_show_it(
    kb: KnowledgeBase, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote_source(kb.store, "desk", desk.kind, settings_for(desk))
    monkeypatch.setenv("DESK_TOKEN", "wrong-token-123")
    report = kb.sync(["desk"])
    assert report.failed and "HTTP 401 (the token was refused" in report.failed[0]["error"]
    assert "wrong-token-123" not in str(report.failed) + str(kb.ledger.sources()["desk"].settings)
    with pytest.raises(SourceError, match="HTTP 401"):
        write_note(kb.store, "helpdesk:desk/101", "text", workspace="default", documents=[])
    assert desk.notes == []


def test_a_json_http_desk_reads_the_fields_and_pages_its_settings_name(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with helpdesk_server("json-http") as desk:
        for n in range(5):  # three pages of two
            desk.add_ticket(200 + n, f"Question {n}", f"Text of question {n}.", f"2026-01-0{n + 1}T09:00:00Z")
        add_remote_source(kb.store, "desk", "json-http", settings_for(desk, ticket_url=desk.url + "/t/{id}"))
        report = kb.sync(["desk"])
    assert report.added == 5 and not report.failed
    assert sum("/api/tickets?" in path for _, path in desk.requests) == 3
    doc = next(d for d in kb.store.documents("desk") if d.path == "tickets/204")
    assert doc.title == "Question 4" and doc.metadata["url"] == desk.url + "/t/204"
    text = kb.store.document_text(doc.id)
    assert "Text of question 4." in text and "Thanks, we are on it." in text and "status open" in text
    assert kb.ledger.sources()["desk"].checkpoint == {"since": "2026-01-05T09:00:00Z"}


def test_a_json_http_desk_s_settings_are_checked_naming_the_option(kb: KnowledgeBase) -> None:
    def add(**changes: Any) -> None:
        settings = {"url": "https://desk.example.com", "token_env": "T", **GENERIC, **changes}
        add_remote_source(kb.store, "d", "json-http", settings)

    with pytest.raises(UserError, match=r"json-http: tickets\.updated is required"):
        add(tickets={"path": "/api/tickets", "id": "id"})
    with pytest.raises(UserError, match=r"json-http: tickets\.cursor is not an option; use path, params"):
        add(tickets={**GENERIC["tickets"], "cursor": "x"})
    with pytest.raises(UserError, match=r"json-http: note\.path must start with /"):
        add(note={"path": "api/notes", "body": {"body": "{text}"}})
    with pytest.raises(UserError, match=r"json-http: note\.body must hold \{text\}"):
        add(note={"path": "/api/notes", "body": {"body": "text"}})
    with pytest.raises(UserError, match=r"json-http: note\.method must be POST, PUT or PATCH"):
        add(note={**GENERIC["note"], "method": "DELETE"})
    with pytest.raises(UserError, match="json-http: auth must be bearer, basic or header:NAME"):
        add(auth="digest")
    with pytest.raises(UserError, match="json-http: auth basic needs user"):
        add(auth="basic")
    add(note=None)  # a read-only desk
    with pytest.raises(UserError, match="json-http: this source takes no notes"):
        write_note(kb.store, "helpdesk:d/1", "text", workspace="default", documents=[])


def test_a_desk_added_over_the_api_reads_only_the_server_s_secret_variables_and_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"settings\.token_env: .* start with DOCKET_SECRET_"):
        check_secret_references({"subdomain": "acme", "token_env": "DOCKET_DB_URL"}, "DOCKET_SECRET_", tmp_path)
    with pytest.raises(UserError, match=r"settings\.token_file: .* only under"):
        check_secret_references({"domain": "acme", "token_file": "/etc/passwd"}, "DOCKET_SECRET_", tmp_path)
    check_secret_references(
        {"url": "https://d.example.com", "token_env": "DOCKET_SECRET_DESK"}, "DOCKET_SECRET_", tmp_path
    )


def test_settings_and_targets_are_checked(kb: KnowledgeBase) -> None:
    with pytest.raises(UserError, match="token_env"):
        add_remote_source(kb.store, "desk", "freshdesk", {"domain": "acme"})
    with pytest.raises(UserError, match="email"):
        add_remote_source(kb.store, "desk", "zendesk", {"subdomain": "acme", "email": "x", "token_env": "T"})
    with pytest.raises(UserError, match=r"group_access\.7 must be a list"):
        add_remote_source(
            kb.store, "desk", "freshdesk", {"domain": "acme", "token_env": "T", "group_access": {"7": "hr"}}
        )
    with pytest.raises(UserError, match=r"group_access\.7: hr: write user:EMAIL or group:NAME"):
        add_remote_source(
            kb.store, "desk", "freshdesk", {"domain": "acme", "token_env": "T", "group_access": {"7": ["hr"]}}
        )
    with pytest.raises(
        ConfigError, match=r"no option\(s\) colour\. Valid options: allow_private, domain, group_access"
    ):
        add_remote_source(kb.store, "desk", "freshdesk", {"domain": "acme", "token_env": "T", "colour": "red"})
    with pytest.raises(UserError, match="helpdesk:SOURCE/TICKET_ID"):
        write_note(kb.store, "helpdesk:desk/abc", "text", workspace=None, documents=[])
    with pytest.raises(UserError, match="no help-desk source named 'nope'"):
        write_note(kb.store, "helpdesk:nope/1", "text", workspace=None, documents=[])
    add_remote_source(kb.store, "site", "web", {"url": "https://example.com/"})
    with pytest.raises(UserError, match="source 'site' is a web source, not a help desk"):
        write_note(kb.store, "helpdesk:site/1", "text", workspace=None, documents=[])
