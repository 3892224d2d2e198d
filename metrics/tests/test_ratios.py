"""Success rate, review rate and cost per call: one definition each, used by the daily rows and the pages."""

from datetime import date
from decimal import Decimal

import pytest

from metrics import ratios
from metrics.models import PromptPerformanceDaily
from metrics.services import rollup_prompt_metrics
from metrics.tests.helpers import at, make_version, prompt_call

DAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("ratio", "counts", "expected"),
    [
        (ratios.success_rate, {"successes": 55, "calls": 100}, 0.55),
        (ratios.review_rate, {"reviews": 3, "calls": 12}, 0.25),
        (ratios.cost_per_call, {"cost_usd": Decimal("0.10000001"), "calls": 7}, Decimal("0.10000001") / 7),
        (ratios.success_rate, {"successes": 0, "calls": 0}, None),
        (ratios.review_rate, {"reviews": 0, "calls": 0}, None),
        (ratios.cost_per_call, {"cost_usd": Decimal(0), "calls": 0}, None),
    ],
)
def test_a_ratio_divides_summed_counts_and_is_none_without_calls(ratio, counts, expected):
    assert ratio(**counts) == expected


def test_cost_per_call_stays_an_exact_decimal():
    assert isinstance(ratios.cost_per_call(cost_usd=Decimal("0.00000001"), calls=3), Decimal)


@pytest.mark.django_db
def test_a_daily_row_gives_the_ratios_of_its_counts():
    version = make_version()
    prompt_call(version, at(DAY, 9), cost="0.00100000", success=True, needs_review=False)
    prompt_call(version, at(DAY, 10), cost="0.00200000", success=False, needs_review=True)
    prompt_call(version, at(DAY, 11), cost="0.00000001", success=True, needs_review=False)
    rollup_prompt_metrics(day=DAY)
    row = PromptPerformanceDaily.objects.get(prompt_version=version, date=DAY)
    assert (row.success_rate, row.review_rate) == (2 / 3, 1 / 3)
    assert row.cost_per_call_usd == Decimal("0.00300001") / 3
