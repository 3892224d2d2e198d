"""The worker's side of an experiment: a task claims the run's pending cases, answers them on
EXPERIMENT_CONCURRENCY threads through the production code path, scores and writes each once, then helps the
other live runs, and finishes, stops (budget) or continues (time up) its run. See evaluation/experiments.py for
how a run survives a killed worker without scoring a case twice.
"""

import logging
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext
from django_q.conf import Conf
from django_q.exceptions import TimeoutException

from evaluation import expected, figures
from evaluation.models import ExperimentCaseResult, ExperimentRun
from extraction import answering, llm, pricing, queueing
from extraction.models import FACT_BEARING_INTENTS
from metrics.aggregates import ExactDecimalSum

logger = logging.getLogger(__name__)

RUN_EXPERIMENT_TASK = "evaluation.tasks.run_experiment"
Status = ExperimentRun.Status
Outcome = ExperimentCaseResult.Outcome
# A run waiting or running may still change; these are the statuses it can be cancelled from.
LIVE = (Status.QUEUED, Status.RUNNING)


def enqueue_task(run_id):
    """Queue a task of the run with the current transaction."""
    queueing.enqueue_with_transaction(RUN_EXPERIMENT_TASK, run_id)


def experiment_execute(*, run_id, client=None):
    """Run (or resume) an experiment until no case is left or the task's time is up; returns the run.

    Returns None when the run has ended or does not exist (a duplicate task, a cancelled run). Once the run
    has no case left to claim, the task's threads help the other live runs (oldest first) instead of idling
    while the run's last cases are answered: "compare with active" starts two runs at once, and the second
    one's tasks would otherwise wait for a free worker, then start with every thread idle in between.
    """
    started = time.monotonic()
    # Well inside the worker's timeout: a long run continues in a new task rather than being killed.
    deadline = None if Conf.SYNC else started + settings.Q_CLUSTER.get("timeout", 300) / 2
    if not _mark_running(run_id):
        return None
    run = _run_with_template(run_id)
    try:
        client = client or llm.get_client()
    except llm.LLMNotConfigured as exc:
        return _fail(run, reason=str(exc))
    runs = _TaskRuns(run)

    def answer_cases():
        """One thread's loop: claim a pending case and answer it; when its run has none left (or its budget
        is spent), go on with the next live run that has, until none has or the task's time is up."""
        current, finished_with = runs.own, set()
        while deadline is None or time.monotonic() < deadline:
            token = uuid.uuid4().hex
            chunk = _claim_chunk(current.run, token) if current.budget.allows() else []
            if not chunk:
                # Nothing left, the budget is spent, or the run was cancelled (a claim takes cases of a running
                # run only): on to another run. A run whose last case was just answered is finished now, not
                # when this task stops helping others (the thread answering the last case gets here last).
                if not current.budget.reached():
                    _finish_if_done(current.run)
                finished_with.add(current.run.pk)
                current = runs.next_to_help(finished_with)
                if current is None:
                    return
                continue
            for result in chunk:
                _case_run(result, token=token, run=current.run, client=client, budget=current.budget)
            current.beat()

    # A run's calls share one price per model and day: no price query on each case's path.
    with pricing.prices_remembered():
        _on_threads(answer_cases, count=settings.EXPERIMENT_CONCURRENCY)
    for helped in runs.helped():
        _conclude(helped)
    if not _still_running(run.pk):
        return run  # cancelled meanwhile
    if not runs.own.budget.reached() and deadline is not None and time.monotonic() >= deadline:
        enqueue_task(run.pk)  # the rest in a fresh task, well inside the worker's timeout
        return run
    return _conclude(runs.own)


def _mark_running(run_id):
    """Mark a queued (or already running) run running; False when it has ended."""
    if not ExperimentRun.objects.filter(pk=run_id, status__in=LIVE).update(status=Status.RUNNING, heartbeat_at=Now()):
        return False
    ExperimentRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=Now())
    return True


def _run_with_template(run_id):
    return ExperimentRun.objects.select_related("template", "evaluation_set").get(pk=run_id)


def _conclude(state):
    """After a task's threads stopped working on a run: stop it for its budget, or finish it when no case is
    pending any more (another task may still hold some: then that one finishes it)."""
    if not _still_running(state.run.pk):
        return state.run
    if state.budget.reached():
        _stop_for_budget(state.run, state.budget)
    return _finish_if_done(state.run)


class _RunState:
    """What a task's threads share about one run: the run, its budget and its heartbeat."""

    def __init__(self, run):
        self.run, self.budget, self.beat = run, _Budget(run), _Heartbeat(run)


class _TaskRuns:
    """The runs a task works on: its own, then the others it helps (each looked up once, shared by threads)."""

    def __init__(self, run):
        self.own = _RunState(run)
        self.lock = threading.Lock()
        self.others = {}

    def next_to_help(self, finished_with):
        """The oldest other live run with a case free to claim that this thread is not finished with (a queued
        one is marked running: its own tasks then join in), or None."""
        free_cases = ExperimentCaseResult.objects.filter(
            run=OuterRef("pk"), outcome=Outcome.PENDING
        ).filter(_unclaimed())
        candidate = (
            ExperimentRun.objects.filter(status__in=LIVE).exclude(pk__in=finished_with)
            .filter(Exists(free_cases)).order_by("pk").values_list("pk", flat=True).first()
        )
        if candidate is None or not _mark_running(candidate):
            return None if candidate is None else self.next_to_help(finished_with | {candidate})
        with self.lock:
            if candidate not in self.others:
                self.others[candidate] = _RunState(_run_with_template(candidate))
            return self.others[candidate]

    def helped(self):
        with self.lock:
            return list(self.others.values())


class _Heartbeat:
    """Records that the run's task is alive, at most once a second (threads share it)."""

    def __init__(self, run):
        self.run, self.lock, self.last = run, threading.Lock(), time.monotonic()

    def __call__(self):
        with self.lock:
            if time.monotonic() - self.last < 1:
                return
            self.last = time.monotonic()
        ExperimentRun.objects.filter(pk=self.run.pk).update(heartbeat_at=Now())


class _Budget:
    """The run's cost so far against max_cost_usd: read from its rows (every task's) before each claim, plus
    what this task's threads spent since."""

    def __init__(self, run):
        self.run = run
        self.limit = run.max_cost_usd
        self.lock = threading.Lock()
        self.spent = Decimal("0")
        self.refresh()

    def refresh(self):
        if self.limit is None:
            return
        spent = ExperimentCaseResult.objects.filter(run=self.run).aggregate(
            cost=ExactDecimalSum("cost_usd", decimal_places=8)
        )["cost"] or Decimal("0")
        with self.lock:
            self.spent = max(self.spent, spent)

    def add(self, cost):
        with self.lock:
            self.spent += cost

    def reached(self):
        with self.lock:
            return self.limit is not None and self.spent >= self.limit

    def allows(self):
        """Whether another case may be claimed: the cost so far (every task's) is below the limit."""
        self.refresh()
        return not self.reached()


def _still_running(run_id):
    return ExperimentRun.objects.filter(pk=run_id, status=Status.RUNNING).exists()


def _unclaimed():
    """Rows nobody holds: never claimed, or whose claim ran out (its worker died or froze)."""
    expired = timezone.now() - timedelta(seconds=settings.EXPERIMENT_CLAIM_SECONDS)
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=expired)


def _claim_chunk(run, token):
    """Claim up to EXPERIMENT_CHUNK_PER_THREAD of the run's pending rows that nobody holds (or whose claim ran
    out), while the run is running; returns them with their cases and e-mails (empty: none left, or stopped)."""
    size = settings.EXPERIMENT_CHUNK_PER_THREAD
    if connections[ExperimentCaseResult.objects.db].vendor == "postgresql":
        ids = _claim_on_postgresql(run, token, size)
        chunk = list(ExperimentCaseResult.objects.filter(pk__in=ids).select_related("case__email").order_by("pk"))
    else:
        chunk = _claim_in_a_transaction(run, token, size)
    for result in chunk:
        result.claim_token = token
    return chunk


# The claim is on every case's path (issue 13: overhead per case), so on PostgreSQL it is one statement in
# autocommit: the rows are chosen, locked and stamped at once, and threads and tasks claiming side by side each
# skip the rows another is stamping (SKIP LOCKED) instead of waiting for them. The ORM cannot write an UPDATE
# whose rows come from a locking, limited subquery; the ORM version below needs a transaction and four round
# trips (BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT) for the same.
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
    their cases and e-mails in the same query, then are stamped; a row another thread stamped meanwhile (no row
    locks here) is left to that thread."""
    free = Q(run=run, run__status=Status.RUNNING, outcome=Outcome.PENDING) & _unclaimed()
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


def _case_run(result, *, token, run, client, budget):
    """Answer and score one case, and write it if its row is still pending under this claim."""
    if budget.reached():
        return  # left pending: skipped once the threads have stopped
    case, prompt = result.case, run.template
    key = (prompt.task_type, prompt.name)
    if key != answering.CLASSIFICATION_KEY and case.expected_intent not in FACT_BEARING_INTENTS:
        # Production never extracts facts from such an answer, so neither does the experiment.
        _write(result, token, outcome=Outcome.NOT_APPLICABLE)
        return
    try:
        answers = answering.answers_for(email=case.email, prompt=prompt, client=client)
    except (DatabaseError, TimeoutException):
        raise  # not the case's fault: the row stays pending and is taken up again
    except Exception as exc:  # noqa: BLE001 - one odd e-mail must not stop (or endlessly restart) the run
        logger.exception("Experiment run %s: case %s could not be answered", run.pk, case.pk)
        _write(result, token, outcome=Outcome.SKIPPED, skip_reason=f"unexpected {type(exc).__name__}: {exc}")
        return
    cost = sum((answer.cost_usd for answer in answers), Decimal("0"))
    budget.add(cost)
    if not answers:
        _write(result, token, outcome=Outcome.NOT_APPLICABLE)
        return
    score = figures.case_score(case=case, prompt_key=key, answers=answers)
    _write(
        result, token, outcome=Outcome.SCORED, **score, calls=len(answers), cost_usd=cost,
        input_tokens=sum(a.input_tokens for a in answers), output_tokens=sum(a.output_tokens for a in answers),
        latency_ms=sum(a.latency_ms for a in answers),
        error="; ".join(
            f"{a.attachment_name or a.source}: {a.error}" if len(answers) > 1 else a.error for a in answers if a.error
        ),
    )


def _write(result, token, **values):
    written = ExperimentCaseResult.objects.filter(pk=result.pk, outcome=Outcome.PENDING, claim_token=token).update(
        finished_at=Now(), **values
    )
    if not written:
        logger.info("Experiment result %s was taken over or skipped meanwhile; this answer is dropped", result.pk)


def _on_threads(function, *, count):
    """Run `function` on `count` threads at once (in this thread when 1); each thread closes its connections."""
    if count <= 1:
        function()
        return
    errors = []

    def work():
        try:
            function()
        except Exception as exc:  # noqa: BLE001 - raised again in the calling thread below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connections only

    threads = [threading.Thread(target=work, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def skip_pending(run, *, reason):
    ExperimentCaseResult.objects.filter(run=run, outcome=Outcome.PENDING).update(
        outcome=Outcome.SKIPPED, skip_reason=reason, finished_at=Now()
    )


def _stop_for_budget(run, budget):
    reason = gettext("the budget of %(budget)s was reached (%(spent)s spent)") % {
        "budget": f"${run.max_cost_usd}", "spent": f"${budget.spent:.6f}"}
    with transaction.atomic():
        ExperimentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(stop_reason=reason)
        skip_pending(run, reason=reason)


def _finish_if_done(run):
    """Finish the run when none of its cases is pending any more (another worker may still hold some)."""
    with transaction.atomic():
        if ExperimentCaseResult.objects.filter(run=run, outcome=Outcome.PENDING).exists():
            return run
        if ExperimentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
            status=Status.FINISHED, finished_at=Now(), heartbeat_at=Now()
        ):
            run.refresh_from_db()
            keep_figures(run)
    run.refresh_from_db()
    return run


def _fail(run, *, reason):
    ExperimentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
        status=Status.FAILED, error=reason, finished_at=Now()
    )
    skip_pending(run, reason=gettext("the run failed: %(reason)s") % {"reason": reason})
    run.refresh_from_db()
    keep_figures(run)
    return run


def keep_figures(run):
    if run.finished_at is None:
        ExperimentRun.objects.filter(pk=run.pk).update(finished_at=Now())
    ExperimentRun.objects.filter(pk=run.pk).update(figures=expected.summary_to_json(figures.run_summary(run)))
