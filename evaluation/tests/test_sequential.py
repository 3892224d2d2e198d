"""The canary monitor's rule (evaluation.sequential), on constructed figures: no database."""

import math
from decimal import Decimal

import pytest

from evaluation.sequential import (
    CALLS_REACHED,
    CONTINUE,
    COST,
    COST_MIN_CALLS,
    EARLY_FAILURE,
    FAILURE_RATE,
    PROMOTE,
    ROLL_BACK,
    ArmFigures,
    EarlyWindow,
    RolloutRule,
    failure_likelihood_ratio,
    rollout_verdict,
    wilson_interval,
)

RULE = RolloutRule()


def arm(calls, failures, cost_per_call="0.004", spread=0.25):
    """An arm whose calls cost `cost_per_call` on average, spread ± `spread` of it (a realistic variance)."""
    mean = float(cost_per_call)
    return ArmFigures(
        calls=calls, failures=failures, cost_usd=Decimal(cost_per_call) * calls,
        cost_squares=calls * mean * mean * (1 + spread * spread),
    )


def verdict(baseline, candidate, *, early=None, share=0.2, rule=RULE):
    early = early or EarlyWindow(min(candidate.calls, 20), 0, baseline.calls, 0)
    return rollout_verdict(baseline=baseline, candidate=candidate, early=early, share=share, rule=rule)


def test_failures_in_proportion_to_the_traffic_are_no_evidence_of_a_regression():
    assert failure_likelihood_ratio(candidate_failures=0, failures=0, share=0.2) == 1
    assert failure_likelihood_ratio(candidate_failures=10, failures=50, share=0.2) < 1


def test_evidence_grows_with_the_candidates_failures_and_shrinks_with_the_baselines():
    more_on_candidate = failure_likelihood_ratio(candidate_failures=15, failures=30, share=0.2)
    assert more_on_candidate > failure_likelihood_ratio(candidate_failures=10, failures=30, share=0.2)
    assert more_on_candidate > failure_likelihood_ratio(candidate_failures=15, failures=40, share=0.2)


def test_an_equal_candidate_is_falsely_rolled_back_with_probability_at_most_half_alpha_however_often_it_looks():
    # Exact: under "no regression" each failure is the candidate's with probability `share`. Follow the
    # distribution of s (the candidate's failures) over the first 1,000 failures, looking after every one,
    # and add up the probability of every path that crosses the threshold for the first time.
    share, threshold = 0.2, RULE.threshold
    alive = {0: 1.0}
    crossed = 0.0
    for failures in range(1, 1001):
        step = {}
        for s, p in alive.items():
            for s_next, q in ((s + 1, share), (s, 1 - share)):
                step[s_next] = step.get(s_next, 0.0) + p * q
        alive = {}
        for s, p in step.items():
            if failure_likelihood_ratio(candidate_failures=s, failures=failures, share=share) >= threshold:
                crossed += p
            else:
                alive[s] = p
    assert 0 < crossed <= RULE.alpha / 2


def test_a_candidate_failing_three_times_as_often_is_rolled_back_on_the_failure_rate():
    result = verdict(arm(800, 40), arm(200, 30))
    assert (result.action, result.trigger) == (ROLL_BACK, FAILURE_RATE)
    assert "candidate 15.0% of 200 calls, baseline 5.0% of 800 calls" in result.reason
    assert result.figures()["failure_evidence"] >= RULE.threshold


def test_equal_arms_are_not_rolled_back():
    assert verdict(arm(800, 40), arm(200, 10)).action == CONTINUE


def test_a_candidate_failing_half_of_its_first_20_calls_is_rolled_back_at_once():
    result = verdict(arm(60, 3), arm(20, 10), early=EarlyWindow(20, 10, 60, 3))
    assert (result.action, result.trigger) == (ROLL_BACK, EARLY_FAILURE)
    assert result.reason.startswith("the candidate failed 10 of its first 20 calls")


def test_ten_failures_roll_back_before_the_twentieth_call():
    assert verdict(arm(50, 2), arm(12, 10), early=EarlyWindow(12, 10, 50, 2)).trigger == EARLY_FAILURE


def test_nine_failures_in_the_first_20_calls_are_left_to_the_sequential_test():
    result = verdict(arm(80, 4), arm(20, 9), early=EarlyWindow(20, 9, 80, 4))
    assert result.trigger != EARLY_FAILURE


def test_an_outage_that_fails_both_arms_is_not_blamed_on_the_candidate():
    result = verdict(arm(80, 80), arm(20, 20), early=EarlyWindow(20, 20, 80, 80))
    assert result.action == CONTINUE


def test_a_candidate_half_again_as_dear_per_call_is_rolled_back_on_cost():
    result = verdict(arm(400, 20, "0.004"), arm(100, 5, "0.006"))
    assert (result.action, result.trigger) == (ROLL_BACK, COST)
    assert "candidate $0.006000 per call, baseline $0.004000" in result.reason


def test_a_candidate_dearer_within_the_tolerance_is_not_rolled_back():
    result = verdict(arm(1600, 80, "0.004"), arm(400, 20, "0.0048"))
    assert result.action == CONTINUE and result.cost_evidence < 1


def test_the_cost_test_waits_for_enough_calls_on_each_arm_and_can_be_switched_off():
    few = verdict(arm(400, 20, "0.004"), arm(COST_MIN_CALLS - 1, 1, "0.02"))
    assert few.cost_evidence is None and few.action == CONTINUE
    off = verdict(arm(400, 20, "0.004"), arm(100, 5, "0.02"), rule=RolloutRule(cost_tolerance=None))
    assert off.cost_evidence is None and off.action == CONTINUE


def test_identical_costs_on_every_call_still_compare():
    flat = ArmFigures(100, 5, Decimal("0.4"), 100 * 0.004**2)
    dearer = ArmFigures(100, 5, Decimal("0.6"), 100 * 0.006**2)
    assert verdict(flat, dearer).trigger == COST
    assert verdict(dearer, flat).action == CONTINUE


def test_the_candidate_is_promoted_after_the_configured_number_of_calls_without_regression():
    rule = RolloutRule(promote_after_calls=300)
    assert verdict(arm(1196, 60), arm(299, 15), rule=rule).action == CONTINUE
    result = verdict(arm(1200, 60), arm(300, 15), rule=rule)
    assert (result.action, result.trigger) == (PROMOTE, CALLS_REACHED)
    assert result.reason.startswith("no regression after 300 candidate calls")


def test_no_promotion_without_a_baseline_to_compare_with():
    assert verdict(arm(COST_MIN_CALLS - 1, 0), arm(600, 0)).action == CONTINUE


def test_the_figures_record_both_arms_with_intervals_and_cost_per_call():
    figures = verdict(arm(800, 40), arm(200, 30)).figures()
    assert figures["candidate"]["calls"] == 200
    assert figures["candidate"]["failure_rate"] == 0.15
    assert figures["baseline"]["cost_per_call_usd"] == "0.00400000"
    low, high = figures["candidate"]["failure_interval"]
    assert low < 0.15 < high
    assert figures["threshold"] == 200 and figures["share"] == 0.2 and figures["trigger"] == FAILURE_RATE


def test_wilson_interval_of_5_in_100():
    low, high = wilson_interval(5, 100)
    assert math.isclose(low, 0.02154, abs_tol=1e-5) and math.isclose(high, 0.11175, abs_tol=1e-5)
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(
    "options",
    [{"alpha": 0}, {"alpha": 1}, {"promote_after_calls": 0}, {"early_failure_share": 0}, {"cost_tolerance": -0.1}],
)
def test_a_rule_with_impossible_parameters_is_refused(options):
    with pytest.raises(ValueError):
        RolloutRule(**options)


def test_a_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="share"):
        verdict(arm(10, 0), arm(10, 0), share=0)
