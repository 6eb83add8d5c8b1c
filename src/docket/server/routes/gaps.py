"""Knowledge gaps: the questions Docket answered badly (abstained, low confidence, rated not
helpful), grouped by topic — see :mod:`docket.evals.gaps`.

The owner and server admins see every logged question; a workspace admin sees only the questions
recorded for the workspaces they administer (:meth:`~docket.server.answering.Answering.gaps_filter`).
Anyone else gets a 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from docket.evals.gaps import DEFAULT_MIN_CONFIDENCE, DEFAULT_THRESHOLD
from docket.server.deps import CallerDep, state

router = APIRouter(prefix="/api", tags=["answers"])


@router.get("/gaps", summary="Topics people ask about that the documents do not answer well (admins)")
def gaps(
    request: Request,
    c: CallerDep,
    workspace: str | None = None,
    since: Annotated[float | None, Query(description="Only questions asked after this POSIX time.")] = None,
    min_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = DEFAULT_MIN_CONFIDENCE,
    threshold: Annotated[float, Query(gt=0.0, le=1.0)] = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    report = state(request).answering.gaps(c, workspace, since, min_confidence, threshold)
    return {"workspace": workspace, **report}
