"""A sender cannot multiply what an e-mail costs: at most MAX_ANALYSED_ATTACHMENTS documents are read,
identical copies once, and a run stops calling the API once its calls cost MAX_COST_PER_EMAIL_USD."""

from decimal import Decimal

import pytest

from extraction import services, tasks
from extraction.models import ExtractionResult, IncomingEmail
from extraction.tests.conftest import PDF, multipart_email
from metrics.models import PromptPerformanceMetrics

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status


def pdf(number, content=PDF):
    return (f'filename="Anlage{number}.pdf"', "application/pdf", content)


def distinct_pdf(number):
    return pdf(number, PDF.replace(b"1 0 obj", b"%d 0 obj" % number))


def process(api, raw):
    email = services.ingest_message(raw)
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    return email


def test_three_hundred_identical_tiny_pdfs_cost_one_pdf_call_and_the_email_goes_to_review(api):
    email = process(api, multipart_email(*(pdf(n) for n in range(300))))
    assert api.kinds() == ["classify", "body", "pdf"]
    assert PromptPerformanceMetrics.objects.filter(email_id=email.pk).count() == 3
    assert email.status == Status.MANUAL_REVIEW
    assert (
        "Anlage5.pdf, Anlage6.pdf, Anlage7.pdf, Anlage8.pdf, Anlage9.pdf, Anlage10.pdf, Anlage11.pdf, Anlage12.pdf, "
        "Anlage13.pdf, Anlage14.pdf and 285 more not analysed: only the first 5 PDFs and images of an e-mail are "
        "(MAX_ANALYSED_ATTACHMENTS)"
    ) in email.review_reason
    assert email.results.filter(source=ExtractionResult.Source.PDF).count() == 1


def test_identical_copies_of_a_pdf_are_read_once_without_sending_the_email_to_review(api):
    email = process(api, multipart_email(pdf(1), pdf(2), distinct_pdf(3)))
    assert api.kinds() == ["classify", "body", "pdf", "pdf"]
    assert email.status == Status.EXTRACTED and email.review_reason == ""
    analysed = email.results.filter(source=ExtractionResult.Source.PDF).values_list("attachment__original_name")
    assert sorted(analysed) == [("Anlage1.pdf",), ("Anlage3.pdf",)]


def test_documents_after_the_limit_are_listed_with_the_reason_and_not_read(api, settings):
    settings.MAX_ANALYSED_ATTACHMENTS = 2
    email = process(api, multipart_email(*(distinct_pdf(n) for n in range(1, 5))))
    assert api.kinds() == ["classify", "body", "pdf", "pdf"]
    assert email.status == Status.MANUAL_REVIEW
    assert email.review_reason == (
        "Anlage3.pdf, Anlage4.pdf not analysed: only the first 2 PDFs and images of an e-mail are "
        "(MAX_ANALYSED_ATTACHMENTS)"
    )


def test_a_run_stops_calling_once_its_calls_cost_more_than_the_cap(api, settings):
    # Classification (Haiku) $0.001625, body extraction (Sonnet) $0.004875: together over $0.005.
    settings.MAX_COST_PER_EMAIL_USD = Decimal("0.005")
    email = process(api, multipart_email(distinct_pdf(1), distinct_pdf(2)))
    assert api.kinds() == ["classify", "body"]
    assert email.status == Status.MANUAL_REVIEW
    assert email.review_reason == (
        "Anlage1.pdf, Anlage2.pdf not analysed: this run's calls cost $0.0065, over MAX_COST_PER_EMAIL_USD ($0.005)"
    )


def test_a_classification_that_already_costs_more_than_the_cap_stops_before_the_body(api, settings):
    settings.MAX_COST_PER_EMAIL_USD = Decimal("0.001")
    email = process(api, multipart_email(distinct_pdf(1)))
    assert api.kinds() == ["classify"]
    assert email.status == Status.MANUAL_REVIEW
    assert email.review_reason.startswith("the e-mail body, Anlage1.pdf not analysed: this run's calls cost $0.0016")
    assert not email.results.exists()


def test_each_run_has_its_own_budget_so_an_operator_can_reprocess(api, settings):
    settings.MAX_COST_PER_EMAIL_USD = Decimal("0.01")
    email = process(api, multipart_email(distinct_pdf(1)))
    assert services.email_requeue(email=email)
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert api.kinds() == ["classify", "body", "pdf"] * 2 and email.status == Status.EXTRACTED
