"""Claims on the review queue: an e-mail opened in the workstation is held for its operator for
REVIEW_CLAIM_MINUTES, so two operators working the queue at once are not both sent the oldest e-mail.

A claim is two columns of the e-mail (who, since when), taken with one conditional UPDATE: of two operators
claiming at once, the database lets the first through and the second's WHERE no longer matches (PostgreSQL
re-checks it on the row the first one updated). No claim is ever waited for: it lapses on its own, and saving
or skipping the e-mail releases it.
"""

import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from extraction.models import IncomingEmail


def claim_lapsed_before(now=None):
    """Claims taken before this moment have lapsed."""
    return (now or timezone.now()) - datetime.timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)


def claimable_by(operator, *, now=None):
    """E-mails `operator` may claim: unclaimed, claimed by them, or claimed by someone whose claim has lapsed."""
    return (
        Q(review_claimed_by__isnull=True)
        | Q(review_claimed_by=operator)
        | Q(review_claimed_at__lt=claim_lapsed_before(now))
    )


def email_review_claim(*, email_id, operator, take_over=False):
    """Claim the e-mail for `operator` (again: the claim runs from now). True when they hold it now.

    Without `take_over`, another operator's live claim is left alone and False returned; with it, theirs ends.
    """
    now = timezone.now()
    emails = IncomingEmail.objects.filter(pk=email_id)
    if not take_over:
        emails = emails.filter(claimable_by(operator, now=now))
    return emails.update(review_claimed_by=operator, review_claimed_at=now) == 1


def email_review_release(*, email_id, operator):
    """End `operator`'s claim on the e-mail (someone else's claim, taken over meanwhile, stays)."""
    IncomingEmail.objects.filter(pk=email_id, review_claimed_by=operator).update(
        review_claimed_by=None, review_claimed_at=None
    )
