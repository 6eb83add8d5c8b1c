"""Outbound requests a user or an admin sets (reply_webhook, then_webhook, a webhook step) never
reach loopback, private, link-local or metadata addresses unless an admin listed them in
``network.allow_private_hosts``, and never echo what the other side answered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from docket.workflows.review import ReviewQueue
from tests.scripted_model import ScriptedModel
from tests.server.conftest import Server
from tests.server.test_workflows_api import model, srv  # noqa: F401 (fixtures)
from tests.workflows.test_review import receiver

TARGETS = [
    "http://127.0.0.1:{port}/internal",
    "http://localhost:{port}/internal",
    "http://10.0.0.7/admin",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/internal",
]


@pytest.mark.parametrize("target", TARGETS)
def test_a_reply_webhook_to_an_internal_address_is_refused(
    srv: Server,  # noqa: F811
    model: ScriptedModel,  # noqa: F811
    target: str,
) -> None:
    with receiver() as hook:
        url = target.format(port=hook.url.rsplit(":", 1)[1])
        model.replies[:] = ["neutral", "Refunds are issued within 14 days of the return [1]."]
        r = srv.client.post(
            "/api/workflows/support-reply/runs?wait=true",
            json={
                "input": {"subject": "Refund", "text": "How long do refunds take?"},
                "workspace": "support",
                "params": {"reply_webhook": url},
            },
            headers=srv.as_("ann"),
        )
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["summary"]["ok"] == 0 and len(run["summary"]["failed"]) == 1
        assert "webhooks may not call it" in run["summary"]["failed"][0]["error"]
    assert hook.requests == []


def test_a_then_webhook_is_never_delivered_to_loopback_and_never_echoes_the_answer(tmp_path: Path) -> None:
    with receiver() as hook, ReviewQueue(tmp_path / "reviews.db") as queue:
        hook.statuses = [500, 500]
        hook.reply = b"INTERNAL-SECRET-BODY " * 20
        parked = queue.add("support-reply", {"draft": "hi"}, webhook=f"{hook.url}/reply")
        refused = queue.approve(parked, "ann@example.com")
        assert refused.delivery is not None and refused.delivery.startswith("failed:")
        assert "network.allow_private_hosts" in refused.delivery
        assert hook.requests == []
        queue.allow_private_hosts = ("127.0.0.1",)  # an admin lists the intranet help desk
        listed = queue.add("support-reply", {"draft": "hi"}, webhook=f"{hook.url}/reply")
        failed = queue.approve(listed, "ann@example.com")
    assert len(hook.requests) == 2  # delivered (one retry after a 500)
    assert failed.delivery is not None and "answered HTTP 500" in failed.delivery
    assert "INTERNAL-SECRET-BODY" not in failed.delivery


def test_a_host_name_is_resolved_and_checked_and_the_checked_address_is_used() -> None:
    from docket.workflows.review_steps import post_json
    from docket.workflows.steps import StepFailed

    with pytest.raises(StepFailed, match="loopback"):
        post_json("http://localhost:9/x", {"a": 1})
    with receiver() as hook:
        port = hook.url.rsplit(":", 1)[1]
        with pytest.raises(StepFailed, match=r"network\.allow_private_hosts"):
            post_json(f"http://127.0.0.1:{port}/x", {"a": 1}, allowed=["127.0.0.1:1"])  # another port
        status, _ = post_json(f"http://localhost:{port}/x", {"a": 1}, allowed=["localhost"])
        assert status == 200 and len(hook.requests) == 1


def test_the_allow_list_is_a_setting(tmp_path: Path) -> None:
    from docket.config import load_settings

    settings: Any = load_settings(
        home=tmp_path, environ={"DOCKET_NETWORK__ALLOW_PRIVATE_HOSTS": "helpdesk.internal:8443, 10.1.0.0/16"}
    )
    assert settings.network.allow_private_hosts == ["helpdesk.internal:8443", "10.1.0.0/16"]
    queue = ReviewQueue.for_settings(settings)
    try:
        assert queue.allow_private_hosts == ("helpdesk.internal:8443", "10.1.0.0/16")
    finally:
        queue.close()
