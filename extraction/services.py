"""The extraction app's writes, in one place for the rest of the product (admin, commands, other apps).

The work lives in one module per concern; import from here outside the extraction app:
- extraction.ingestion: storing a raw e-mail with its attachments and queueing it (`ingest_message`);
- extraction.processing: one processing run's writes (claim, record a call's answer, finish, fail);
- extraction.recovery: re-queueing by hand, and recovering runs a killed worker left behind;
- extraction.intake: fetching the practice's IMAP mailbox into the ingestion (`imap_fetch`);
- extraction.review: an operator's review of an e-mail, scored per prompt version (`email_review`);
- extraction.review_claims: the workstation's short hold on an open e-mail (`email_review_claim`, `..._release`).
"""

from extraction.answering import Classification
from extraction.ingestion import ingest_message
from extraction.intake import imap_fetch
from extraction.processing import (
    email_claim,
    email_fail,
    email_finish,
    email_record_classification,
    result_record,
)
from extraction.recovery import REQUEUEABLE, email_requeue, emails_recover_stranded
from extraction.review import email_review
from extraction.review_claims import email_review_claim, email_review_release

__all__ = [
    "REQUEUEABLE",
    "Classification",
    "email_claim",
    "email_fail",
    "email_finish",
    "email_record_classification",
    "email_requeue",
    "email_review",
    "email_review_claim",
    "email_review_release",
    "emails_recover_stranded",
    "imap_fetch",
    "ingest_message",
    "result_record",
]
