"""The canary monitor (evaluation.services.rollouts_check) on constructed live metrics."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from evaluation.selectors import rollout_arms
from evaluation.sequential import COST, EARLY_FAILURE, FAILURE_RATE, PROMOTE, ROLL_BACK, RolloutRule
from evaluation.services import rollout_check, rollouts_check
from evaluation.tests.calls import record_calls
from prompts.models import PromptActivation, PromptRollout
from prompts.services import MONITOR, rollout_stop
from prompts.tests.validators import gate

pytestmark = pytest.mark.django_db


def arms(rollout, *, baseline, candidate, baseline_failures, candidate_failures, candidate_cost="0.004"):
    """Interleaved calls of both arms since the rollout started: the baseline's every 1 s, the candidate's spread."""
    start = rollout.started_at + timedelta(milliseconds=1)
    record_calls(rollout.baseline, calls=baseline, failures=baseline_failures, start=start)
    record_calls(
        rollout.candidate, calls=candidate, failures=candidate_failures, start=start,
        spacing=timedelta(seconds=baseline / candidate), cost=candidate_cost,
    )


def later():
    return timezone.now() + timedelta(hours=2)


def test_a_clear_failure_rate_regression_is_rolled_back(rollout):
    arms(rollout, baseline=800, candidate=200, baseline_failures=40, candidate_failures=30)
    [decision] = rollouts_check(now=later())
    assert (decision.action, decision.figures["trigger"]) == (ROLL_BACK, FAILURE_RATE)
    rollout.refresh_from_db()
    assert (rollout.state, rollout.ended_by) == ("rolled_back", MONITOR)
    assert rollout.end_reason.startswith("failure rate regression: candidate 15.0% of 200 calls, baseline 5.0% of 800")
    assert rollout.figures["candidate"]["failures"] == 30 and rollout.figures["baseline"]["calls"] == 800
    assert rollout.baseline.is_active


def test_equal_arms_are_not_rolled_back(rollout):
    arms(rollout, baseline=800, candidate=200, baseline_failures=40, candidate_failures=10)
    assert rollouts_check(now=later()) == []
    rollout.refresh_from_db()
    assert rollout.state == "running"


def test_a_candidate_failing_half_of_its_first_20_calls_is_rolled_back_at_once(rollout):
    arms(rollout, baseline=80, candidate=20, baseline_failures=4, candidate_failures=10)
    [decision] = rollouts_check(now=later())
    assert decision.figures["trigger"] == EARLY_FAILURE
    # The 20th candidate call came at 76 s, when the baseline had made 77 calls.
    assert decision.reason == (
        "the candidate failed 10 of its first 20 calls (the baseline 4 of 77 over the same period)"
    )


def test_a_candidate_half_again_as_dear_is_rolled_back_on_cost(rollout):
    arms(rollout, baseline=400, candidate=100, baseline_failures=20, candidate_failures=5, candidate_cost="0.006")
    [decision] = rollouts_check(now=later())
    assert decision.figures["trigger"] == COST
    assert decision.figures["candidate"]["cost_per_call_usd"] > decision.figures["baseline"]["cost_per_call_usd"]


def test_a_candidate_without_regression_is_promoted_after_the_configured_calls(rollout, settings):
    settings.PROMPT_ROLLOUT_PROMOTE_AFTER_CALLS = 100
    arms(rollout, baseline=396, candidate=99, baseline_failures=20, candidate_failures=5)
    assert rollouts_check(now=later()) == []
    arms(rollout, baseline=4, candidate=1, baseline_failures=0, candidate_failures=0)
    [decision] = rollouts_check(now=later())
    assert decision.action == PROMOTE
    assert decision.reason.startswith("no regression after 100 candidate calls")
    rollout.refresh_from_db()
    assert (rollout.state, rollout.candidate.is_active) == ("promoted", True)
    activation = PromptActivation.objects.get(to_version=rollout.candidate)
    assert (activation.kind, activation.activated_by, activation.rollout) == ("promote", MONITOR, rollout)


def test_only_calls_since_the_start_count(rollout):
    record_calls(rollout.baseline, calls=200, failures=0, start=rollout.started_at - timedelta(days=1))
    arms(rollout, baseline=100, candidate=25, baseline_failures=5, candidate_failures=1)
    baseline, candidate, _ = rollout_arms(rollout=rollout, early_calls=20, until=later())
    assert (baseline.calls, baseline.failures, candidate.calls) == (100, 5, 25)


def test_calls_after_now_are_not_judged(rollout):
    arms(rollout, baseline=800, candidate=200, baseline_failures=40, candidate_failures=30)
    assert rollouts_check(now=rollout.started_at + timedelta(seconds=30)) == []


def test_the_early_window_compares_the_baseline_over_the_same_period(rollout):
    start = rollout.started_at + timedelta(milliseconds=1)
    record_calls(rollout.candidate, calls=30, failures=0, start=start, spacing=timedelta(seconds=10))
    record_calls(rollout.baseline, calls=500, failures=0, start=start)
    _, _, early = rollout_arms(rollout=rollout, early_calls=20, until=later())
    # The 20th candidate call is at 190 s: the baseline's calls up to then.
    assert (early.candidate_calls, early.baseline_calls) == (20, 191)


def test_a_decision_is_mailed_once_and_the_next_check_leaves_the_ended_canary_alone(
    rollout, settings, django_capture_on_commit_callbacks
):
    settings.PROMPT_ALERT_EMAILS = ["leitung@kanzlei.example"]
    arms(rollout, baseline=80, candidate=20, baseline_failures=4, candidate_failures=12)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(rollouts_check(now=later())) == 1
        assert rollouts_check(now=later()) == []
    [message] = mail.outbox
    assert message.subject == f"[prompts] Canary rolled back: {rollout.candidate} (20 %)"
    assert "failed 12 of its first 20 calls" in message.body


def test_a_canary_an_operator_stopped_meanwhile_is_left_alone(rollout):
    arms(rollout, baseline=80, candidate=20, baseline_failures=4, candidate_failures=12)
    stale = PromptRollout.objects.get(pk=rollout.pk)
    rollout_stop(rollout=rollout, stopped_by="olga", reason="Saw it myself")
    assert rollout_check(rollout=stale, rule=RolloutRule(), now=later()) is None
    rollout.refresh_from_db()
    assert (rollout.state, rollout.ended_by) == ("stopped", "olga")


def test_a_promotion_the_gate_refuses_stops_the_canary_with_the_reason(rollout, settings):
    settings.PROMPT_ROLLOUT_PROMOTE_AFTER_CALLS = 50
    arms(rollout, baseline=200, candidate=50, baseline_failures=10, candidate_failures=2)
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    [decision] = rollouts_check(now=later())
    assert decision.action == "stop"
    rollout.refresh_from_db()
    assert rollout.state == "stopped" and rollout.baseline.is_active
    assert "the activation gate refused the promotion: v2 is above v1" in rollout.end_reason
    assert rollout.figures["candidate"]["calls"] == 50
