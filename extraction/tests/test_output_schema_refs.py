"""A prompt version stored with a remote `$ref` in its output schema (before the check, or by raw SQL)
never makes the worker fetch it: the answer goes to review with a reason that shows nothing fetched."""

import pytest

from extraction import tasks
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email
from prompts.models import PromptTemplate
from prompts.tests.recording_server import FETCHED_MARKER, recording_server

pytestmark = pytest.mark.django_db


def test_an_answer_checked_against_a_remote_ref_goes_to_review_and_nothing_is_fetched(api):
    with recording_server() as server:
        PromptTemplate.objects.filter(task_type="extraction", name="email_body", is_active=True).update(
            output_schema={"type": "object", "properties": {"total_claim": {"$ref": server.url("/schema.json")}}}
        )
        api.answers["classify"] = {"intent": "payment_plan", "confidence": 0.96}
        email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
        tasks.process_email(email.pk, client=api.client())
        email.refresh_from_db()
        assert server.hits == []
    assert email.status == IncomingEmail.Status.MANUAL_REVIEW
    assert "output schema cannot be used" in email.review_reason
    assert "points outside this schema" in email.review_reason
    assert FETCHED_MARKER not in email.review_reason
