"""The review queue over HTTP: the drafts workflows parked for a person, approved (as is or
edited) or rejected here — see :mod:`docket.workflows.review`.

Who may see and decide an item: members (any role) of the item's workspace who may read every
document the draft was built from (:class:`~docket.server.permissions.DocumentGate`), and the
owner and server admins; an item without a workspace only the owner and admins whose key is not
narrowed to some workspaces. Anyone else gets a 404, so an item's existence stays private. Every decision
is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from docket.errors import NotFoundError
from docket.server.auth import Caller
from docket.server.deps import CallerDep, state
from docket.server.permissions import DocumentGate
from docket.workflows.review import ReviewItem, ReviewQueue

router = APIRouter(prefix="/api", tags=["reviews"])


class Approval(BaseModel):
    final: Any = Field(None, description="The edited value; leave out to approve the draft as it is.")
    comment: str = Field("", max_length=2000)


class Rejection(BaseModel):
    reason: str = Field("", max_length=2000)


@contextmanager
def _queue(request: Request) -> Iterator[ReviewQueue]:
    st = state(request)
    if st.accounts.shared:  # PostgreSQL: the reviews live with the accounts, on their connection pool
        shared = ReviewQueue(st.accounts.db, owned=False)
        shared.allow_private_hosts = tuple(st.settings.network.allow_private_hosts)
        yield shared
        return
    with ReviewQueue.for_home(st.settings.home) as queue:
        queue.allow_private_hosts = tuple(st.settings.network.allow_private_hosts)
        yield queue


def _everything(c: Caller) -> bool:
    return c.is_server_admin


def _scope(c: Caller) -> tuple[list[str] | None, bool]:
    """(the workspaces whose items the caller sees, None: all; whether items without one too)."""
    if _everything(c):
        return None, True
    return list(c.workspaces or ()), False


def _allowed(c: Caller, gate: DocumentGate, item: ReviewItem) -> bool:
    """A member of the draft's workspace (or the owner and admins) who may read every document
    the draft was built from."""
    if item.workspace is None:
        return _everything(c)
    return c.role_in(item.workspace) is not None and gate.may_read_all(item.documents, item.workspace)


def _visible(request: Request, c: Caller, item: ReviewItem) -> ReviewItem:
    if not _allowed(c, DocumentGate(state(request).kb.store, c), item):
        raise NotFoundError(f"no review {item.id}")
    return item


@router.get("/reviews", summary="Drafts in the review queue (newest first)")
def list_reviews(
    request: Request,
    c: CallerDep,
    status: Annotated[str | None, Query(description="pending, approved, edited or rejected")] = None,
    workflow: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    workspaces, unscoped = _scope(c)
    with _queue(request) as queue:
        items = queue.find(status or None, workflow or None, workspaces, unscoped=unscoped, limit=limit)
    gate = DocumentGate(state(request).kb.store, c)
    return {"reviews": [i.to_dict() for i in items if _allowed(c, gate, i)]}


@router.get("/reviews/stats", summary="Per workflow: counts, acceptance rate and mean edit size")
def review_stats(request: Request, c: CallerDep, workflow: str | None = None) -> dict[str, Any]:
    workspaces, unscoped = _scope(c)
    with _queue(request) as queue:
        return {"workflows": queue.stats(workflow or None, workspaces, unscoped=unscoped)}


@router.get("/reviews/{review_id}", summary="One draft with its final value and decision")
def get_review(request: Request, c: CallerDep, review_id: int) -> dict[str, Any]:
    with _queue(request) as queue:
        return _visible(request, c, queue.get(review_id)).to_dict()


@router.post("/reviews/{review_id}/approve", summary="Approve a draft, as is or edited (final)")
def approve_review(request: Request, c: CallerDep, review_id: int, body: Approval | None = None) -> dict[str, Any]:
    body = body or Approval()
    with _queue(request) as queue:
        _visible(request, c, queue.get(review_id))
        item = queue.approve(review_id, c.name, final=body.final, comment=body.comment)
    state(request).accounts.audit.record(
        c.name,
        f"review.{item.status}",
        f"review:{review_id}",
        workflow=item.workflow,
        workspace=item.workspace,
        edit_size=item.edit_size,
        delivery=item.delivery,
    )
    return item.to_dict()


@router.post("/reviews/{review_id}/reject", summary="Reject a draft (nothing is sent)")
def reject_review(request: Request, c: CallerDep, review_id: int, body: Rejection | None = None) -> dict[str, Any]:
    body = body or Rejection()
    with _queue(request) as queue:
        _visible(request, c, queue.get(review_id))
        item = queue.reject(review_id, c.name, body.reason.strip())
    state(request).accounts.audit.record(
        c.name,
        "review.rejected",
        f"review:{review_id}",
        workflow=item.workflow,
        workspace=item.workspace,
        reason=item.comment,
    )
    return item.to_dict()
