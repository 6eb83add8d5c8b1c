"""A streamed answer is worked out in the server's bounded thread pool, not in a thread of its own;
an upload's database and file work is done there too, not on the event loop.

The pool is anyio's default limiter (every sync route runs in it): an answer that took a thread
outside it would let a burst of streamed questions run any number of answers at once. The check
reads the limiter from inside the answer: while it runs, it holds one of the pool's tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from anyio import to_thread

from docket.errors import NotFoundError
from docket.server.routes.answers import _sse


def _events(run: Callable[[Callable[[str], None]], dict[str, Any]]) -> tuple[list[str], list[int]]:
    """The stream's events for ``run``, and the pool's borrowed tokens ``run`` saw."""
    seen: list[int] = []

    async def main() -> list[str]:
        limiter = to_thread.current_default_thread_limiter()

        def answer(stream: Callable[[str], None]) -> dict[str, Any]:
            seen.append(limiter.borrowed_tokens)
            return run(stream)

        response = _sse(answer)
        return [chunk if isinstance(chunk, str) else bytes(chunk).decode() async for chunk in response.body_iterator]

    return anyio.run(main), seen


def test_a_streamed_answer_runs_in_the_bounded_pool_and_ends_with_its_answer() -> None:
    def run(stream: Callable[[str], None]) -> dict[str, Any]:
        stream("Parental leave ")
        stream("is 16 weeks [1].")
        return {"text": "Parental leave is 16 weeks [1]."}

    events, seen = _events(run)
    assert seen == [1]  # the answer held one of the pool's tokens while it ran
    assert [e.split("\n")[0] for e in events] == ["event: token", "event: token", "event: answer"]
    assert events[-1].endswith('"text": "Parental leave is 16 weeks [1]."}\n\n')


def test_a_failing_streamed_answer_ends_with_an_error_event() -> None:
    def run(stream: Callable[[str], None]) -> dict[str, Any]:
        raise NotFoundError("no such workspace")

    events, seen = _events(run)
    assert seen == [1]
    assert len(events) == 1 and events[0].startswith("event: error\n") and "no such workspace" in events[0]


def test_an_upload_does_its_database_and_file_work_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the form streams in on the event loop: the workspace's lookup, keeping the files, the
    job and the audit record run in a worker thread (no running event loop there)."""
    from fastapi.testclient import TestClient

    from docket.config import load_settings
    from docket.server.app import create_app
    from docket.server.routes import documents as routes

    monkeypatch.setenv("DOCKET_EMBEDDER__NAME", "fake")
    app = create_app(load_settings(home=tmp_path / "kb"), start_jobs=False)
    calls: dict[str, bool] = {}  # what ran -> whether it ran on the event loop

    def watched(name: str, work: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                calls[name] = True
            except RuntimeError:
                calls[name] = False
            return work(*args, **kwargs)

        return run

    with TestClient(app) as client:
        st = app.state.docket
        owner = st.accounts.users.create("owner@example.com", "owner-password", "owner")
        key = st.accounts.keys.create(owner.id)[1]
        st.accounts.workspaces.create("support")
        monkeypatch.setattr(st.accounts.workspaces, "get", watched("workspace", st.accounts.workspaces.get))
        monkeypatch.setattr(routes, "keep_uploads", watched("keep files", routes.keep_uploads))
        monkeypatch.setattr(st.jobs, "submit", watched("job", st.jobs.submit))
        monkeypatch.setattr(st.accounts.audit, "record", watched("audit", st.accounts.audit.record))
        reply = client.post(
            "/api/workspaces/support/documents",
            files=[("files", ("leave.md", b"# Leave\n\nParental leave is sixteen weeks."))],
            headers={"Authorization": f"Bearer {key}"},
        )
    assert reply.status_code == 202, reply.text
    assert reply.json()["files"] == [{"name": "leave.md", "stored_as": "leave.md", "status": "added", "reason": None}]
    assert calls == {"workspace": False, "keep files": False, "job": False, "audit": False}
