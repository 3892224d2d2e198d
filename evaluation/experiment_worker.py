"""The worker's side of an experiment: a task claims the run's pending cases (evaluation/claims.py), answers
them on EXPERIMENT_CONCURRENCY threads through the production code path, scores them and writes each once,
then helps the other live runs, and finishes, stops (budget) or continues (time up) its run. See
evaluation/experiments.py for how a run survives a killed worker without scoring a case twice.
"""

import collections
import logging
import queue
import threading
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now
from django.utils.translation import gettext
from django_q.conf import Conf

from evaluation import claims, expected, figures
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
    has no case left to claim, the task helps the other live runs (oldest first) instead of idling while the
    run's last cases are answered: "compare with active" starts two runs at once, and the second one's tasks
    would otherwise wait for a free worker, then start with every thread idle in between.
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
    answerers = _Answerers(count=settings.EXPERIMENT_CONCURRENCY, client=client)
    try:
        # A run's calls share one price per model and day: no price query on each case's way.
        with pricing.prices_remembered():
            _TaskWork(runs, answerers=answerers, deadline=deadline).run()
    except BaseException:
        # A failing task (a database error, the worker's timeout) does not wait for the calls in flight: their
        # cases stay pending and are free again once their claims run out.
        answerers.stop(wait=False)
        raise
    answerers.stop()
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
        ).filter(claims.unclaimed())
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


class _TaskWork:
    """The task's own thread claims the cases and writes their answers; the answerers only answer them.

    Claims and writes are database round trips, and on a case's way they cost more than the rest of the case
    once several worker processes share the CPU (issue 13's benchmark: 10–14 ms per case, against 6–9 ms
    beyond the model's latency in the call itself). Here they happen while the answerers wait for the model,
    and a case claimed ahead waits in the queue: an answerer that hands back an answer takes it at once, while
    this thread writes the answer and claims the next. A run is finished the moment its last answer is
    written, not when the task stops helping others.
    """

    def __init__(self, runs, *, answerers, deadline):
        self.runs, self.answerers, self.deadline = runs, answerers, deadline
        self.current = runs.own
        self.finished_with = set()  # runs this task found without a case left to claim
        self.in_flight = collections.Counter()  # run id -> its cases handed out here and not written yet

    def run(self):
        self.hand_out()
        while self.answerers.busy:
            answered = self.answerers.answered()
            for state, result, outcome, error in answered:
                if error is None:
                    self.write(state, result, outcome)
            # What an answerer could not answer for (a database error) fails the task, once the answers that
            # came back with it are written: its case stays pending and is taken up again.
            for *_, error in answered:
                if error is not None:
                    raise error
            self.hand_out()

    def hand_out(self):
        """Claim a case for every free answerer: of the task's run, then of the other live runs."""
        while self.current is not None and self.answerers.free and not self.time_up():
            state = self.current
            token = uuid.uuid4().hex
            cases = claims.claim_cases(state.run, token, size=self.answerers.free) if state.budget.allows() else []
            for result in cases:
                self.in_flight[state.run.pk] += 1
                self.answerers.give(state, result)
            if not cases:
                # None left, the budget is spent, or the run was cancelled (a claim takes cases of a running run
                # only): on to another run.
                self.finished_with.add(state.run.pk)
                self.finish_if_answered(state)
                self.current = self.runs.next_to_help(self.finished_with)

    def write(self, state, result, outcome):
        self.in_flight[state.run.pk] -= 1
        if outcome is not None and not claims.write_answer(result, **outcome):
            logger.info("Experiment result %s was taken over or skipped meanwhile; this answer is dropped", result.pk)
        state.beat()
        self.finish_if_answered(state)

    def finish_if_answered(self, state):
        """Finish a run that has no case left to claim once this task's answers for it are written (another
        task may still hold some: then that one finishes it). A spent budget stops it in _conclude instead."""
        if state.run.pk in self.finished_with and not self.in_flight[state.run.pk] and not state.budget.reached():
            _finish_if_done(state.run)

    def time_up(self):
        return self.deadline is not None and time.monotonic() >= self.deadline


class _Answerers:
    """EXPERIMENT_CONCURRENCY threads answering the cases given to them, with one case more waiting for the
    first thread to be free (it starts at once, without waiting for a claim); with 1, each case is answered at
    once in the calling thread (as in tests, whose data other threads' connections cannot see)."""

    def __init__(self, *, count, client):
        self.client, self.size, self.busy = client, count + 1 if count > 1 else 1, 0
        self.todo, self.done = queue.SimpleQueue(), queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(count)] if count > 1 else []
        try:
            for thread in self.threads:
                thread.start()
        except BaseException:
            self.stop(wait=False)
            raise

    @property
    def free(self):
        return self.size - self.busy

    def give(self, state, result):
        self.busy += 1
        if self.threads:
            self.todo.put((state, result))
        else:
            self.done.put(self._answer(state, result))

    def answered(self):
        """[(run state, result, outcome, error)] handed back since the last call, at least one (waits for it);
        `error` is what the answerer could not answer for, else None."""
        answers = [self.done.get()]
        while True:
            try:
                answers.append(self.done.get_nowait())
            except queue.Empty:
                break
        self.busy -= len(answers)
        return answers

    def stop(self, *, wait=True):
        """End the threads: a case not started yet is left (pending, under its claim); with `wait`, each thread
        finishes the case it is answering (the task's thread writes nothing more, so only a failing task
        passes wait=False)."""
        while True:
            try:
                self.todo.get_nowait()
            except queue.Empty:
                break
        for _ in self.threads:
            self.todo.put(None)
        if wait:
            for thread in self.threads:
                thread.join()

    def _answer(self, state, result):
        try:
            return state, result, _case_run(result, run=state.run, client=self.client, budget=state.budget), None
        except BaseException as exc:  # noqa: BLE001 - raised in the task's thread; a thread must not die silently
            return state, result, None, exc

    def _work(self):
        try:
            for state, result in iter(self.todo.get, None):
                self.done.put(self._answer(state, result))
        finally:
            connections.close_all()  # this thread's connections only


def _case_run(result, *, run, client, budget):
    """Answer and score one case; returns the values its row is written with (None: the budget was spent
    before it was answered, so it stays pending and is skipped with the rest)."""
    if budget.reached():
        return None
    case, prompt = result.case, run.template
    key = (prompt.task_type, prompt.name)
    if key != answering.CLASSIFICATION_KEY and case.expected_intent not in FACT_BEARING_INTENTS:
        # Production never extracts facts from such an answer, so neither does the experiment.
        return {"outcome": Outcome.NOT_APPLICABLE}
    try:
        answers = answering.answers_for(email=case.email, prompt=prompt, client=client)
    except DatabaseError:
        raise  # not the case's fault: the row stays pending and is taken up again
    except Exception as exc:  # noqa: BLE001 - one odd e-mail must not stop (or endlessly restart) the run
        logger.exception("Experiment run %s: case %s could not be answered", run.pk, case.pk)
        return {"outcome": Outcome.SKIPPED, "skip_reason": f"unexpected {type(exc).__name__}: {exc}"}
    cost = sum((answer.cost_usd for answer in answers), Decimal("0"))
    budget.add(cost)
    if not answers:
        return {"outcome": Outcome.NOT_APPLICABLE}
    score = figures.case_score(case=case, prompt_key=key, answers=answers)
    return {
        "outcome": Outcome.SCORED, **score, "calls": len(answers), "cost_usd": cost,
        "input_tokens": sum(a.input_tokens for a in answers), "output_tokens": sum(a.output_tokens for a in answers),
        "latency_ms": sum(a.latency_ms for a in answers),
        "error": "; ".join(
            f"{a.attachment_name or a.source}: {a.error}" if len(answers) > 1 else a.error for a in answers if a.error
        ),
    }


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
