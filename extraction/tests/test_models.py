"""The database keeps one e-mail per Message-ID and one result per (e-mail, source, attachment); the
intents the code knows are the ones the classification prompt may answer."""

import pytest
from django.db import IntegrityError

from extraction.models import ExtractionResult, IncomingEmail, Intent
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email
from prompts.models import PromptTemplate

pytestmark = pytest.mark.django_db
Source = ExtractionResult.Source


@pytest.fixture
def email_with_pdf():
    return ingest_message(raw_email("statement_with_pdf.eml"))


def test_a_second_email_with_the_same_message_id_is_refused_by_the_database(email_with_pdf):
    with pytest.raises(IntegrityError):
        IncomingEmail.objects.create(message_id=email_with_pdf.message_id, sender="x@y.example")


@pytest.mark.parametrize("source", [Source.BODY, Source.MERGED])
def test_a_second_body_or_merged_result_for_an_email_is_refused_by_the_database(email_with_pdf, source):
    ExtractionResult.objects.create(email=email_with_pdf, source=source)
    with pytest.raises(IntegrityError):
        ExtractionResult.objects.create(email=email_with_pdf, source=source)


def test_a_second_result_for_the_same_attachment_is_refused_by_the_database(email_with_pdf):
    attachment = email_with_pdf.attachments.get()
    ExtractionResult.objects.create(email=email_with_pdf, source=Source.PDF, attachment=attachment)
    with pytest.raises(IntegrityError):
        ExtractionResult.objects.create(email=email_with_pdf, source=Source.PDF, attachment=attachment)


def test_results_for_different_attachments_of_one_email_may_coexist(email_with_pdf):
    first = email_with_pdf.attachments.get()
    second = email_with_pdf.attachments.create(
        original_name="Anlage2.pdf", content_type="application/pdf", size=1, sha256="0" * 64
    )
    ExtractionResult.objects.create(email=email_with_pdf, source=Source.PDF, attachment=first)
    ExtractionResult.objects.create(email=email_with_pdf, source=Source.PDF, attachment=second)
    ExtractionResult.objects.create(email=email_with_pdf, source=Source.BODY)
    assert email_with_pdf.results.count() == 3


def test_the_seeded_classification_schema_allows_exactly_the_intents_the_code_knows():
    seeded = PromptTemplate.objects.get(task_type="classification", name="email_intent", version=1)
    assert seeded.output_schema["properties"]["intent"]["enum"] == Intent.values
