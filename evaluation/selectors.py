"""Reads of the evaluation app: for the canary monitor and its admin page, the live figures of a rollout's
two arms; for experiments, a run's latest finished run and the comparison of two runs.

A call *fails* when it did not succeed (the API failed, or the answer was not schema-valid JSON) or was sent
to manual review. Only calls since the rollout started count (and none after it ended).
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, FloatField, Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext

from config.formatting import format_number, format_percent
from evaluation.figures import field_accuracy
from evaluation.models import ExperimentCaseResult, ExperimentRun
from evaluation.sequential import ArmFigures, EarlyWindow, RolloutRule, rollout_verdict, wilson_interval
from extraction.models import IncomingEmail
from metrics.aggregates import ExactDecimalSum
from metrics.models import PromptPerformanceMetrics
from metrics.selectors import accuracy_since

FAILED = Q(success=False) | Q(needs_review=True)


def rollout_calls(*, rollout, until=None):
    """The raw metric rows of both arms since the rollout started (up to `until`, or its end)."""
    calls = PromptPerformanceMetrics.objects.filter(
        prompt_version__in=[rollout.baseline_id, rollout.candidate_id], recorded_at__gte=rollout.started_at
    )
    end = until or rollout.ended_at
    return calls.filter(recorded_at__lte=end) if end is not None else calls


def rollout_arms(*, rollout, early_calls, until=None):
    """(baseline, candidate, early): each arm's ArmFigures, and the EarlyWindow of the candidate's first calls."""
    totals = {
        row["prompt_version"]: row
        for row in rollout_calls(rollout=rollout, until=until)
        .values("prompt_version")
        .annotate(
            calls=Count("pk"),
            failures=Count("pk", filter=FAILED),
            cost=ExactDecimalSum("cost_usd", decimal_places=8),
            cost_squares=Sum(Cast("cost_usd", FloatField()) * Cast("cost_usd", FloatField())),
        )
        .order_by()
    }
    baseline, candidate = (_arm(totals.get(pk)) for pk in (rollout.baseline_id, rollout.candidate_id))
    return baseline, candidate, _early_window(rollout=rollout, early_calls=early_calls, until=until)


def rollout_comparison(*, rollout, rule=None, until=None):
    """The two arms side by side for the admin, and (while it runs) where the monitor's rule stands."""
    rule = rule or RolloutRule.from_settings(settings)
    baseline, candidate, early = rollout_arms(rollout=rollout, early_calls=rule.early_calls, until=until)
    running = rollout.state == rollout.State.RUNNING
    verdict = (
        rollout_verdict(baseline=baseline, candidate=candidate, early=early, share=rollout.share, rule=rule)
        if running else None
    )
    # Accuracy where operators reviewed the arms' e-mails since the start (not part of the monitor's rule:
    # reviews come hours or days after the calls, the rule needs what every call reports at once).
    accuracy = accuracy_since(
        version_ids=[rollout.baseline_id, rollout.candidate_id], start=rollout.started_at,
        end=until or rollout.ended_at,
    )
    return {
        "arms": [
            _arm_row("Baseline", gettext("Baseline"), rollout.baseline, baseline, 100 - rollout.percent,
                     accuracy[rollout.baseline_id]),
            _arm_row("Candidate", gettext("Candidate"), rollout.candidate, candidate, rollout.percent,
                     accuracy[rollout.candidate_id]),
        ],
        "verdict": verdict,
        "rule": rule,
        "calls_to_promotion": max(rule.promote_after_calls - candidate.calls, 0) if running else None,
    }


def _arm_row(label, title, version, figures, percent, accuracy):
    """`label` names the arm in the page's markup (class "arm-baseline"), `title` in the operator's language."""
    interval = wilson_interval(figures.failures, figures.calls)
    return {
        "accuracy": accuracy,
        "label": label,
        "title": title,
        "version": version,
        "percent": percent,
        "calls": figures.calls,
        "failures": figures.failures,
        "failure_rate": figures.failure_rate,
        "failure_interval": interval,
        "failure_text": "–" if interval is None else gettext("%(rate)s (%(low)s–%(high)s)") % {
            "rate": format_percent(figures.failure_rate), "low": format_number(interval[0] * 100, 1),
            "high": format_percent(interval[1]),
        },
        "cost_per_call": figures.cost_per_call,
    }


def _arm(row):
    if row is None:
        return ArmFigures()
    return ArmFigures(
        calls=row["calls"], failures=row["failures"], cost_usd=row["cost"], cost_squares=row["cost_squares"] or 0.0
    )


def _early_window(*, rollout, early_calls, until):
    calls = rollout_calls(rollout=rollout, until=until)
    first = list(
        calls.filter(prompt_version=rollout.candidate_id)
        .order_by("recorded_at", "pk")
        .values_list("recorded_at", "success", "needs_review")[:early_calls]
    )
    if not first:
        return EarlyWindow()
    # The baseline over the same period: until the last of those calls, or until now while there are fewer.
    window_end = first[-1][0] if len(first) == early_calls else until
    baseline = calls.filter(prompt_version=rollout.baseline_id)
    if window_end is not None:
        baseline = baseline.filter(recorded_at__lte=window_end)
    counts = baseline.aggregate(calls=Count("pk"), failures=Count("pk", filter=FAILED))
    return EarlyWindow(
        candidate_calls=len(first),
        candidate_failures=sum(1 for _, success, needs_review in first if not success or needs_review),
        baseline_calls=counts["calls"],
        baseline_failures=counts["failures"],
    )


# Experiments -----------------------------------------------------------------------------------------

def latest_finished_run(*, template, evaluation_set):
    """The most recent finished ExperimentRun of `template` on `evaluation_set`, or None."""
    return (
        ExperimentRun.objects.filter(
            template=template, evaluation_set=evaluation_set, status=ExperimentRun.Status.FINISHED
        ).order_by("-finished_at", "-pk").first()
    )


def comparable_run(*, template, evaluation_set):
    """The latest run of `template` on `evaluation_set` that is finished or still going (a comparison can use
    it rather than start another), or None."""
    return (
        ExperimentRun.objects.filter(
            template=template, evaluation_set=evaluation_set,
            status__in=(ExperimentRun.Status.QUEUED, ExperimentRun.Status.RUNNING, ExperimentRun.Status.FINISHED),
        ).order_by("-created_at", "-pk").first()
    )


def experiment_compare(*, baseline, candidate):
    """A candidate run beside a baseline run of the same set.

    Returns {"baseline", "candidate": summaries, "deltas": {figure: candidate - baseline}, "fields": {field:
    {"baseline", "candidate", "delta"}} (per-field accuracy), "regressions", "improvements": case ids, in
    order, and "changes": {case id: {field: {"expected", "baseline", "candidate"}}} for those cases}.
    A case regresses when a field the baseline answered right is wrong in the candidate, and improves in the
    opposite case (a case can do both); only cases both runs scored are compared.
    """
    if baseline.evaluation_set_id != candidate.evaluation_set_id:
        raise ValueError(gettext("%(baseline)s and %(candidate)s ran on different evaluation sets; they cannot be "
                                 "compared.") % {"baseline": baseline, "candidate": candidate})
    scored = ExperimentCaseResult.Outcome.SCORED
    rows = {
        run.pk: {
            row.case_id: row
            for row in ExperimentCaseResult.objects.filter(run=run, outcome=scored).select_related("case")
        }
        for run in (baseline, candidate)
    }
    regressions, improvements, changes = [], [], {}
    for case_id in sorted(rows[baseline.pk].keys() & rows[candidate.pk].keys()):
        before, after = rows[baseline.pk][case_id], rows[candidate.pk][case_id]
        changed = {name for name in after.correct if before.correct.get(name) != after.correct[name]}
        if any(before.correct.get(name) for name in changed):
            regressions.append(case_id)
        if any(after.correct[name] for name in changed):
            improvements.append(case_id)
        if changed:
            facts = {"intent": after.case.expected_intent, **after.case.expected_facts}
            changes[case_id] = {
                name: {"expected": facts.get(name), "baseline": before.answered.get(name),
                       "candidate": after.answered.get(name)}
                for name in sorted(changed)
            }
    summaries = {"baseline": baseline.summary(), "candidate": candidate.summary()}
    accuracies = {"baseline": field_accuracy(baseline), "candidate": field_accuracy(candidate)}
    return {
        **summaries,
        "deltas": {
            name: _delta(summaries["baseline"][name], summaries["candidate"][name])
            for name in ("accuracy", "exact_rate", "intent_accuracy", "cost_usd", "p95_latency_ms", "errors")
        },
        "fields": {
            name: {"baseline": accuracies["baseline"].get(name), "candidate": accuracies["candidate"].get(name),
                   "delta": _delta(accuracies["baseline"].get(name), accuracies["candidate"].get(name))}
            for name in sorted(accuracies["baseline"].keys() | accuracies["candidate"].keys())
        },
        "regressions": regressions,
        "improvements": improvements,
        "changes": changes,
    }


def _delta(before, after):
    return None if before is None or after is None else after - before


def reviewed_emails(*, intent=None, start=None, end=None):
    """Reviewed e-mails (oldest first), optionally of one reviewed intent and received between two local dates
    (both included)."""
    emails = IncomingEmail.objects.filter(status=IncomingEmail.Status.REVIEWED, review__isnull=False)
    if intent:
        emails = emails.filter(review__intent=intent)
    if start:
        emails = emails.filter(received_at__gte=_local_midnight(start))
    if end:
        emails = emails.filter(received_at__lt=_local_midnight(end + timedelta(days=1)))
    return emails.order_by("received_at", "pk")


def _local_midnight(day):
    return timezone.make_aware(datetime.combine(day, time.min))
