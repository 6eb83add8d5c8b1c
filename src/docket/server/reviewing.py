"""The review queue as each caller may see it: the drafts workflows parked for a person, approved
(as is or edited) or rejected — see :mod:`docket.workflows.review`.

Who may see and decide an item: members (any role) of the item's workspace who may read every
document the draft was built from (:class:`~docket.server.permissions.DocumentGate`), and the
owner and server admins; an item without a workspace only the owner and admins whose key is not
narrowed to some workspaces. Anyone else gets a 404, so an item's existence stays private. Every
decision is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from docket.accounts import Accounts
from docket.accounts.principal import Principal
from docket.config import Settings
from docket.errors import NotFoundError
from docket.kb import KnowledgeBase
from docket.server.permissions import DocumentGate
from docket.workflows.review import ReviewItem, ReviewQueue

__all__ = ["Reviewing"]


class Reviewing:
    def __init__(self, kb: KnowledgeBase, accounts: Accounts, settings: Settings) -> None:
        self.kb, self.accounts, self.settings = kb, accounts, settings

    @contextmanager
    def _queue(self) -> Iterator[ReviewQueue]:
        private_hosts = tuple(self.settings.network.allow_private_hosts)
        if self.accounts.shared:  # PostgreSQL: the reviews live with the accounts, on their connection pool
            shared = ReviewQueue(self.accounts.db, owned=False)
            shared.allow_private_hosts = private_hosts
            shared.notes = self._note
            yield shared
            return
        with ReviewQueue.for_home(self.settings.home) as queue:
            queue.allow_private_hosts = private_hosts
            queue.notes = self._note
            yield queue

    def _note(self, item: ReviewItem, text: str) -> str:
        """An approved draft to its help-desk ticket as an internal note (docs/helpdesk.md), when
        everyone who reads the ticket may read what the draft was built from."""
        from docket.ingest.sources.helpdesk import write_note

        return write_note(self.kb.store, item.webhook or "", text, workspace=item.workspace, documents=item.documents)

    @staticmethod
    def _scope(caller: Principal) -> tuple[list[str] | None, bool]:
        """(the workspaces whose items the caller sees, None: all; whether items without one too)."""
        if caller.is_server_admin:
            return None, True
        return list(caller.workspaces or ()), False

    @staticmethod
    def _allowed(caller: Principal, gate: DocumentGate, item: ReviewItem) -> bool:
        if item.workspace is None:
            return caller.is_server_admin
        return caller.role_in(item.workspace) is not None and gate.may_read_all(item.documents, item.workspace)

    def _visible(self, caller: Principal, item: ReviewItem) -> ReviewItem:
        if not self._allowed(caller, DocumentGate(self.kb.store, caller), item):
            raise NotFoundError(f"no review {item.id}")
        return item

    def find(self, caller: Principal, status: str | None, workflow: str | None, limit: int) -> list[ReviewItem]:
        """The drafts the caller may see, newest first."""
        workspaces, unscoped = self._scope(caller)
        with self._queue() as queue:
            items = queue.find(status, workflow, workspaces, unscoped=unscoped, limit=limit)
        gate = DocumentGate(self.kb.store, caller)
        return [i for i in items if self._allowed(caller, gate, i)]

    def stats(self, caller: Principal, workflow: str | None) -> Any:
        workspaces, unscoped = self._scope(caller)
        with self._queue() as queue:
            return queue.stats(workflow, workspaces, unscoped=unscoped)

    def get(self, caller: Principal, review_id: int) -> ReviewItem:
        with self._queue() as queue:
            return self._visible(caller, queue.get(review_id))

    def approve(self, caller: Principal, review_id: int, final: Any, comment: str) -> ReviewItem:
        """Approve a draft the caller may see, as is or edited (``final``), and audit it."""
        with self._queue() as queue:
            self._visible(caller, queue.get(review_id))
            item = queue.approve(review_id, caller.name, final=final, comment=comment)
        self.accounts.audit.record(
            caller.name,
            f"review.{item.status}",
            f"review:{review_id}",
            workflow=item.workflow,
            workspace=item.workspace,
            edit_size=item.edit_size,
            delivery=item.delivery,
        )
        return item

    def reject(self, caller: Principal, review_id: int, reason: str) -> ReviewItem:
        """Reject a draft the caller may see (nothing is sent), and audit it."""
        with self._queue() as queue:
            self._visible(caller, queue.get(review_id))
            item = queue.reject(review_id, caller.name, reason)
        self.accounts.audit.record(
            caller.name,
            "review.rejected",
            f"review:{review_id}",
            workflow=item.workflow,
            workspace=item.workspace,
            reason=item.comment,
        )
        return item
