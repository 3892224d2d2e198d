"""process_email classifies an e-mail, extracts facts from body, PDFs and images, and merges them."""

import datetime
import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from devtools.fake_api import FakeAnthropicServer
from extraction import services, tasks
from extraction.models import ExtractionResult, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import BODY_ANSWER, PDF_ANSWER, error_response, message_body, raw_email
from metrics.models import MetricType, OperationalMetrics, PromptPerformanceMetrics

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
Source = ExtractionResult.Source
NO_FACTS = dict.fromkeys(BODY_ANSWER, None) | {"confidence": 0.9}


def process(api, name, **answers):
    """Ingest a test e-mail (inside the test transaction nothing is queued) and process it."""
    api.answers.update(answers)
    email = ingest_message(raw_email(name))
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    return email


def results(email):
    return {(r.source, r.attachment.original_name if r.attachment_id else None): r for r in email.results.all()}


def test_an_accepted_settlement_is_classified_extracted_normalised_and_merged(api):
    email = process(api, "acceptance_utf8_qp.eml", classify={"intent": "payment_plan", "confidence": 0.96})
    assert api.kinds() == ["classify", "body"]
    assert (email.status, email.intent, email.intent_confidence) == (Status.EXTRACTED, "payment_plan", 0.96)
    assert email.lowest_confidence == 0.93 and email.review_reason == "" and email.attempts == 1
    body = results(email)[(Source.BODY, None)]
    assert body.success and body.parsed == BODY_ANSWER and json.loads(body.raw_response) == BODY_ANSWER
    assert body.prompt_version.key == "extraction.email_body"
    assert (body.total_claim, body.principal, body.interest, body.costs) == (
        Decimal("2847.13"), Decimal("2310.00"), Decimal("312.63"), Decimal("224.50")
    )
    assert (body.creditor_reference, body.debtor_name, body.accepts_plan) == ("INK-2026-0048815", "Jürgen Weiß", True)
    merged = results(email)[(Source.MERGED, None)]
    assert (merged.total_claim, merged.creditor_name, merged.needs_review) == (
        Decimal("2847.13"), "Creditreform Inkasso Süd GmbH & Co. KG", False
    )


def test_a_rejection_records_that_the_plan_is_not_accepted(api):
    email = process(
        api, "rejection_windows1252.eml",
        classify={"intent": "rejection", "confidence": 0.98},
        body=NO_FACTS | {"creditor_name": "Vodafone GmbH", "creditor_reference": "77-3310/26",
                         "debtor_name": "Anna Schäfer", "total_claim": "4.512,80 €", "statement_date": "10.11.2026",
                         "accepts_plan": False, "confidence": 0.92},
    )
    merged = results(email)[(Source.MERGED, None)]
    assert email.status == Status.EXTRACTED
    assert (merged.accepts_plan, merged.total_claim, merged.statement_date) == (
        False, Decimal("4512.80"), datetime.date(2026, 11, 10)
    )


def test_a_counter_offer_with_an_english_style_amount_is_normalised(api):
    email = process(
        api, "counter_offer_base64.eml",
        classify={"intent": "payment_plan", "confidence": 0.9},
        body=NO_FACTS | {"creditor_name": "Stadtwerke Musterstadt GmbH", "total_claim": "EUR 2280.00",
                         "accepts_plan": False, "confidence": 0.85},
    )
    assert results(email)[(Source.MERGED, None)].total_claim == Decimal("2280.00")
    assert email.status == Status.EXTRACTED


def test_a_statement_pdf_is_read_as_a_document_and_fills_what_the_body_lacks(api):
    email = process(
        api, "statement_with_pdf.eml",
        body=NO_FACTS | {"creditor_name": "Brandt & Kollegen", "creditor_reference": "2026/118-BK", "confidence": 0.75},
    )
    assert api.kinds() == ["classify", "body", "pdf"]
    found = results(email)
    pdf = found[(Source.PDF, "Forderungsaufstellung_2026-118-BK.pdf")]
    assert pdf.prompt_version.key == "extraction.pdf_scanned" and pdf.attachment.email_id == email.pk
    merged = found[(Source.MERGED, None)]
    # The more confident PDF wins where both have a value; the body's values never hide the PDF's.
    assert merged.creditor_name == "Brandt & Kollegen Rechtsanwälte"
    assert (merged.total_claim, merged.principal, merged.statement_date) == (
        Decimal("2219.67"), Decimal("1980.00"), datetime.date(2026, 11, 5)
    )
    assert merged.confidence == 0.75 and email.status == Status.EXTRACTED


def test_a_photographed_letter_is_read_as_an_image(api):
    email = process(api, "photographed_letter.eml", body=NO_FACTS | {"total_claim": "1.312,40 €", "confidence": 0.8})
    assert api.kinds() == ["classify", "body", "image"]
    assert api.requests[2]["messages"][0]["content"][0]["source"]["media_type"] == "image/jpeg"
    image = results(email)[(Source.IMAGE, "Brief EOS März.jpeg")]
    assert (image.creditor_reference, image.total_claim) == ("EOS-88123456", Decimal("1312.40"))
    assert email.status == Status.EXTRACTED


def test_an_out_of_office_reply_is_only_classified(api):
    email = process(api, "out_of_office.eml", classify={"intent": "auto_reply", "confidence": 0.99})
    assert api.kinds() == ["classify"]
    assert (email.status, email.intent, email.lowest_confidence) == (Status.CLASSIFIED, "auto_reply", 0.99)
    assert not email.results.exists()


def test_an_inquiry_goes_to_manual_review_without_extraction(api):
    email = process(api, "out_of_office.eml", classify={"intent": "inquiry", "confidence": 0.9})
    assert api.kinds() == ["classify"]
    assert email.status == Status.MANUAL_REVIEW
    assert "needs a manual answer" in email.review_reason


def test_an_answer_that_is_not_json_is_an_unsuccessful_extraction_sent_to_review(api):
    email = process(api, "acceptance_utf8_qp.eml", body="Die Forderung beträgt 2.847,13 €.")
    body = results(email)[(Source.BODY, None)]
    assert (body.success, body.parsed, body.raw_response) == (False, None, "Die Forderung beträgt 2.847,13 €.")
    assert body.needs_review and body.error.startswith("the answer is not valid JSON")
    assert email.status == Status.MANUAL_REVIEW
    assert "E-mail body: the answer is not valid JSON" in email.review_reason
    metric = PromptPerformanceMetrics.objects.get(prompt_version=body.prompt_version)
    assert (metric.success, metric.needs_review, metric.input_tokens) == (False, True, 1200)


def test_json_missing_fields_is_an_unsuccessful_extraction_sent_to_review(api):
    email = process(api, "acceptance_utf8_qp.eml", body={"creditor_name": "Creditreform", "confidence": 0.95})
    body = results(email)[(Source.BODY, None)]
    assert not body.success and "is a required property" in body.error
    assert email.status == Status.MANUAL_REVIEW


def test_an_unreadable_amount_is_kept_raw_and_sent_to_review(api):
    email = process(api, "acceptance_utf8_qp.eml", body=BODY_ANSWER | {"interest": "ca. 312 €"})
    body = results(email)[(Source.BODY, None)]
    assert body.success and body.interest is None and body.unparsed == {"interest": "ca. 312 €"}
    assert email.status == Status.MANUAL_REVIEW
    assert "could not read interest (not an amount: 'ca. 312 €')" in email.review_reason


def test_low_confidence_sends_the_email_to_manual_review(api, settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    email = process(api, "acceptance_utf8_qp.eml", body=BODY_ANSWER | {"confidence": 0.55})
    assert email.status == Status.MANUAL_REVIEW and email.lowest_confidence == 0.55
    assert "confidence 0.55 is below 0.7" in email.review_reason


def test_an_unusable_classification_goes_to_review_without_extraction(api):
    email = process(api, "acceptance_utf8_qp.eml", classify="Ich denke, das ist eine Zahlungsvereinbarung.")
    assert api.kinds() == ["classify"]
    assert (email.status, email.intent) == (Status.MANUAL_REVIEW, "")
    assert "classification answer unusable: the answer is not valid JSON" in email.review_reason


def test_each_call_records_its_tokens_exact_cost_latency_and_operational_metrics(api):
    email = process(api, "statement_with_pdf.eml")
    calls = PromptPerformanceMetrics.objects.filter(email_id=email.pk).select_related("prompt_version")
    assert sorted(c.prompt_version.key for c in calls) == [
        "classification.email_intent", "extraction.email_body", "extraction.pdf_scanned"
    ]
    by_key = {c.prompt_version.key: c for c in calls}
    # 1200 input / 85 output tokens per call: Haiku $1/$5, Sonnet $3/$15 per million.
    assert by_key["classification.email_intent"].cost_usd == Decimal("0.001625")
    assert by_key["extraction.pdf_scanned"].cost_usd == Decimal("0.004875")
    assert all(c.success and c.execution_time_ms >= 0 for c in calls)
    assert by_key["extraction.pdf_scanned"].confidence == 0.97
    operational = OperationalMetrics.objects.filter(email_id=email.pk)
    assert operational.filter(metric_type=MetricType.TOKEN_USAGE).count() == 3
    assert operational.filter(metric_type=MetricType.CONFIDENCE_SCORE).count() == 3
    assert operational.filter(metric_type=MetricType.PROCESSING_TIME_MS, labels__stage="pipeline").count() == 1


def test_a_rate_limit_is_retried_and_processing_succeeds(api):
    api.script = [error_response(429, "rate_limit_error", "Rate limited")]
    email = process(api, "acceptance_utf8_qp.eml")
    assert api.kinds() == ["classify", "classify", "body"]
    assert email.status == Status.EXTRACTED
    assert PromptPerformanceMetrics.objects.filter(email_id=email.pk).count() == 2


def test_a_final_api_failure_marks_the_email_failed_with_the_reason_and_an_error_metric(api):
    api.script = [error_response(500, "api_error", "Internal server error")] * 3
    email = process(api, "acceptance_utf8_qp.eml")
    assert email.status == Status.FAILED
    assert email.error == "classify: Anthropic API error 500 (InternalServerError): Internal server error"
    error = OperationalMetrics.objects.get(email_id=email.pk, metric_type=MetricType.ERROR_COUNT)
    assert error.labels == {"stage": "classify", "error_type": "InternalServerError"}
    failed_call = PromptPerformanceMetrics.objects.get(email_id=email.pk)
    assert (failed_call.success, failed_call.input_tokens, failed_call.cost_usd) == (False, 0, 0)


def test_a_failure_during_extraction_keeps_the_classification_and_can_be_reprocessed(api):
    api.answers["pdf"] = lambda: error_response(529, "overloaded_error", "Overloaded")
    email = process(api, "statement_with_pdf.eml")
    assert email.status == Status.FAILED and email.error.startswith("extract_pdf: Anthropic API error 529")
    assert email.intent == "debt_statement"
    api.answers["pdf"] = PDF_ANSWER
    assert services.email_requeue(email=email)
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert email.status == Status.EXTRACTED and email.error == ""
    assert email.results.count() == 3  # body, pdf, merged


def test_without_an_api_key_emails_wait_as_failed_and_are_processed_after_reprocessing(
    api, settings, django_capture_on_commit_callbacks
):
    settings.ANTHROPIC_API_KEY = ""
    with django_capture_on_commit_callbacks(execute=True):  # django-q2 runs the task inline (sync mode)
        email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert "ANTHROPIC_API_KEY is not set" in email.error
    assert OperationalMetrics.objects.get(email_id=email.pk, metric_type=MetricType.ERROR_COUNT).labels == {
        "stage": "configuration", "error_type": "LLMNotConfigured"
    }
    answer = {"classify": json.dumps({"intent": "auto_reply", "confidence": 0.97})}
    with FakeAnthropicServer(lambda payload: (200, message_body(answer["classify"]))) as server:
        settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
        settings.ANTHROPIC_BASE_URL = server.url
        with django_capture_on_commit_callbacks(execute=True):
            assert services.email_requeue(email=email)
    email.refresh_from_db()
    assert (email.status, email.intent, email.error) == (Status.CLASSIFIED, "auto_reply", "")
    assert email.attempts == 1  # a re-queue by hand starts a fresh count


def test_processing_again_updates_the_results_and_never_duplicates_them(api):
    email = process(api, "statement_with_pdf.eml")
    first = {key: r.pk for key, r in results(email).items()}
    api.answers["pdf"] = api.answers["pdf"] | {"total_claim": "2.300,00 EUR"}
    assert services.email_requeue(email=email)
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    again = results(email)
    assert {key: r.pk for key, r in again.items()} == first
    assert again[(Source.MERGED, None)].total_claim == Decimal("2300.00")
    assert ExtractionResult.objects.filter(email=email).count() == 3


def test_a_rerun_with_another_intent_drops_the_results_of_the_earlier_run(api):
    email = process(api, "acceptance_utf8_qp.eml")
    assert email.results.count() == 2
    services.email_requeue(email=email)
    api.answers["classify"] = {"intent": "spam", "confidence": 0.99}
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert email.status == Status.CLASSIFIED and not email.results.exists()


def test_an_email_being_processed_is_not_processed_by_a_second_worker(api):
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    assert services.email_claim(email_id=email.pk) is not None
    assert tasks.process_email(email.pk, client=api.client()) is None
    assert api.requests == []


def test_an_already_processed_email_is_not_processed_again_by_a_redelivered_task(api):
    email = process(api, "acceptance_utf8_qp.eml")
    assert tasks.process_email(email.pk, client=api.client()) is None
    assert len(api.requests) == 2 and email.results.count() == 2


def test_a_run_that_crashed_mid_way_is_taken_over_after_the_task_timeout(api, settings):
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    services.email_claim(email_id=email.pk)  # the crashed worker's claim, that long ago
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.Q_CLUSTER["timeout"] + 60)
    IncomingEmail.objects.filter(pk=email.pk).update(processing_started_at=long_ago)
    assert tasks.process_email(email.pk, client=api.client()) == Status.EXTRACTED
    email.refresh_from_db()
    assert email.attempts == 2 and email.results.count() == 2


def test_a_result_is_not_stored_when_its_metrics_cannot_be(api, monkeypatch):
    from metrics.collector import MetricsCollector

    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    real = MetricsCollector.record_prompt_call

    def fail_for_extractions(self, **kwargs):
        if kwargs["prompt_version"].task_type == "extraction":
            raise RuntimeError("metrics table unavailable")
        return real(self, **kwargs)

    monkeypatch.setattr(MetricsCollector, "record_prompt_call", fail_for_extractions)
    with pytest.raises(RuntimeError):
        tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert not email.results.exists()
    assert email.status == Status.FAILED and "metrics table unavailable" in email.error


def test_an_attachment_too_big_to_store_sends_the_email_to_review(api, settings):
    settings.MAX_ATTACHMENT_BYTES = 100
    email = process(api, "statement_with_pdf.eml")
    assert api.kinds() == ["classify", "body"]
    assert email.status == Status.MANUAL_REVIEW
    assert "Forderungsaufstellung_2026-118-BK.pdf not analysed: Not stored" in email.review_reason


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_of_two_workers_claiming_one_email_at_the_same_moment_only_one_gets_it(queued):
    # The ingestion commits for real: `queued` keeps its task from running.
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    workers = 4
    barrier = threading.Barrier(workers)
    claims = []

    def claim():
        try:
            barrier.wait()
            claims.append(services.email_claim(email_id=email.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claims) == workers, claims
    assert sum(claim is not None for claim in claims) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.PROCESSING, 1)
