"""Experiments: one prompt version run over an evaluation set on the worker, scored per case.

The answers come from extraction.answering, the code production calls (same variables, LLM module and
normalisation); an experiment writes only its own rows: never production results, metrics or e-mail status.

How a run survives a killed worker without scoring a case twice:
- `experiment_start` creates one pending ExperimentCaseResult per case (unique per run and case) and queues
  `evaluation.tasks.run_experiment` EXPERIMENT_TASKS_PER_RUN times (the tasks share the run's cases);
- the task's own thread claims pending rows for its free answerer threads (a claim token and time on the
  rows; evaluation/claims.py), EXPERIMENT_CONCURRENCY threads answer them, and the task's thread writes each
  answer with an UPDATE conditional on the row still being pending under its claim: a row is scored once,
  whoever else took it over;
- a claim older than EXPERIMENT_CLAIM_SECONDS is free again, and the every-minute schedule
  (`experiments_resume_stale`) queues the task again for a run whose worker stopped beating; the broker
  also hands a killed task out again after Q_RETRY.
Budget: before each case the run's cost so far is compared with `max_cost_usd`; once reached, the pending
cases are skipped (the cases already in flight finish). Cancel skips the pending cases at once.

This module is the side of the admin, commands and schedules; the task's side is evaluation/experiment_worker.py.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from evaluation import estimates, selectors
from evaluation.errors import EvaluationError
from evaluation.experiment_worker import LIVE, Status, enqueue_task, keep_figures, skip_pending
from evaluation.models import ExperimentCaseResult, ExperimentRun
from extraction import answering
from prompts.models import PromptTemplate

logger = logging.getLogger(__name__)


def _username(user):
    return user if isinstance(user, str) else user.get_username()


def experiment_estimate(*, evaluation_set, template):
    """Estimated cost in USD of running `template` over `evaluation_set` (None when it cannot be estimated);
    evaluation.estimates.cost_estimate says how it was reached."""
    return estimates.cost_estimate(evaluation_set=evaluation_set, template=template).cost_usd


def experiment_start(*, evaluation_set, template, started_by, max_cost_usd=None):
    """Queue a run of `template` over `evaluation_set` (run inline when Q_SYNC); returns the ExperimentRun."""
    key = (template.task_type, template.name)
    if key not in answering.PROMPT_KEYS:
        raise EvaluationError(
            gettext("%(version)s is not one of the pipeline's prompts, so it cannot be run over a set.")
            % {"version": template}
        )
    if max_cost_usd is not None and Decimal(max_cost_usd) <= 0:
        raise EvaluationError(gettext("The budget must be more than 0, or empty for no budget."))
    with transaction.atomic():
        cases = list(evaluation_set.cases.values_list("pk", flat=True))
        if not cases:
            raise EvaluationError(
                gettext("The evaluation set %(set)s has no cases yet.") % {"set": evaluation_set}
            )
        run = ExperimentRun.objects.create(
            evaluation_set=evaluation_set, template=template, started_by=_username(started_by),
            max_cost_usd=max_cost_usd,
            estimated_cost_usd=experiment_estimate(evaluation_set=evaluation_set, template=template),
        )
        ExperimentCaseResult.objects.bulk_create(ExperimentCaseResult(run=run, case_id=pk) for pk in cases)
        # Several tasks share the run's cases (each claims its own): a run uses every worker.
        for _ in range(max(1, min(settings.EXPERIMENT_TASKS_PER_RUN, len(cases)))):
            enqueue_task(run.pk)
    run.refresh_from_db()
    return run


def experiment_cancel(*, run, cancelled_by):
    """Cancel a queued or running run: its pending cases are skipped, answers still in flight are dropped."""
    who = _username(cancelled_by)
    with transaction.atomic():
        changed = ExperimentRun.objects.filter(pk=run.pk, status__in=LIVE).update(
            status=Status.CANCELLED, stop_reason=gettext("cancelled by %(user)s") % {"user": who}
        )
        if not changed:
            run.refresh_from_db()
            raise EvaluationError(gettext("%(run)s has already ended (%(status)s); nothing to cancel.") % {
                "run": run, "status": run.get_status_display()})
        skip_pending(run, reason=gettext("the run was cancelled by %(user)s") % {"user": who})
        run.refresh_from_db()
        keep_figures(run)
    return run


def experiments_resume_stale(*, now=None):
    """Queue again each running run whose worker stopped beating (killed), and each run queued that long
    without a worker taking it (a broker that lost its task); returns their ids."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.EXPERIMENT_CLAIM_SECONDS)
    ids = list(
        ExperimentRun.objects.filter(
            Q(status=Status.RUNNING, heartbeat_at__lt=stale) | Q(status=Status.RUNNING, heartbeat_at__isnull=True)
            | Q(status=Status.QUEUED, created_at__lt=stale)
        ).values_list("pk", flat=True)
    )
    for run_id in ids:
        logger.warning("Experiment run %s: its worker stopped; queued again", run_id)
        enqueue_task(run_id)
    return ids


def experiment_compare_with_active(*, evaluation_set, candidate, started_by, max_cost_usd=None):
    """{"baseline", "candidate"}: the latest run on `evaluation_set` of the active version and of `candidate`
    (finished or still going), starting whichever of the two has none."""
    active = PromptTemplate.objects.filter(task_type=candidate.task_type, name=candidate.name, is_active=True).first()
    if active is None:
        raise EvaluationError(
            gettext("%(key)s has no active version to compare with.") % {"key": candidate.key}
        )
    if active.pk == candidate.pk:
        raise EvaluationError(gettext(
            "%(version)s is the active version; open another version to compare it with this one."
        ) % {"version": candidate})
    runs = {}
    for role, template in (("baseline", active), ("candidate", candidate)):
        runs[role] = selectors.comparable_run(template=template, evaluation_set=evaluation_set) or experiment_start(
            evaluation_set=evaluation_set, template=template, started_by=started_by, max_cost_usd=max_cost_usd
        )
    return runs
