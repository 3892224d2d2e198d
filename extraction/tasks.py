"""django-q2 entry points of the extraction app (thin: the work is in extraction.pipeline and .recovery)."""

from extraction import intake, pipeline, recovery, sampling


def process_email(email_id, *, client=None):
    """Classify and extract one e-mail; returns its final status, or None if it was not waiting."""
    email = pipeline.process_email(email_id, client=client)
    return email.status if email is not None else None


def recover_stranded_emails():
    """Every few minutes: re-queue e-mails whose task was lost with a killed worker."""
    return recovery.emails_recover_stranded()


def sample_queue_depth():
    """Every minute: e-mails waiting and the django-q2 queue size."""
    return [metric.value for metric in sampling.queue_depths_record()]


def fetch_mail():
    """Every IMAP_FETCH_MINUTES: fetch the IMAP mailbox; failures are recorded on its MailboxState and logged."""
    return intake.imap_fetch()
