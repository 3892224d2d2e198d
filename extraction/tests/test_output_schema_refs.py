"""A prompt version stored with an unusable output schema (before the check, by an import or raw SQL)
never makes the worker fetch, hang or crash, nor pay for a call whose answer cannot be checked: the call is
not sent and the e-mail fails with the reason (to be re-queued once the version is fixed). An answer too big
to validate quickly goes to review with the reason."""

import pytest

from extraction import tasks
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import BODY_ANSWER, raw_email
from prompts.models import PromptTemplate
from prompts.tests.recording_server import FETCHED_MARKER, recording_server
from prompts.tests.test_hostile_schemas import (
    DUPLICATE_ANCHOR,
    ID_REBASES_REFERENCE,
    fan_out,
    nested_unevaluated,
)

pytestmark = pytest.mark.django_db


def store_body_schema(schema):
    """Give the active body-extraction version `schema` without any check, as an old row or raw SQL would."""
    PromptTemplate.objects.filter(task_type="extraction", name="email_body", is_active=True).update(
        output_schema=schema
    )


def process(api, body_answer=None):
    api.answers["classify"] = {"intent": "payment_plan", "confidence": 0.96}
    if body_answer is not None:
        api.answers["body"] = body_answer
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    return email


def test_an_answer_checked_against_a_remote_ref_goes_to_review_and_nothing_is_fetched(api):
    with recording_server() as server:
        store_body_schema(
            {"type": "object", "properties": {"total_claim": {"$ref": server.url("/schema.json")}}}
        )
        email = process(api)
        assert server.hits == []
    assert_failed_before_the_call(api, email, "points outside this schema")
    assert FETCHED_MARKER not in email.error


def assert_failed_before_the_call(api, email, reason):
    assert email.status == IncomingEmail.Status.FAILED
    assert "extract_body: the prompt version's output schema cannot be used" in email.error
    assert reason in email.error
    assert api.kinds() == ["classify"]  # the body extraction was never sent, so never paid for


# A reference the pattern below would take hours to reject: 2**28 ways to split it into words.
UNMATCHABLE_REFERENCE = "INK2026004881500000000000000!"


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        (ID_REBASES_REFERENCE, "id is only allowed at the top of the schema"),
        (DUPLICATE_ANCHOR, "the anchor 'amount' is defined twice"),
        (fan_out(9, 10), "values once its references are followed"),
        (nested_unevaluated(14), "unevaluatedProperties/unevaluatedItems may be used once"),
        ({"type": "object", "properties": {"creditor_reference": {"type": "string", "pattern": "^(\\w+\\s?)+$"}}},
         "repeats a part of variable length"),
    ],
    ids=["draft-4 id", "duplicate anchor", "billion laughs", "nested unevaluatedProperties", "catastrophic pattern"],
)
def test_a_stored_hostile_schema_fails_the_email_with_the_reason_before_any_call(api, schema, reason):
    store_body_schema(schema)
    email = process(api, {**BODY_ANSWER, "creditor_reference": UNMATCHABLE_REFERENCE})
    assert_failed_before_the_call(api, email, reason)


@pytest.mark.parametrize(
    ("schema", "answer", "reason"),
    [
        ({"type": "object", "properties": {"notes": {"type": "array", "uniqueItems": True}}},
         {**BODY_ANSWER, "notes": [{"line": i} for i in range(5_000)]}, "a list has 5,000 items, more than 200"),
        ({"type": "object", "properties": {"creditor_reference": {"type": "string", "pattern": "^[A-Z0-9-]+$"}}},
         {**BODY_ANSWER, "creditor_reference": "A" * 5_000},
         "a text of 5,000 characters is longer than the 1,000 characters checked against this pattern"),
    ],
    ids=["uniqueItems over 5,000 items", "a 5,000-character reference against a pattern"],
)
def test_an_answer_too_big_to_validate_quickly_sends_the_email_to_review_with_the_reason(api, schema, answer, reason):
    store_body_schema(schema)
    email = process(api, answer)
    assert email.status == IncomingEmail.Status.MANUAL_REVIEW
    assert reason in email.review_reason
