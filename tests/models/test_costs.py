"""Cost from the price table and budgets that refuse a call before anything is sent."""

from __future__ import annotations

import time

import pytest

from docket.config import load_settings
from docket.errors import BudgetExceededError
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from docket.models.costs import usage_cost
from docket.types import Usage
from tests.conftest import DEMO


def test_usage_cost_uses_the_price_per_million_tokens() -> None:
    assert usage_cost(Usage(1_000_000, 500_000), [0.15, 0.6]) == pytest.approx(0.45)
    assert usage_cost(Usage(10, 10), None) is None


@pytest.fixture
def kb(tmp_path, minilm):
    settings = load_settings(
        home=tmp_path / "kb",
        overrides={"model": {"prices": {"fake:fake": [100.0, 200.0]}, "daily_budget": 1.0}},
        environ={},
    )
    k = KnowledgeBase(settings, embedder=minilm)
    k.ingest([str(DEMO / "Benefits and Perks")])
    yield k
    k.close()


def test_answers_carry_their_cost_and_the_log_adds_it_up(kb) -> None:
    answer = kb.ask("How long is the sabbatical?", model=FakeChatModel())
    assert answer.usage is not None and answer.usage.cost is not None and answer.usage.cost > 0
    assert kb.ledger.spent_since(time.time() - 60) == pytest.approx(answer.usage.cost)


def test_a_call_that_would_pass_the_budget_is_refused_before_sending(kb) -> None:
    model = FakeChatModel()
    for _ in range(30):  # about $0.1 a call at these prices: the $1 budget is reached within a dozen calls
        try:
            kb.ask("How long is the sabbatical?", model=model)
        except BudgetExceededError as err:
            assert "daily model budget of $1.00" in str(err) and "model.daily_budget" in str(err)
            break
    else:
        pytest.fail("the budget was never enforced")
    sent = len(model.prompts)
    with pytest.raises(BudgetExceededError):
        kb.ask("How long is the sabbatical?", model=model)
    assert len(model.prompts) == sent  # refused before the model saw anything
