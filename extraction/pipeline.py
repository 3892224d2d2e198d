"""Processing of one e-mail: classify it, extract facts from its body, PDFs and images, merge.

LLM calls happen outside transactions (no database lock is held while waiting for the API); each
answer is then stored with its metrics in one transaction by extraction.services. A rerun (a
retried task, a crashed worker, an operator's reprocess) updates the same result rows and drops
the ones it no longer produces, so an e-mail always has one result set.
"""

import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django_q.exceptions import TimeoutException

from extraction import llm, selectors, services
from extraction.models import ExtractionResult
from prompts.errors import NoActivePrompt, TemplateRenderError
from prompts.selectors import get_active_prompt

logger = logging.getLogger(__name__)

# The intent shows in the first paragraphs; the cap bounds the cost of long quoted threads.
CLASSIFICATION_BODY_CHARS = 3000
# A body longer than this is a quoted history; the creditor's answer is at the top.
EXTRACTION_BODY_CHARS = 60_000
PROMPT_FOR_SOURCE = {
    ExtractionResult.Source.PDF: ("extraction", "pdf_scanned"),
    ExtractionResult.Source.IMAGE: ("extraction", "image"),
}
# Failures that need an operator (or the API to recover), not a code fix: the e-mail waits as failed.
EXPECTED_FAILURES = (llm.LLMNotConfigured, llm.LLMCallFailed, NoActivePrompt, TemplateRenderError)


def process_email(email_id, *, client=None):
    """Process one e-mail if it is waiting; returns the e-mail, or None if another run has it."""
    email = services.email_claim(email_id=email_id)
    if email is None:
        logger.info("E-mail %s is not waiting to be processed; skipped.", email_id)
        return None
    started = time.perf_counter()
    run = _Run(email=email, client=client)
    try:
        run.client = client or llm.get_client()
        return run.execute(started)
    except EXPECTED_FAILURES as exc:
        return services.email_fail(
            email=email, reason=f"{run.stage}: {getattr(exc, 'reason', exc)}", stage=run.stage,
            error_type=getattr(exc, "error_type", type(exc).__name__),
            prompt_version=run.prompt if isinstance(exc, llm.LLMCallFailed) else None,
            execution_time_ms=getattr(exc, "execution_time_ms", None),
        )
    except TimeoutException:
        # The worker's time limit (a SystemExit, so not caught below): the task is acknowledged as
        # failed and never handed out again, so the e-mail must not stay "processing".
        services.email_fail(
            email=email, stage=run.stage, error_type="TaskTimeout",
            reason=f"{run.stage}: processing took longer than the worker's limit (Q_TIMEOUT = "
                   f"{settings.Q_CLUSTER.get('timeout')} s)",
        )
        raise
    except (OperationalError, InterfaceError):
        # The database went away (a restart, a failover): recording a failure would fail as well, and
        # the e-mail is not at fault. It stays "processing" until the broker hands the task out again
        # or the recovery schedule re-queues it (services.emails_recover_stranded).
        logger.warning("E-mail %s: database unavailable at %s; it will be processed again", email_id, run.stage)
        raise
    except Exception as exc:
        logger.exception("E-mail %s: unexpected error at %s", email_id, run.stage)
        services.email_fail(
            email=email, reason=f"{run.stage}: unexpected {type(exc).__name__}: {exc}", stage=run.stage,
            error_type=type(exc).__name__,
        )
        raise


class _Run:
    """One processing run; `stage` and `prompt` say where a failure happened."""

    def __init__(self, *, email, client):
        self.email = email
        self.client = client
        self.stage = "configuration"
        self.prompt = None

    def execute(self, started):
        email = self.email
        classification = self._call(
            "classify", ("classification", "email_intent"),
            variables={"subject": email.subject, "truncated_body": email.body_text[:CLASSIFICATION_BODY_CHARS]},
        )
        problem = services.email_record_classification(email=email, call=classification)
        results, reasons = [], []
        if problem:
            reasons.append(f"classification answer unusable: {problem}")
        elif email.intent in services.FACT_INTENTS:
            call = self._call(
                "extract_body", ("extraction", "email_body"),
                variables={"sender": email.sender, "subject": email.subject,
                           "body": email.body_text[:EXTRACTION_BODY_CHARS]},
            )
            results.append(services.result_record(email=email, source=ExtractionResult.Source.BODY, call=call))
            for attachment, source, refusal in selectors.attachments_to_analyse(email=email):
                if refusal:
                    reasons.append(f"{attachment.original_name} not analysed: {refusal}")
                    continue
                with attachment.file.open("rb") as handle:
                    document = llm.Document(content_type=attachment.content_type, data=handle.read())
                call = self._call(f"extract_{source}", PROMPT_FOR_SOURCE[source], document=document)
                results.append(
                    services.result_record(email=email, source=source, attachment=attachment, call=call)
                )
        return services.email_finish(
            email=email, results=results, review_reasons=reasons,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def _call(self, stage, prompt_key, *, variables=None, document=None):
        self.stage = stage
        self.prompt = get_active_prompt(*prompt_key)
        return llm.call_prompt(self.prompt, variables=variables, document=document, client=self.client)
