"""Knowledge gaps: the questions Docket answered badly (abstained, low confidence, rated not
helpful), grouped by topic — see :mod:`docket.evals.gaps`.

The owner and server admins see every logged question; a workspace admin sees only the questions
recorded for the workspaces they administer (``accounts.answers.owner``). Anyone else gets a 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from docket.errors import ForbiddenError
from docket.evals.gaps import DEFAULT_MIN_CONFIDENCE, DEFAULT_THRESHOLD, find_gaps
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
    st = state(request)
    everything = c.is_server_admin
    if workspace is not None:
        c.require_role(workspace, "admin")
        mine: set[str] | None = {workspace}
    elif everything:
        mine = None
    else:
        mine = {w for w in (c.workspaces or ()) if c.role_in(w) == "admin"}
        if not mine:
            raise ForbiddenError("the knowledge gaps need the admin role in a workspace")

    def keep(record: Mapping[str, Any]) -> bool:
        if mine is None:
            return True
        owner = st.accounts.answers.owner(int(record["id"]))
        scope = owner[1] if owner else None
        return scope is not None and bool(mine & set(scope))

    report = find_gaps(
        st.kb,
        accounts=st.accounts,
        since=since,
        min_confidence=min_confidence,
        threshold=threshold,
        keep=keep,
    )
    return {"workspace": workspace, **report}
