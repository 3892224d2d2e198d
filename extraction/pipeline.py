"""Processing of one e-mail: classify it, extract facts from its body, PDFs and images, merge.

LLM calls happen outside transactions (no database lock is held while waiting for the API); each
answer is then stored with its metrics in one transaction by extraction.processing. A rerun (a
retried task, a crashed worker, an operator's reprocess) updates the same result rows and drops
the ones it no longer produces, so an e-mail always has one result set.
"""

import contextlib
import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django_q.exceptions import TimeoutException

from extraction import answering, llm, processing, selectors
from extraction.models import FACT_BEARING_INTENTS, ExtractionResult
from prompts.errors import NoActivePrompt, TemplateRenderError
from prompts.selectors import get_active_prompt

logger = logging.getLogger(__name__)

# Failures that need an operator (or the API to recover), not a code fix: the e-mail waits as failed.
EXPECTED_FAILURES = (llm.LLMNotConfigured, llm.LLMCallFailed, NoActivePrompt, TemplateRenderError)


class StageFailed(Exception):
    """A stage of a run raised; the original exception is the __cause__."""

    def __init__(self, stage):
        super().__init__(stage)
        self.stage = stage


def process_email(email_id, *, client=None):
    """Process one e-mail if it is waiting; returns the e-mail, or None if another run has it."""
    email = processing.email_claim(email_id=email_id)
    if email is None:
        logger.info("E-mail %s is not waiting to be processed; skipped.", email_id)
        return None
    try:
        return _run(email, client=client, started=time.perf_counter())
    except StageFailed as failed:
        stage, error = failed.stage, failed.__cause__
    # Handled outside the except block, so an error raised again carries its own context, not the wrapper.
    return _after_failure(email, stage=stage, error=error)


def _after_failure(email, *, stage, error):
    """Record why a run stopped; returns the failed e-mail, or raises `error` again when the worker must see it."""
    if isinstance(error, EXPECTED_FAILURES):
        return processing.email_fail(
            email=email, reason=f"{stage}: {getattr(error, 'reason', error)}", stage=stage,
            error_type=getattr(error, "error_type", type(error).__name__),
            prompt_version=getattr(error, "prompt", None),
            execution_time_ms=getattr(error, "execution_time_ms", None),
        )
    if isinstance(error, TimeoutException):
        # The worker's time limit (a SystemExit): the task is acknowledged as failed and never
        # handed out again, so the e-mail must not stay "processing".
        processing.email_fail(
            email=email, stage=stage, error_type="TaskTimeout",
            reason=f"{stage}: processing took longer than the worker's limit (Q_TIMEOUT = "
                   f"{settings.Q_CLUSTER.get('timeout')} s)",
        )
    elif isinstance(error, (OperationalError, InterfaceError)):
        # The database went away (a restart, a failover): recording a failure would fail as well, and
        # the e-mail is not at fault. It stays "processing" until the broker hands the task out again
        # or the recovery schedule re-queues it (extraction.recovery).
        logger.warning("E-mail %s: database unavailable at %s; it will be processed again", email.pk, stage)
    else:
        logger.error("E-mail %s: unexpected error at %s", email.pk, stage, exc_info=error)
        processing.email_fail(
            email=email, reason=f"{stage}: unexpected {type(error).__name__}: {error}", stage=stage,
            error_type=type(error).__name__,
        )
    raise error


@contextlib.contextmanager
def _stage(name):
    """Name the stage in which anything below raises (TimeoutException included: it is a SystemExit)."""
    try:
        yield
    except (Exception, TimeoutException) as exc:
        raise StageFailed(name) from exc


def _run(email, *, client, started):
    with _stage("configuration"):
        client = client or llm.get_client()
    with _stage("classify"):
        call = answering.intent_call(email=email, prompt=_active(answering.CLASSIFICATION_KEY, email), client=client)
        classification = processing.email_record_classification(email=email, call=call)
    if classification.problem:
        results, reasons = [], [f"classification answer unusable: {classification.problem}"]
    elif classification.intent in FACT_BEARING_INTENTS:
        results, reasons = _extract(email, client=client, spent=call.cost_usd)
    else:
        results, reasons = [], []
    with _stage("finish"):
        return processing.email_finish(
            email=email, results=results, review_reasons=reasons,
            duration_ms=(time.perf_counter() - started) * 1000,
        )


def _extract(email, *, client, spent):
    """(results, review reasons) of the extraction calls for the body and the attachments worth reading.

    `spent` is what the run's calls have cost so far; once it is over MAX_COST_PER_EMAIL_USD no
    further call is made (the call that crossed the line is already paid).
    """
    plan = selectors.attachments_to_analyse(email=email)
    reasons = [f"{attachment.original_name} not analysed: {refusal}" for attachment, refusal in plan.refused]
    if plan.over_limit:
        reasons.append(
            f"{_names(plan.over_limit)} not analysed: only the first {settings.MAX_ANALYSED_ATTACHMENTS} PDFs "
            "and images of an e-mail are (MAX_ANALYSED_ATTACHMENTS)"
        )
    sources = [(ExtractionResult.Source.BODY, None), *plan.analyse]
    results = []
    for position, (source, attachment) in enumerate(sources):
        if spent > settings.MAX_COST_PER_EMAIL_USD:
            reasons.append(
                f"{_names([a or 'the e-mail body' for _, a in sources[position:]])} not analysed: this run's "
                f"calls cost ${spent:.4f}, over MAX_COST_PER_EMAIL_USD (${settings.MAX_COST_PER_EMAIL_USD})"
            )
            break
        with _stage(f"extract_{source}"):
            if attachment is None:
                call = answering.body_facts_call(email=email, prompt=_active(answering.BODY_KEY, email), client=client)
            else:
                prompt = _active(answering.PROMPT_FOR_SOURCE[source], email)
                call = answering.document_facts_call(attachment=attachment, prompt=prompt, client=client)
            results.append(processing.result_record(email=email, source=source, attachment=attachment, call=call))
        spent += call.cost_usd
    return results, reasons


def _names(items, *, shown=10):
    """'a.pdf, b.pdf and 3 more': a review reason stays short however many files a sender attaches."""
    names = [str(item) for item in items]
    if len(names) > shown:
        return f"{', '.join(names[:shown])} and {len(names) - shown} more"
    return ", ".join(names)


def _active(prompt_key, email):
    # The e-mail routes the call: while a canary runs, the same e-mail always gets the same version.
    return get_active_prompt(*prompt_key, routing_key=email.pk)
