"""The evaluation app's writes. The canary monitor is here; sets and experiments live in their own modules
(evaluation.sets, evaluation.experiments) and are imported here, the one way in for admin, commands and tasks.

The canary monitor: judge every running rollout on its live metrics and act through prompts.services.

`rollouts_check` is the every-minute schedule's job. The rule is `evaluation.sequential` (documented there),
with its parameters from the PROMPT_ROLLOUT_* settings. Each decision is recorded on the rollout with the
figures it was based on and mailed by prompts.services (prompts.notifications).
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext

from evaluation import selectors
from evaluation.experiment_worker import experiment_execute  # noqa: F401
from evaluation.experiments import (  # noqa: F401 - the app's services, in one place
    experiment_cancel,
    experiment_compare_with_active,
    experiment_estimate,
    experiment_start,
    experiments_resume_stale,
)
from evaluation.sequential import CONTINUE, ROLL_BACK, RolloutRule, rollout_verdict
from evaluation.sets import evaluation_set_add, evaluation_set_create  # noqa: F401
from prompts.errors import ActivationBlocked, ReleaseRefused
from prompts.models import PromptRollout
from prompts.services import MONITOR, rollout_promote, rollout_roll_back, rollout_stop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolloutDecision:
    rollout: PromptRollout
    action: str  # evaluation.sequential.ROLL_BACK or PROMOTE, or "stop" when the gate refused the promotion
    reason: str
    figures: dict


def rollouts_check(*, now=None):
    """Judge every running canary (on its calls up to `now`); returns the decisions taken."""
    rule = RolloutRule.from_settings(settings)
    running = PromptRollout.objects.filter(state=PromptRollout.State.RUNNING).select_related("baseline", "candidate")
    decisions = [rollout_check(rollout=rollout, rule=rule, now=now) for rollout in running.order_by("pk")]
    return [decision for decision in decisions if decision is not None]


def rollout_check(*, rollout, rule, now=None):
    """Judge one canary and act on the verdict; None when it keeps running (or ended meanwhile)."""
    baseline, candidate, early = selectors.rollout_arms(rollout=rollout, early_calls=rule.early_calls, until=now)
    verdict = rollout_verdict(baseline=baseline, candidate=candidate, early=early, share=rollout.share, rule=rule)
    if verdict.action == CONTINUE:
        return None
    figures = verdict.figures()
    action, reason = verdict.action, verdict.reason
    try:
        if action == ROLL_BACK:
            rollout = rollout_roll_back(rollout=rollout, reason=reason, figures=figures)
        else:
            try:
                rollout = rollout_promote(rollout=rollout, promoted_by=MONITOR, reason=reason, figures=figures)
            except ActivationBlocked as exc:
                action, reason = "stop", gettext(
                    "%(reason)s; but the activation gate refused the promotion: %(refusal)s"
                ) % {"reason": reason, "refusal": exc}
                rollout = rollout_stop(rollout=rollout, stopped_by=MONITOR, reason=reason, figures=figures)
    except ReleaseRefused:
        logger.info("%s ended while it was being judged; nothing to do", rollout)
        return None
    logger.warning("Canary monitor: %s: %s (%s)", rollout, action, reason)
    return RolloutDecision(rollout=rollout, action=action, reason=reason, figures=figures)
