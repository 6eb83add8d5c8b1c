"""What answers cost, per workspace: a workspace's daily model budget and the usage report.

The answers themselves (their tokens and cost) are in the knowledge base's answer log; which
workspaces each was asked in is in :class:`~docket.accounts.answers.Answers`. A budget check first
asks the log for the sum spent today by every workspace together (one SQL ``SUM``): while that is
under the budget no workspace can be over it, so the common case reads nothing else. Only past it
are today's answers read, newest first, and their workspaces looked up in batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from docket.accounts.answers import Answers
from docket.accounts.workspaces import Workspaces
from docket.errors import BudgetExceededError

__all__ = ["AnswerLog", "Budgets"]

_PAGE = 500
USAGE_LIMIT = 100_000  # answers the usage report reads at most


class AnswerLog(Protocol):
    """What budgets read of the knowledge base's answer log."""

    def answer_logs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]: ...

    def spent_since(self, timestamp: float) -> float: ...


class Budgets:
    def __init__(self, workspaces: Workspaces, answers: Answers) -> None:
        self._workspaces, self._answers = workspaces, answers

    def check(self, workspace: str, log: AnswerLog, now: dt.datetime | None = None) -> None:
        """BudgetExceededError when ``workspace`` has spent its daily budget (if it has one)."""
        budget = self._workspaces.settings(workspace).daily_budget
        if budget is None:
            return
        since = (now or dt.datetime.now()).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        if self.spent(workspace, since, log, up_to=budget) >= budget:
            raise BudgetExceededError(
                f"the workspace '{workspace}' has spent its daily model budget of ${budget:.2f}; "
                "an admin can raise daily_budget in the workspace settings"
            )

    def spent(self, workspace: str, since: float, log: AnswerLog, up_to: float | None = None) -> float:
        """USD spent on answers asked in ``workspace`` since ``since``; with ``up_to``, a figure
        under it means only "less than ``up_to``" (the total of every workspace, read cheaply)."""
        if up_to is not None and up_to > 0:
            total = log.spent_since(since)
            if total < up_to:
                return total
        spent = 0.0
        for page in _pages(log, lambda record: record["at"] >= since):
            owners = self._answers.owners(r["id"] for r in page)
            for record in page:
                owner = owners.get(record["id"])
                if owner is not None and owner[1] and workspace in owner[1]:
                    spent += record["cost"] or 0.0
        return spent

    def usage(self, log: AnswerLog, visible: Callable[[str], bool]) -> dict[str, dict[str, float]]:
        """Answers, abstentions, tokens and cost per workspace (``(all)``: asked with access to every
        workspace; ``(command line)``: not asked through the server), for the workspaces ``visible``."""
        per: dict[str, dict[str, float]] = {}
        for page in _pages(log, lambda _: True, limit=USAGE_LIMIT):
            owners = self._answers.owners(r["id"] for r in page)
            for record in page:
                owner = owners.get(record["id"])
                scopes = (owner[1] if owner[1] else ["(all)"]) if owner else ["(command line)"]
                for ws in scopes:
                    if not visible(ws):
                        continue
                    row = per.setdefault(
                        ws, {"answers": 0, "abstained": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
                    )
                    row["answers"] += 1
                    row["abstained"] += int(record["abstained"])
                    row["prompt_tokens"] += record["prompt_tokens"]
                    row["completion_tokens"] += record["completion_tokens"]
                    row["cost"] += record["cost"] or 0.0
        return per


def _pages(
    log: AnswerLog, keep: Callable[[dict[str, Any]], bool], limit: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The log's answers newest first, a page at a time, while ``keep`` holds (at most ``limit``)."""
    offset = 0
    while limit is None or offset < limit:
        size = _PAGE if limit is None else min(_PAGE, limit - offset)
        records = log.answer_logs(limit=size, offset=offset)
        kept = [r for r in records if keep(r)]
        if kept:
            yield kept
        if len(kept) < len(records) or len(records) < size:
            return
        offset += size
