"""Writes of evaluation sets: creating a set from reviewed e-mails and adding cases to it.

A case snapshots the review's intent and facts when it is added (EvaluationCase.expected_*): a later
re-review of the e-mail changes nothing in the set.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from evaluation import expected
from evaluation.errors import EvaluationError, NotReviewed
from evaluation.models import EvaluationCase, EvaluationSet
from extraction.models import IncomingEmail
from extraction.scoring import REVIEW_FIELDS


def _username(user):
    return user if isinstance(user, str) else user.get_username()


@transaction.atomic
def evaluation_set_create(*, name, emails, created_by, description=""):
    """A new set whose cases are `emails` (reviewed ones only; otherwise NotReviewed and nothing is saved)."""
    name = (name or "").strip()
    if EvaluationSet.objects.filter(name=name).exists():
        raise EvaluationError(gettext(
            "An evaluation set named “%(name)s” exists already; add the e-mails to it or pick another name."
        ) % {"name": name})
    evaluation_set = EvaluationSet(name=name, description=description, created_by=_username(created_by))
    try:
        evaluation_set.full_clean()
    except ValidationError as exc:
        raise EvaluationError("; ".join(exc.messages)) from exc
    evaluation_set.save()
    evaluation_set_add(evaluation_set=evaluation_set, emails=emails, added_by=created_by)
    return evaluation_set


@transaction.atomic
def evaluation_set_add(*, evaluation_set, emails, added_by, imported=False):
    """Add reviewed `emails` as cases with their review's answer as it is now; returns the new cases.

    E-mails already in the set are left as they are (their snapshot does not change). Raises NotReviewed,
    saving nothing, when any e-mail has no review.
    """
    ids = [getattr(email, "pk", email) for email in emails]
    # Locked, so a review saved meanwhile cannot slip between the check and the snapshot.
    chosen = list(
        IncomingEmail.objects.select_for_update(of=("self",)).filter(pk__in=ids).select_related("review").order_by("pk")
    )
    if not chosen:
        raise EvaluationError(gettext("Choose at least one reviewed e-mail."))
    unreviewed = [email for email in chosen if not _has_review(email)]
    if unreviewed:
        raise NotReviewed(unreviewed)
    present = set(evaluation_set.cases.filter(email__in=chosen).values_list("email_id", flat=True))
    cases = [
        EvaluationCase(
            evaluation_set=evaluation_set, email=email, expected_intent=email.review.intent,
            expected_facts=expected.facts_to_json({name: getattr(email.review, name) for name in REVIEW_FIELDS}),
            review_revision=None if imported else email.review.revision, imported=imported,
            added_by=_username(added_by),
        )
        for email in chosen if email.pk not in present
    ]
    return EvaluationCase.objects.bulk_create(cases)


def _has_review(email):
    return email.status == IncomingEmail.Status.REVIEWED and hasattr(email, "review")
