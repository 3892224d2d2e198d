"""How a task takes cases of a run so that each case is answered once: a claim stamps pending rows with a
token and a time; an answer is written only while its row is still pending under that token; a claim older
than EXPERIMENT_CLAIM_SECONDS is free again (its worker died or froze). See evaluation/experiments.py."""

from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from evaluation.models import ExperimentCaseResult, ExperimentRun

Status = ExperimentRun.Status
Outcome = ExperimentCaseResult.Outcome


def unclaimed():
    """Rows nobody holds: never claimed, or whose claim ran out (its worker died or froze)."""
    expired = timezone.now() - timedelta(seconds=settings.EXPERIMENT_CLAIM_SECONDS)
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=expired)


def claim_cases(run, token, *, size):
    """Claim up to `size` of the run's pending rows that nobody holds, while the run is running; returns them
    with their cases and e-mails, in id order (empty: none left, or the run has stopped)."""
    if connections[ExperimentCaseResult.objects.db].vendor == "postgresql":
        ids = _claim_on_postgresql(run, token, size)
        claimed = list(ExperimentCaseResult.objects.filter(pk__in=ids).select_related("case__email").order_by("pk"))
    else:
        claimed = _claim_in_a_transaction(run, token, size)
    for result in claimed:
        result.claim_token = token
    return claimed


def write_answer(result, **values):
    """Write a case's outcome if its row is still pending under this claim; False when it was taken over
    (its claim ran out and another worker answered it) or skipped meanwhile (cancel, budget)."""
    return bool(
        ExperimentCaseResult.objects.filter(pk=result.pk, outcome=Outcome.PENDING, claim_token=result.claim_token)
        .update(finished_at=Now(), **values)
    )


# The claim is on every case's way (issue 13: overhead per case), so on PostgreSQL it is one statement in
# autocommit: the rows are chosen, locked and stamped at once, and tasks claiming side by side each skip the
# rows another is stamping (SKIP LOCKED) instead of waiting for them. The ORM cannot write an UPDATE whose rows
# come from a locking, limited subquery; the ORM version below needs a transaction and four round trips
# (BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT) for the same.
CLAIM_ON_POSTGRESQL = """
    UPDATE {results} SET claimed_at = STATEMENT_TIMESTAMP(), claim_token = %(token)s
    WHERE id IN (
        SELECT result.id FROM {results} result
        WHERE result.run_id = %(run)s AND result.outcome = %(pending)s
          AND (result.claimed_at IS NULL OR result.claimed_at < %(expired)s)
          AND EXISTS (SELECT 1 FROM {runs} run WHERE run.id = result.run_id AND run.status = %(running)s)
        ORDER BY result.id LIMIT %(size)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
"""


def _claim_on_postgresql(run, token, size):
    sql = CLAIM_ON_POSTGRESQL.format(
        results=ExperimentCaseResult._meta.db_table, runs=ExperimentRun._meta.db_table
    )
    with connections[ExperimentCaseResult.objects.db].cursor() as cursor:
        cursor.execute(sql, {
            "token": token, "run": run.pk, "pending": Outcome.PENDING, "running": Status.RUNNING, "size": size,
            "expired": timezone.now() - timedelta(seconds=settings.EXPERIMENT_CLAIM_SECONDS),
        })
        return [row[0] for row in cursor.fetchall()]


def _claim_in_a_transaction(run, token, size):
    """The claim with the ORM (SQLite, which runs one writing transaction at a time anyway): the rows come with
    their cases and e-mails in the same query, then are stamped; a row another task stamped meanwhile (no row
    locks here) is left to that task."""
    free = Q(run=run, run__status=Status.RUNNING, outcome=Outcome.PENDING) & unclaimed()
    with transaction.atomic():
        chunk = list(
            ExperimentCaseResult.objects.select_for_update(skip_locked=True, of=("self",)).filter(free)
            .select_related("case__email").order_by("pk")[:size]
        )
        claimed = ExperimentCaseResult.objects.filter(free, pk__in=[r.pk for r in chunk]).update(
            claimed_at=Now(), claim_token=token
        ) if chunk else 0
    if claimed < len(chunk):
        mine = set(
            ExperimentCaseResult.objects.filter(pk__in=[r.pk for r in chunk], claim_token=token)
            .values_list("pk", flat=True)
        )
        chunk = [result for result in chunk if result.pk in mine]
    return chunk
