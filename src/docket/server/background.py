"""The server's background queues: a thread that claims work from a queue in the accounts
database, does it, and sleeps until woken or until the next poll when there is none.

Upload jobs (:mod:`docket.server.jobs`) and workflow runs (:mod:`docket.server.runs`) are both
:class:`QueueThread` subclasses, each naming its table for the one lease queue of
:mod:`docket.work`. On start, items a stopped server left half done are queued again
(``requeue``). With the accounts in PostgreSQL several servers share a queue: each item is claimed
by one of them and leased while it runs (:func:`docket.work.renewing`), and an item whose server stopped
renewing is taken over by another once its lease runs out.
"""

from __future__ import annotations

import threading
from typing import Any

from docket.accounts import Accounts
from docket.config import Settings
from docket.kb import KnowledgeBase
from docket.work import LeaseQueue, Table

__all__ = ["QueueThread"]


class QueueThread:
    """One background thread working through a queue, one item at a time, in order: the items of
    ``table`` in the accounts database, claimed and leased through :class:`docket.work.LeaseQueue`."""

    thread_name = "docket-queue"
    table: Table

    def __init__(self, kb: KnowledgeBase, accounts: Accounts, settings: Settings, poll_seconds: float = 0.2) -> None:
        self.kb, self.accounts, self.settings = kb, accounts, settings
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.queue = LeaseQueue(accounts.db, self.table, lease_seconds=accounts.lease_seconds)

    def requeue(self) -> None:
        """Queue again what a stopped server left half done (on start)."""
        self.queue.requeue_interrupted()

    def claim(self) -> dict[str, Any] | None:
        """The next item, now this server's; None when the queue is empty."""
        key = self.queue.claim()
        return None if key is None else self.load(key)

    # what a queue defines
    def load(self, key: Any) -> dict[str, Any]:
        """The record of the item ``key``."""
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
