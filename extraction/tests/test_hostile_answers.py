"""Answers that used to crash the pipeline end in manual review (or failed, for usage that cannot be
priced) with a reason, the same on SQLite and PostgreSQL: never an unexpected error.

The answers come through the real anthropic client on an httpx2.MockTransport (see conftest)."""

import json

import httpx2
import pytest

from extraction import tasks
from extraction.models import ExtractionResult, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import BODY_ANSWER, message_body, raw_email
from metrics.models import MetricType, OperationalMetrics

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
BODY_JSON = json.dumps(BODY_ANSWER, ensure_ascii=False)


def process(api, **answers):
    api.answers.update(answers)
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    tasks.process_email(email.pk, client=api.client())  # raises on an unexpected error
    email.refresh_from_db()
    assert not OperationalMetrics.objects.filter(
        email_id=email.pk,
        metric_type=MetricType.ERROR_COUNT,
        labels__error_type__in=["DataError", "ValueError", "TypeError"],
    ).exists()
    return email


def answer(text=BODY_JSON, **fields):
    """A 200 answer whose Messages API fields (usage, stop_reason, ...) can be anything."""
    return lambda: httpx2.Response(200, json=message_body(text, **fields))


def test_a_classification_with_a_nan_confidence_goes_to_review(api):
    email = process(api, classify='{"intent": "debt_statement", "confidence": NaN}')
    assert email.status == Status.MANUAL_REVIEW and email.intent == ""
    assert "classification answer unusable: the answer is not valid JSON (NaN is not a JSON number)" in (
        email.review_reason
    )


@pytest.mark.parametrize(
    ("confidence", "reason"),
    [
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("1e400", "the number 1e400 is too large"),
    ],
)
def test_an_extraction_with_a_confidence_that_is_not_a_number_goes_to_review(api, confidence, reason):
    email = process(api, body=BODY_JSON.replace('"confidence": 0.93', f'"confidence": {confidence}'))
    assert email.status == Status.MANUAL_REVIEW
    assert f"E-mail body: the answer is not valid JSON ({reason})" in email.review_reason
    body = email.results.get(source=ExtractionResult.Source.BODY)
    assert (body.success, body.parsed, body.confidence) == (False, None, None)


@pytest.mark.parametrize(
    "escaped",
    ["Inkasso\\u0000GmbH", "\\u0000", "Inkasso \\ud800 GmbH", "\\udfff"],
    ids=["nul", "only-nul", "lone-high-surrogate", "lone-low-surrogate"],
)
def test_an_extraction_with_characters_no_database_can_store_goes_to_review(api, escaped):
    text = BODY_JSON.replace('"Creditreform Inkasso Süd GmbH & Co. KG"', f'"{escaped}"')
    email = process(api, body=text)
    assert email.status == Status.MANUAL_REVIEW
    assert "the answer cannot be stored: it contains a NUL character or an unpaired surrogate" in email.review_reason
    assert email.results.get(source=ExtractionResult.Source.BODY).raw_response == text  # the escapes, as written


def test_a_nul_character_in_the_answer_text_is_stored_replaced_and_the_email_goes_to_review(api):
    email = process(api, body=answer('{"creditor_name": "Inkasso\x00GmbH"}'))
    body = email.results.get(source=ExtractionResult.Source.BODY)
    assert body.raw_response == '{"creditor_name": "Inkasso\ufffdGmbH"}'
    assert email.status == Status.MANUAL_REVIEW and "Invalid control character" in email.review_reason


@pytest.mark.parametrize(
    ("depth", "reason"),
    [
        (40, "the answer cannot be stored: it is nested more than 32 levels deep"),
        (5000, "the answer is not valid JSON (maximum recursion depth exceeded while decoding a JSON array"),
    ],
)
def test_an_answer_nested_deeper_than_any_answer_goes_to_review(api, depth, reason):
    email = process(api, body='{"creditor_name": ' + "[" * depth + "]" * depth + "}")
    assert email.status == Status.MANUAL_REVIEW
    assert f"E-mail body: {reason}" in email.review_reason


def test_a_refusal_with_valid_looking_json_goes_to_review(api):
    email = process(api, body=answer(stop_reason="refusal"))
    assert email.status == Status.MANUAL_REVIEW
    assert "E-mail body: the model refused to answer (stop_reason: refusal)" in email.review_reason
    assert not email.results.get(source=ExtractionResult.Source.BODY).success


@pytest.mark.parametrize(
    ("field", "written"),
    [("total_claim", "-2.847,13 €"), ("interest", "-0,01 EUR"), ("costs", "EUR -224.50")],
)
def test_a_negative_amount_goes_to_review_with_the_reason(api, field, written):
    email = process(api, body=BODY_ANSWER | {field: written})
    assert email.status == Status.MANUAL_REVIEW
    label = ExtractionResult._meta.get_field(field).verbose_name  # "total claim": the operator's word, not the column
    assert f"E-mail body: could not read {label} (a negative amount: {written!r})" in email.review_reason
    assert getattr(email.results.get(source=ExtractionResult.Source.MERGED), field) is None


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": -1200, "output_tokens": 85},
        {"input_tokens": 1200, "output_tokens": -1},
        {"input_tokens": 10**15, "output_tokens": 85},
        {"input_tokens": 1200, "output_tokens": 2**63},
        {"input_tokens": "1200", "output_tokens": 85},
        {"input_tokens": 1200.5, "output_tokens": 85},
        {"input_tokens": None, "output_tokens": 85},
        {"input_tokens": True, "output_tokens": 85},
    ],
    ids=["negative-input", "negative-output", "absurd", "beyond-bigint", "string", "float", "null", "boolean"],
)
def test_usage_that_cannot_be_priced_fails_the_email_with_the_reason(api, usage):
    def body():
        return httpx2.Response(200, json=message_body(BODY_JSON) | {"usage": usage})

    email = process(api, body=body)
    assert email.status == Status.FAILED
    assert email.error == (
        f"extract_body: the answer's usage cannot be priced (input_tokens {usage['input_tokens']!r}, "
        f"output_tokens {usage['output_tokens']!r})"
    )
    error = OperationalMetrics.objects.get(email_id=email.pk, metric_type=MetricType.ERROR_COUNT)
    assert error.labels == {"stage": "extract_body", "error_type": "UnpriceableUsage"}


@pytest.mark.parametrize(
    "broken",
    [{"content": None}, {"content": [{"type": "text", "text": None}]}, {"usage": None}, {"content": "text"}],
    ids=["no-content", "null-text", "no-usage", "content-string"],
)
def test_a_message_with_fields_of_the_wrong_type_fails_the_email_with_the_reason(api, broken):
    email = process(api, body=lambda: httpx2.Response(200, json=message_body(BODY_JSON) | broken))
    assert email.status == Status.FAILED
    assert email.error.startswith("extract_body: the Anthropic API answered with a body that is not a Messages API")
