"""The review queue over HTTP: the drafts workflows parked for a person, approved (as is or
edited) or rejected here. Who may see and decide which item is :mod:`docket.server.reviewing`'s
rule; anyone else gets a 404. Every decision is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from docket.server.deps import CallerDep, state

router = APIRouter(prefix="/api", tags=["reviews"])


class Approval(BaseModel):
    final: Any = Field(None, description="The edited value; leave out to approve the draft as it is.")
    comment: str = Field("", max_length=2000)


class Rejection(BaseModel):
    reason: str = Field("", max_length=2000)


@router.get("/reviews", summary="Drafts in the review queue (newest first)")
def list_reviews(
    request: Request,
    c: CallerDep,
    status: Annotated[str | None, Query(description="pending, approved, edited or rejected")] = None,
    workflow: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    items = state(request).reviews.find(c, status or None, workflow or None, limit)
    return {"reviews": [i.to_dict() for i in items]}


@router.get("/reviews/stats", summary="Per workflow: counts, acceptance rate and mean edit size")
def review_stats(request: Request, c: CallerDep, workflow: str | None = None) -> dict[str, Any]:
    return {"workflows": state(request).reviews.stats(c, workflow or None)}


@router.get("/reviews/{review_id}", summary="One draft with its final value and decision")
def get_review(request: Request, c: CallerDep, review_id: int) -> dict[str, Any]:
    return state(request).reviews.get(c, review_id).to_dict()


@router.post("/reviews/{review_id}/approve", summary="Approve a draft, as is or edited (final)")
def approve_review(request: Request, c: CallerDep, review_id: int, body: Approval | None = None) -> dict[str, Any]:
    body = body or Approval()
    return state(request).reviews.approve(c, review_id, body.final, body.comment).to_dict()


@router.post("/reviews/{review_id}/reject", summary="Reject a draft (nothing is sent)")
def reject_review(request: Request, c: CallerDep, review_id: int, body: Rejection | None = None) -> dict[str, Any]:
    body = body or Rejection()
    return state(request).reviews.reject(c, review_id, body.reason.strip()).to_dict()
