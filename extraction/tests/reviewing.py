"""Helpers for the review workstation's tests: reviewers, e-mails the pipeline has answered, the queue."""

import datetime
import itertools

from django.contrib.auth.models import Permission, User
from django.utils import timezone

from extraction import tasks
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email

REVIEWER_PERMISSIONS = ("view_incomingemail", "review_email")
_numbers = itertools.count(1)


def make_staff(username, *codenames):
    """A staff user holding the given extraction permissions (by codename)."""
    user = User.objects.create_user(username, password="geheim-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="extraction", codename__in=codenames))
    return user


def make_reviewer(username="rita"):
    return make_staff(username, *REVIEWER_PERMISSIONS)


def answered_email(api, name="statement_with_pdf.eml", **answers):
    """A test e-mail ingested and processed against the fake API (`api` fixture), as the worker leaves it."""
    api.answers.update(answers)
    email = ingest_message(raw_email(name))
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    return email


def queue_email(*, status, minutes_ago, review_sample=False, subject=""):
    """A bare e-mail row that arrived `minutes_ago` (the queue orders by arrival)."""
    number = next(_numbers)
    return IncomingEmail.objects.create(
        message_id=f"<queue-{number}@test.example>", sender="Inkasso <x@inkasso.example>",
        subject=subject or f"E-mail {number}", status=status, review_sample=review_sample,
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )
