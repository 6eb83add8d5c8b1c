"""The server's background queues: a thread that claims work from a queue in the accounts
database, does it, and sleeps until woken or until the next poll when there is none.

Upload jobs (:mod:`docket.server.jobs`) and workflow runs (:mod:`docket.server.runs`) are both
:class:`QueueThread` subclasses. On start, items a stopped server left half done are queued again
(``requeue``). With the accounts in PostgreSQL several servers share a queue: each item is claimed
by one of them and leased while it runs (:func:`renewing`), and an item whose server stopped
renewing is taken over by another once its lease runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from docket.config import Settings
from docket.kb import KnowledgeBase
from docket.server.accounts import Accounts

__all__ = ["QueueThread", "renewing"]


@contextmanager
def renewing(renew: Callable[[], None] | None, every: float) -> Iterator[None]:
    """Call ``renew()`` every ``every`` seconds in a thread while the block runs (a lease's
    heartbeat); nothing when ``renew`` is None."""
    if renew is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            try:
                renew()
            except Exception:  # a missed beat is retried; the lease outlives a few of them
                continue

    thread = threading.Thread(target=beat, name="docket-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class QueueThread:
    """One background thread working through a queue, one item at a time, in order."""

    thread_name = "docket-queue"

    def __init__(self, kb: KnowledgeBase, accounts: Accounts, settings: Settings, poll_seconds: float = 0.2) -> None:
        self.kb, self.accounts, self.settings = kb, accounts, settings
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # what a queue defines
    def requeue(self) -> None:
        """Queue again what a stopped server left half done (on start)."""
        raise NotImplementedError

    def claim(self) -> dict[str, Any] | None:
        """The next item, now this server's; None when the queue is empty."""
        raise NotImplementedError

    def work(self, item: dict[str, Any]) -> None:
        """Do one claimed item; must not raise (record the failure on the item instead)."""
        raise NotImplementedError

    # the thread
    def start(self) -> None:
        self.requeue()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the queue now (something was just queued) instead of at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self.claim()
            if item is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self.work(item)
