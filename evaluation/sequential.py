"""The canary monitor's rule: from the two arms' figures, roll the candidate back, promote it, or keep watching.

Pure (no database, no Django): `evaluation.services.rollouts_check` feeds it the live metrics of a rollout,
`bench/bench_rollout_monitor.py` feeds it simulated calls. A call *fails* when the API failed, the answer was
unusable (not schema-valid JSON) or the call was sent to manual review. Checked in this order at every look:

1. **Early failure.** The candidate failed at least `early_failure_share` (½) of its first `early_calls` (20)
   calls, more often than the baseline over the same period: roll back at once. (The baseline clause keeps an
   API outage, which fails both arms alike, from being blamed on the candidate.)
2. **Failure rate: an exact sequential test.** The rollout sends each e-mail to the candidate with probability
   π (its percent) whatever the e-mail is, so while the candidate fails no more often than the baseline, each
   failed call is the candidate's with probability at most π — whatever the failure rate is and however it
   drifts (an outage hits both arms alike). With s of the k failures so far on the candidate,

       E = mean over r in RISK_RATIOS of (q_r/π)^s · ((1 − q_r)/(1 − π))^(k − s),    q_r = π·r / (π·r + 1 − π)

   (q_r: the candidate's share of failures if it failed r times as often) is a nonnegative supermartingale
   with mean at most 1 under "no regression". By Ville's inequality E ever reaches 2/α with probability at
   most α/2, however often it is looked at. Roll back when E ≥ 2/α.
3. **Cost per call: a mixture sequential probability ratio test** (Robbins 1970; Johari, Pekelis & Walsh,
   "Always valid inference", 2017) on D = mean cost(candidate) − (1 + tolerance) · mean cost(baseline), with a
   half-normal mixing distribution of scale COST_MIXTURE_SCALE × the baseline's mean cost. It uses the normal
   approximation with estimated variances, so it is valid asymptotically and only looks once each arm has
   COST_MIN_CALLS calls. Roll back when its likelihood ratio ≥ 2/α.
4. **Promotion** once the candidate has served `promote_after_calls` calls (and the baseline COST_MIN_CALLS)
   without any of the above.

So an equal candidate is rolled back with probability at most α (α/2 per test), plus the early rule's
chance (about 10⁻⁸ at a 5 % failure rate). RISK_RATIOS and COST_MIXTURE_SCALE set where the tests are most
powerful; the bound on false alarms holds whatever they are.
"""

import functools
import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext

from config.formatting import format_money, format_percent

# The regressions the failure test is tuned for: the candidate failing 1.5 to 8 times as often.
RISK_RATIOS = (1.5, 2.0, 3.0, 5.0, 8.0)
# The cost test's mixing scale, relative to the baseline's mean cost per call.
COST_MIXTURE_SCALE = 0.5
# Calls each arm needs before the cost test (normal approximation) looks.
COST_MIN_CALLS = 30
# Likelihood ratios are capped at e^700 (about 10^304) so they stay finite floats.
MAX_LOG_RATIO = 700.0
# z for the 95 % intervals shown beside the figures.
Z_95 = 1.959963984540054

CONTINUE, ROLL_BACK, PROMOTE = "continue", "roll_back", "promote"
# Which part of the rule decided (Verdict.trigger).
EARLY_FAILURE, FAILURE_RATE, COST, CALLS_REACHED = "early_failure", "failure_rate", "cost", "calls_reached"


@dataclass(frozen=True)
class RolloutRule:
    """The monitor's parameters (settings PROMPT_ROLLOUT_*)."""

    alpha: float = 0.01
    promote_after_calls: int = 500
    early_calls: int = 20
    early_failure_share: float = 0.5
    cost_tolerance: float | None = 0.25  # None: no cost test

    def __post_init__(self):
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, not {self.alpha}")
        if self.promote_after_calls < 1 or self.early_calls < 1:
            raise ValueError("promote_after_calls and early_calls must be positive")
        if not 0 < self.early_failure_share <= 1:
            raise ValueError(f"early_failure_share must be in (0, 1], not {self.early_failure_share}")
        if self.cost_tolerance is not None and self.cost_tolerance < 0:
            raise ValueError(f"cost_tolerance must not be negative, not {self.cost_tolerance}")

    @classmethod
    def from_settings(cls, settings):
        return cls(
            alpha=settings.PROMPT_ROLLOUT_ALPHA,
            promote_after_calls=settings.PROMPT_ROLLOUT_PROMOTE_AFTER_CALLS,
            early_calls=settings.PROMPT_ROLLOUT_EARLY_CALLS,
            early_failure_share=settings.PROMPT_ROLLOUT_EARLY_FAILURE_SHARE,
            cost_tolerance=settings.PROMPT_ROLLOUT_COST_TOLERANCE,
        )

    @property
    def threshold(self):
        """The likelihood ratio at which a test declares a regression (α/2 for each of the two tests)."""
        return 2 / self.alpha

    @property
    def early_failures(self):
        """Failures among the first `early_calls` calls that roll the candidate back at once (10 of 20)."""
        return math.ceil(self.early_failure_share * self.early_calls)


@dataclass(frozen=True)
class ArmFigures:
    """One arm since the rollout started: calls, failed calls, total cost and the sum of squared costs."""

    calls: int = 0
    failures: int = 0
    cost_usd: Decimal = Decimal(0)
    cost_squares: float = 0.0  # Σ cost², USD², for the variance of the cost per call

    @property
    def failure_rate(self):
        return self.failures / self.calls if self.calls else None

    @property
    def cost_per_call(self):
        return self.cost_usd / self.calls if self.calls else None

    def cost_variance(self):
        if self.calls < 2:
            return 0.0
        mean = float(self.cost_usd) / self.calls
        return max((self.cost_squares - self.calls * mean * mean) / (self.calls - 1), 0.0)


@dataclass(frozen=True)
class EarlyWindow:
    """The candidate's first calls (at most `early_calls`) and the baseline's calls over the same period."""

    candidate_calls: int = 0
    candidate_failures: int = 0
    baseline_calls: int = 0
    baseline_failures: int = 0


@dataclass(frozen=True)
class Verdict:
    action: str  # CONTINUE, ROLL_BACK or PROMOTE
    trigger: str  # EARLY_FAILURE, FAILURE_RATE, COST, CALLS_REACHED; "" to continue
    reason: str
    baseline: ArmFigures
    candidate: ArmFigures
    early: EarlyWindow
    share: float
    failure_evidence: float
    cost_evidence: float | None
    threshold: float

    def figures(self):
        """What the verdict was based on, JSON-ready, for the audit row and the e-mail."""
        return {
            "share": self.share,
            "trigger": self.trigger,
            "baseline": arm_summary(self.baseline),
            "candidate": arm_summary(self.candidate),
            "early": {
                "candidate_calls": self.early.candidate_calls, "candidate_failures": self.early.candidate_failures,
                "baseline_calls": self.early.baseline_calls, "baseline_failures": self.early.baseline_failures,
            },
            "failure_evidence": _rounded(self.failure_evidence),
            "cost_evidence": _rounded(self.cost_evidence),
            "threshold": self.threshold,
        }


def rollout_verdict(*, baseline, candidate, early, share, rule):
    """What to do with a rollout that sends `share` (0 < share < 1) of the traffic to the candidate."""
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, not {share}")
    failure_evidence = failure_likelihood_ratio(
        candidate_failures=candidate.failures, failures=candidate.failures + baseline.failures, share=share
    )
    cost_evidence = cost_likelihood_ratio(baseline=baseline, candidate=candidate, tolerance=rule.cost_tolerance)
    action, trigger, reason = _decide(baseline, candidate, early, rule, failure_evidence, cost_evidence)
    return Verdict(
        action, trigger, reason, baseline=baseline, candidate=candidate, early=early, share=share,
        failure_evidence=failure_evidence, cost_evidence=cost_evidence, threshold=rule.threshold,
    )


def _decide(baseline, candidate, early, rule, failure_evidence, cost_evidence):
    early_rate = early.candidate_failures / early.candidate_calls if early.candidate_calls else 0.0
    early_baseline_rate = early.baseline_failures / early.baseline_calls if early.baseline_calls else 0.0
    if early.candidate_failures >= rule.early_failures and early_rate > early_baseline_rate:
        return ROLL_BACK, EARLY_FAILURE, gettext(
            "the candidate failed %(failures)s of its first %(calls)s calls "
            "(the baseline %(baseline_failures)s of %(baseline_calls)s over the same period)"
        ) % {"failures": early.candidate_failures, "calls": early.candidate_calls,
             "baseline_failures": early.baseline_failures, "baseline_calls": early.baseline_calls}
    if failure_evidence >= rule.threshold:
        return ROLL_BACK, FAILURE_RATE, gettext(
            "failure rate regression: candidate %(rate)s of %(calls)s calls, "
            "baseline %(baseline_rate)s of %(baseline_calls)s calls "
            "(likelihood ratio %(evidence)s ≥ %(threshold)s)"
        ) % {"rate": _percent(candidate.failure_rate), "calls": candidate.calls,
             "baseline_rate": _percent(baseline.failure_rate), "baseline_calls": baseline.calls,
             "evidence": f"{failure_evidence:.0f}", "threshold": f"{rule.threshold:g}"}
    if cost_evidence is not None and cost_evidence >= rule.threshold:
        return ROLL_BACK, COST, gettext(
            "cost regression: candidate %(cost)s per call, baseline %(baseline_cost)s "
            "(more than %(tolerance)s dearer; likelihood ratio %(evidence)s ≥ %(threshold)s)"
        ) % {"cost": _usd(candidate.cost_per_call), "baseline_cost": _usd(baseline.cost_per_call),
             "tolerance": format_percent(rule.cost_tolerance, 0), "evidence": f"{cost_evidence:.0f}",
             "threshold": f"{rule.threshold:g}"}
    if candidate.calls >= rule.promote_after_calls and baseline.calls >= COST_MIN_CALLS:
        return PROMOTE, CALLS_REACHED, gettext(
            "no regression after %(calls)s candidate calls: candidate %(rate)s failed, %(cost)s per call; "
            "baseline %(baseline_rate)s failed, %(baseline_cost)s per call"
        ) % {"calls": candidate.calls, "rate": _percent(candidate.failure_rate), "cost": _usd(candidate.cost_per_call),
             "baseline_rate": _percent(baseline.failure_rate), "baseline_cost": _usd(baseline.cost_per_call)}
    return CONTINUE, "", ""


def failure_likelihood_ratio(*, candidate_failures, failures, share):
    """E of rule 2: evidence that the candidate fails more often than the baseline (1 = none either way)."""
    s, k = candidate_failures, failures
    logs = [s * on_candidate + (k - s) * on_baseline for on_candidate, on_baseline in _failure_log_ratios(share)]
    return math.exp(min(_log_mean_exp(logs), MAX_LOG_RATIO))


@functools.lru_cache(maxsize=64)
def _failure_log_ratios(share):
    """Per alternative r: the log likelihood ratio of one failure on the candidate's arm, and on the baseline's."""
    ratios = []
    for ratio in RISK_RATIOS:
        q = share * ratio / (share * ratio + 1 - share)
        ratios.append((math.log(q / share), math.log((1 - q) / (1 - share))))
    return tuple(ratios)


def cost_likelihood_ratio(*, baseline, candidate, tolerance):
    """The cost test's mixture likelihood ratio, or None while it does not look (too few calls, no cost test)."""
    if tolerance is None or min(baseline.calls, candidate.calls) < COST_MIN_CALLS:
        return None
    baseline_mean = float(baseline.cost_usd) / baseline.calls
    if baseline_mean <= 0:
        return None  # nothing to be dearer than
    factor = 1 + tolerance
    excess = float(candidate.cost_usd) / candidate.calls - factor * baseline_mean
    variance = candidate.cost_variance() / candidate.calls + factor**2 * baseline.cost_variance() / baseline.calls
    # Identical costs on every call: the difference is certain, not noise; keep the formula finite.
    variance = max(variance, (baseline_mean * 1e-9) ** 2)
    tau2 = (COST_MIXTURE_SCALE * baseline_mean) ** 2
    # Half-normal mixture over D > 0: 2·sqrt(V/(V+τ²))·exp(τ²D²/(2V(V+τ²)))·Φ(τD/sqrt(V(V+τ²))).
    normal_cdf = 0.5 * math.erfc(-math.sqrt(tau2) * excess / math.sqrt(2 * variance * (variance + tau2)))
    if normal_cdf == 0:
        return 0.0
    log_ratio = (
        math.log(2) + 0.5 * math.log(variance / (variance + tau2))
        + tau2 * excess**2 / (2 * variance * (variance + tau2)) + math.log(normal_cdf)
    )
    return math.exp(min(log_ratio, MAX_LOG_RATIO))


def wilson_interval(failures, calls, z=Z_95):
    """The Wilson score interval of a rate (95 % by default); None without calls."""
    if not calls:
        return None
    rate = failures / calls
    denominator = 1 + z * z / calls
    centre = (rate + z * z / (2 * calls)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / calls + z * z / (4 * calls * calls)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def arm_summary(arm):
    """An arm's figures as JSON-ready values (rates as fractions, cost per call as a decimal string)."""
    interval = wilson_interval(arm.failures, arm.calls)
    return {
        "calls": arm.calls,
        "failures": arm.failures,
        "failure_rate": _rounded(arm.failure_rate),
        "failure_interval": [round(bound, 6) for bound in interval] if interval else None,
        "cost_per_call_usd": None if arm.calls == 0 else str(_cost_per_call(arm)),
    }


def _cost_per_call(arm):
    return (Decimal(arm.cost_usd) / arm.calls).quantize(Decimal("0.00000001"))


def _log_mean_exp(values):
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def _rounded(value):
    return None if value is None else round(value, 6)


def _percent(rate):
    # In the reason's language: "5,0 %" in a German sentence, "5.0%" in an English one.
    return "-" if rate is None else format_percent(rate)


def _usd(value):
    return "-" if value is None else format_money(value, "USD", 6)
