"""Raw metric rows for the monitor's tests: calls of one version, a given number of them failed."""

from datetime import timedelta
from decimal import Decimal

from metrics.models import PromptPerformanceMetrics

# The three ways a call fails: the API failed, the answer was not usable JSON, it went to manual review.
FAILURE_KINDS = (
    {"success": False, "needs_review": False, "input_tokens": 0, "output_tokens": 0},
    {"success": False, "needs_review": True},
    {"success": True, "needs_review": True},
)


def record_calls(version, *, calls, failures, start, cost="0.004", spacing=timedelta(seconds=1)):
    """`calls` rows of `version` from `start` on, `spacing` apart; failures spread evenly and of every kind."""
    failed = {round(i * calls / failures) for i in range(failures)} if failures else set()
    rows = []
    for i in range(calls):
        fields = {"success": True, "needs_review": False, "input_tokens": 1200, "output_tokens": 150}
        if i in failed:
            fields.update(FAILURE_KINDS[len(rows) % len(FAILURE_KINDS)])
        # Costs vary around `cost` (±25 %) as real calls do; an API failure costs nothing.
        call_cost = Decimal(cost) * Decimal(75 + (i * 37) % 51) / 100 if fields["input_tokens"] else Decimal(0)
        rows.append(PromptPerformanceMetrics(
            prompt_version=version, cost_usd=call_cost.quantize(Decimal("0.00000001")), execution_time_ms=900,
            confidence=0.9, recorded_at=start + spacing * i, **fields,
        ))
    PromptPerformanceMetrics.objects.bulk_create(rows)
    return rows
