"""The review queue, the review and webhook steps, and support-reply parking its drafts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.records import Records
from docket.workflows import parse_workflow, resolve_workflow, run_workflow
from docket.workflows.review import ReviewDecidedError, ReviewQueue, edit_size
from docket.workflows.review_steps import check_url
from docket.workflows.spec import WorkflowError
from docket.workflows.steps import StepFailed
from tests.workflows.test_builtins import DRAFT, support_kb  # noqa: F401  (a fixture)

pytest.importorskip("jsonschema")


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply: bytes | None = None  # the body every answer carries (default: a small JSON object)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A loopback web hook that records each POST (headers and JSON body)."""
    rec = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rec.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = rec.statuses.pop(0) if rec.statuses else 200
            payload = rec.reply if rec.reply is not None else json.dumps({"ok": status < 300, "ticket": 7}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def queue(records: Records) -> Iterator[ReviewQueue]:
    """The queue on a SQLite file and on PostgreSQL: the same behaviour on both."""
    with ReviewQueue(records) as q:
        yield q


# ---------------------------------------------------------------------- the queue


def test_edit_size_is_the_share_of_characters_changed() -> None:
    assert edit_size("Hello there", "Hello there") == 0.0
    assert edit_size({"draft": "abcdefghij"}, {"draft": "abcdefghXY"}) == 0.2
    assert edit_size("abc", "xyz") == 1.0


def test_a_draft_is_approved_edited_or_rejected_once(queue: ReviewQueue) -> None:
    a = queue.add("support-reply", {"draft": "Hello", "confidence": 0.9}, title="Refund", run_id="r1", item_id="row 1")
    b = queue.add("support-reply", {"draft": "Hi there friend"}, workspace="support")
    c = queue.add("support-reply", "Bye")
    assert [i.id for i in queue.find(status="pending")] == [c, b, a]
    approved = queue.approve(a, "ann@example.com")
    assert approved.status == "approved" and approved.final == approved.draft and approved.edit_size == 0.0
    assert approved.decided is not None and approved.reviewer == "ann@example.com"
    edited = queue.approve(b, "ann@example.com", final={"draft": "Hi there, friend!"}, comment="punctuation")
    assert edited.status == "edited" and edited.final == {"draft": "Hi there, friend!"} and edited.comment
    assert 0 < (edited.edit_size or 0) < 0.3
    rejected = queue.reject(c, "bob@example.com", reason="wrong customer")
    assert rejected.status == "rejected" and rejected.comment == "wrong customer" and rejected.final is None
    with pytest.raises(ReviewDecidedError, match=r"rejected already by bob@example\.com"):
        queue.approve(c, "ann@example.com")
    [stats] = queue.stats()
    assert stats == {
        "workflow": "support-reply",
        "pending": 0,
        "approved": 1,
        "edited": 1,
        "rejected": 1,
        "decided": 3,
        "acceptance_rate": round(2 / 3, 4),
        "mean_edit_size": edited.edit_size,
    }


def test_items_are_filtered_by_workspace_and_status(queue: ReviewQueue) -> None:
    a = queue.add("w", "one", workspace="support")
    b = queue.add("w", "two", workspace="hr")
    c = queue.add("v", "three")
    assert [i.id for i in queue.find(workspaces=["support"], unscoped=False)] == [a]
    assert [i.id for i in queue.find(workspaces=["support"])] == [c, a]
    assert [i.id for i in queue.find(workspaces=[], unscoped=False)] == []
    assert [i.id for i in queue.find(workflow="w")] == [b, a]
    assert queue.stats(workspaces=["hr"], unscoped=False)[0]["pending"] == 1
    with pytest.raises(Exception, match="unknown review status 'done'"):
        queue.find(status="done")


def test_a_missing_review_is_a_404(queue: ReviewQueue) -> None:
    with pytest.raises(Exception, match="no review 42") as info:
        queue.get(42)
    assert getattr(info.value, "status", None) == 404


# ---------------------------------------------------------------------- the review step

PARK = """
version: 1
name: park
steps:
  - id: note
    kind: compose
    fields:
      text: "'Dear ' ~ inputs.name ~ ', your order ships Monday.'"
      to: inputs.name
  - id: check
    kind: review
    title: "Note for {{ inputs.name }}"
    value: note
    then_webhook: "{{ params.hook }}/notes"
params:
  hook: ""
"""


def _jsonl(tmp_path: Path, *rows: dict[str, Any]) -> str:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_review_step_parks_the_value_and_the_approved_edit_is_posted(queue: ReviewQueue, tmp_path: Path) -> None:
    flow = parse_workflow(PARK)
    with receiver() as hook:
        queue.allow_private_hosts = ("127.0.0.1",)  # the receiver on loopback: listed, as an intranet host is
        summary = run_workflow(
            flow,
            _jsonl(tmp_path, {"name": "Ana"}, {"name": "Luis"}),
            reviews=queue,
            params={"hook": hook.url},
            allow_private_hosts=["127.0.0.1"],
        )
        assert summary.failed == [] and summary.ok == 2
        ids = [r["review_id"] for r in summary.results]  # type: ignore[index]
        assert all(r["status"] == "pending" for r in summary.results)  # type: ignore[index]
        first = queue.get(ids[0])
        assert first.title == "Note for Ana" and first.workflow == "park" and first.item_id == "line 1"
        assert first.run_id == summary.run_id and first.draft["to"] == "Ana"
        assert first.webhook == f"{hook.url}/notes"

        edited = {"text": "Dear Ana, your order ships on Tuesday.", "to": "Ana"}
        done = queue.approve(ids[0], "ann@example.com", final=edited)
        assert done.status == "edited" and done.delivery == "sent: HTTP 200"
        queue.reject(ids[1], "ann@example.com", "duplicate")
    assert hook.requests == [{"path": "/notes", "headers": hook.requests[0]["headers"], "body": edited}]


def test_review_step_defaults_to_the_knowledge_base_queue_and_all_outputs(tmp_path: Path) -> None:
    flow = parse_workflow(
        "version: 1\nname: p\nsteps:\n  - {id: a, kind: compose, fields: {x: inputs.n}}\n  - {id: r, kind: review}\n"
    )

    class Home:
        class settings:  # what run_workflow reads of a KnowledgeBase
            home = tmp_path / "kb"

    summary = run_workflow(flow, _jsonl(tmp_path, {"n": 5}), kb=lambda: Home())
    assert summary.failed == []
    with ReviewQueue.for_home(tmp_path / "kb") as q:
        [item] = q.find()
    assert item.draft == {"a": {"x": 5}} and item.title == "Draft for review"


def test_review_step_without_a_queue_fails_the_item(tmp_path: Path) -> None:
    flow = parse_workflow("version: 1\nname: p\nsteps:\n  - {id: r, kind: review}\n")
    summary = run_workflow(flow, _jsonl(tmp_path, {"n": 1}))
    assert "a review step needs a review queue" in summary.failed[0]["error"]


def test_validate_checks_the_new_steps_options() -> None:
    bad = """version: 1
name: bad
steps:
  - id: r
    kind: review
    titel: oops
  - id: h
    kind: webhook
    url: http://169.254.169.254/latest/meta-data
    body: "{{ broken"
    headers: {Authorization: "Bearer {{ env.DOCKET_TOKEN"}
"""
    with pytest.raises(WorkflowError) as info:
        parse_workflow(bad, "bad.yml")
    message = str(info.value)
    assert "bad.yml:6: steps[0].titel: step 'review' has no option 'titel'" in message
    assert "steps[1].url: '169.254.169.254' is a cloud-metadata address; webhooks may not call it" in message
    assert "steps[1].body: bad template" in message
    assert "steps[1].headers.Authorization: bad template" in message


def test_a_review_step_may_target_a_help_desk_ticket_and_parks_it_unsent(queue: ReviewQueue, tmp_path: Path) -> None:
    def flow(target: str) -> str:
        return (
            "version: 1\nname: ticket\nsteps:\n  - {id: a, kind: compose, fields: {draft: inputs.text}}\n"
            f"  - {{id: r, kind: review, value: a, then_webhook: '{target}'}}\n"
        )

    with pytest.raises(WorkflowError, match=r"steps\[1\]\.then_webhook: 'helpdesk:desk/abc' is not a help-desk target"):
        parse_workflow(flow("helpdesk:desk/abc"), "bad.yml")
    summary = run_workflow(
        parse_workflow(flow("helpdesk:desk/{{ inputs.ticket }}")),
        _jsonl(tmp_path, {"text": "Refunds take 14 days.", "ticket": 101}, {"text": "Hello.", "ticket": "x"}),
        reviews=queue,
    )
    assert summary.ok == 1 and "'helpdesk:desk/x' is not a help-desk target" in summary.failed[0]["error"]
    [item] = queue.find()
    assert item.webhook == "helpdesk:desk/101" and item.delivery is None
    # a queue that does not know the knowledge base's sources (no notes writer) records why it sent nothing
    approved = queue.approve(item.id, "ann")
    assert approved.status == "approved" and approved.delivery is not None
    assert approved.delivery.startswith("failed: the help desk is written to by docket serve")


# ---------------------------------------------------------------------- the webhook step

HOOK = """
version: 1
name: hook
steps:
  - id: hook
    kind: webhook
    url: "{{ params.url }}/tickets/{{ inputs.id }}"
    body: "{'reply': inputs.text}"
    headers:
      Authorization: "Bearer {{ env.HELPDESK_TOKEN }}"
      X-Docket: "{{ env.DOCKET_HOOK_KEY }}"
    env: [HELPDESK_TOKEN]
"""


def test_webhook_posts_the_body_with_headers_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_TOKEN", "s3cret-token")
    monkeypatch.setenv("DOCKET_HOOK_KEY", "k-123")
    with receiver() as hook:
        hook.statuses = [503]  # one retry on a 5xx answer
        runs = tmp_path / "runs"
        summary = run_workflow(
            parse_workflow(HOOK),
            _jsonl(tmp_path, {"id": 9, "text": "Done"}),
            params={"url": hook.url},
            runs_dir=runs,
            allow_private_hosts=["127.0.0.1"],
        )
    assert summary.failed == []
    assert summary.results == [{"line": 1, "status": 200, "body": {"ok": True, "ticket": 7}}]
    assert len(hook.requests) == 2
    sent = hook.requests[1]
    assert sent["path"] == "/tickets/9" and sent["body"] == {"reply": "Done"}
    assert sent["headers"]["Authorization"] == "Bearer s3cret-token" and sent["headers"]["X-Docket"] == "k-123"
    log = next(runs.glob("*.jsonl")).read_text()
    assert "s3cret-token" not in log and "k-123" not in log


def test_webhook_fails_the_item_on_an_error_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_TOKEN", "s3cret-token")
    with receiver() as hook:
        hook.statuses = [404, 500, 500]
        flow = parse_workflow(HOOK.replace('      X-Docket: "{{ env.DOCKET_HOOK_KEY }}"\n', ""))
        source = _jsonl(tmp_path, {"id": 1, "text": "a"}, {"id": 2, "text": "b"})
        summary = run_workflow(flow, source, params={"url": hook.url}, allow_private_hosts=["127.0.0.1"])
    errors = [f["error"] for f in summary.failed]
    assert len(errors) == 2 and "s3cret-token" not in " ".join(errors)
    assert "step 'hook' (webhook): POST " in errors[0] and "/tickets/1 answered HTTP 404" in errors[0]
    assert "/tickets/2 answered HTTP 500" in errors[1]
    assert len(hook.requests) == 3  # no retry after a 404, one after a 500


def test_webhook_needs_the_listed_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPDESK_TOKEN", raising=False)
    summary = run_workflow(parse_workflow(HOOK), _jsonl(tmp_path, {"id": 1, "text": "a"}), params={"url": "http://x"})
    assert "set the environment variable(s) HELPDESK_TOKEN" in summary.failed[0]["error"]


def test_webhook_reads_no_unlisted_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "do-not-send")
    flow = parse_workflow(
        "version: 1\nname: h\nsteps:\n  - id: h\n    kind: webhook\n    url: http://127.0.0.1:9/x\n"
        "    headers: {X-Key: '{{ env.SECRET_KEY }}'}\n"
    )
    summary = run_workflow(flow, _jsonl(tmp_path, {"id": 1}))
    error = summary.failed[0]["error"]
    assert "header 'X-Key': the template does not render" in error and "do-not-send" not in error


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "ftp://127.0.0.1/x",
    ],
)
def test_link_local_and_metadata_addresses_are_refused(url: str) -> None:
    with pytest.raises(StepFailed):
        check_url(url)


def test_loopback_and_private_addresses_need_the_allow_list() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://localhost/x", "http://[::1]/x"):
        with pytest.raises(StepFailed, match=r"network\.allow_private_hosts"):
            check_url(url)
    assert check_url("http://127.0.0.1:8080/hook", allowed=["127.0.0.1"]) == "http://127.0.0.1:8080/hook"
    assert check_url("http://10.1.2.3/hook", allowed=["10.1.0.0/16"]) == "http://10.1.2.3/hook"
    with pytest.raises(StepFailed):
        check_url("http://10.1.2.3/hook", allowed=["10.1.2.3:8443"])  # another port


# ---------------------------------------------------------------------- support-reply


def _support(kb: KnowledgeBase, tmp_path: Path, queue: ReviewQueue, **params: str) -> Any:
    data = tmp_path / "ticket.jsonl"
    data.write_text(json.dumps({"subject": "Returning a jacket", "text": "How many days do I have to return it?"}))
    return run_workflow(
        resolve_workflow("support-reply"),
        str(data),
        model=FakeChatModel(replies=["neutral", DRAFT]),
        kb=lambda: kb,
        reviews=queue,
        params=params,
        allow_private_hosts=["127.0.0.1"],  # the test's receiver; an intranet help desk would be listed too
    )


def test_support_reply_parks_its_draft_for_review(
    support_kb: KnowledgeBase,  # noqa: F811
    tmp_path: Path,
    queue: ReviewQueue,
) -> None:
    summary = _support(support_kb, tmp_path, queue)
    assert summary.failed == []
    [result] = summary.results
    item = queue.get(result["review_id"])  # type: ignore[index]
    assert item.status == "pending" and item.title == "Returning a jacket" and item.workflow == "support-reply"
    assert item.draft["draft"] == result["draft"] and item.draft["citations"]  # type: ignore[index]
    assert item.webhook is None


def test_support_reply_without_review_parks_nothing(
    support_kb: KnowledgeBase,  # noqa: F811
    tmp_path: Path,
    queue: ReviewQueue,
) -> None:
    summary = _support(support_kb, tmp_path, queue, review="false")
    assert summary.failed == [] and summary.results[0]["review_id"] is None  # type: ignore[index]
    assert queue.find() == []


def test_support_reply_sends_the_edited_reply_to_its_webhook(
    support_kb: KnowledgeBase,  # noqa: F811
    tmp_path: Path,
    queue: ReviewQueue,
) -> None:
    with receiver() as hook:
        queue.allow_private_hosts = ("127.0.0.1",)
        summary = _support(support_kb, tmp_path, queue, reply_webhook=f"{hook.url}/tickets/5/reply")
        review_id = summary.results[0]["review_id"]  # type: ignore[index]
        draft = queue.get(review_id).draft
        assert hook.requests == []  # nothing is sent before a person approves
        final = {**draft, "draft": draft["draft"] + " Kind regards, Olive"}
        item = queue.approve(review_id, "olive@example.com", final=final)
    assert item.status == "edited" and item.delivery == "sent: HTTP 200"
    assert [r["body"]["draft"] for r in hook.requests] == [final["draft"]]
    assert hook.requests[0]["body"]["citations"] == draft["citations"]


def test_a_failed_delivery_is_recorded_and_keeps_the_approval(queue: ReviewQueue) -> None:
    with receiver() as hook:
        hook.statuses = [500, 500]
        queue.allow_private_hosts = ("127.0.0.1",)
        review_id = queue.add("w", {"text": "hi"}, webhook=f"{hook.url}/x")
        item = queue.approve(review_id, "ann")
    assert item.status == "approved" and item.delivery is not None
    assert item.delivery.startswith("failed: POST http://127.0.0.1:") and "answered HTTP 500" in item.delivery
