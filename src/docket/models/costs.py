"""What model calls cost, from the configured price table, and the budgets that refuse a call.

Prices are USD per million tokens ``[input, output]`` keyed by model spec (``model.prices`` in
``docket.toml``). Spending is the sum of the costs in the knowledge base's answer log since the
start of the current day or month (local time). Before a call, its cost is estimated from the
prompt's length (about 4 characters a token) plus the longest allowed answer; if that would take
spending past a budget, the call is refused before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from docket.errors import BudgetExceededError
from docket.ledger import Ledger
from docket.types import Usage

__all__ = ["check_budget", "estimate_tokens", "usage_cost"]


def usage_cost(usage: Usage, price: Sequence[float] | None) -> float | None:
    if not price:
        return None
    return (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000


def estimate_tokens(text: str) -> int:
    return len(text) // 4 + 1


def check_budget(
    ledger: Ledger,
    estimate: float | None,
    daily: float | None,
    monthly: float | None,
    now: dt.datetime | None = None,
) -> None:
    """Raise BudgetExceededError when spending plus ``estimate`` would pass a budget."""
    if daily is None and monthly is None:
        return
    now = now or dt.datetime.now()
    limits: Mapping[str, tuple[float | None, dt.datetime]] = {
        "daily": (daily, now.replace(hour=0, minute=0, second=0, microsecond=0)),
        "monthly": (monthly, now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)),
    }
    for name, (limit, since) in limits.items():
        if limit is None:
            continue
        spent = ledger.spent_since(since.timestamp())
        if spent + (estimate or 0.0) > limit:
            raise BudgetExceededError(
                f"the {name} model budget of ${limit:.2f} would be exceeded (spent ${spent:.4f}, this call about "
                f"${estimate or 0:.4f}); raise model.{name}_budget in docket.toml, or ask without --model"
            )
