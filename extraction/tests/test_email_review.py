"""An operator's review of an e-mail: stored beside the model's answer, scored per contributing prompt version,
replaced (never counted twice) by a re-review, refused when stale or invalid.

The e-mails are processed by the real pipeline against the fake Messages API first, so the results, their
prompt versions and the merged answer are the ones production would have.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from extraction.models import EmailReview, ExtractionResult, IncomingEmail
from extraction.review import ReviewConflict, merged_answer
from extraction.services import email_review
from extraction.tests.test_process_email import NO_FACTS, process
from metrics.models import PromptAccuracyDaily, PromptAccuracyMetrics
from metrics.selectors import prompt_accuracy
from metrics.services import rollup_accuracy_metrics
from prompts.models import PromptTemplate

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status

# statement_with_pdf.eml: the body names the creditor (short) and the reference, the PDF has every fact.
BODY_FACTS = NO_FACTS | {"creditor_name": "Brandt & Kollegen", "creditor_reference": "2026/118-BK", "confidence": 0.75}


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("anna", password="pw", is_staff=True)


@pytest.fixture
def colleague(django_user_model):
    return django_user_model.objects.create_user("ben", password="pw", is_staff=True)


@pytest.fixture
def statement(api):
    return process(api, "statement_with_pdf.eml", body=BODY_FACTS)


def version(key):
    task_type, name = key.split(".")
    return PromptTemplate.objects.get(task_type=task_type, name=name, is_active=True)


def scores_by_key(review):
    keys = {v.pk: v.key for v in PromptTemplate.objects.all()}
    return {keys[row["prompt_version"]]: row for row in review.scores}


def counts(row):
    return (row["fields_checked"], row["fields_correct"], row["intent_checked"], row["intent_correct"])


def review(email, user, *, intent="debt_statement", note="", expected_revision=None, **changes):
    facts = merged_answer(email)["facts"] | changes
    return email_review(
        email=email, reviewed_by=user, intent=intent, facts=facts, note=note, expected_revision=expected_revision
    )


def test_the_prefill_is_the_merged_answer_with_each_fact_s_source_and_raw_text(statement):
    prefill = merged_answer(statement)
    assert prefill["intent"] == "debt_statement"
    assert prefill["facts"]["total_claim"] == Decimal("2219.67")
    assert prefill["facts"]["statement_date"] == datetime.date(2026, 11, 5)
    pdf_name = "Forderungsaufstellung_2026-118-BK.pdf"
    # The PDF is the more confident source: it wins where both answered.
    assert prefill["sources"]["creditor_name"] == {"source": "pdf", "attachment": pdf_name,
                                                   "raw": "Brandt & Kollegen Rechtsanwälte"}
    assert prefill["sources"]["total_claim"] == {"source": "pdf", "attachment": pdf_name, "raw": "2.219,67 EUR"}
    assert prefill["facts"]["accepts_plan"] is None and prefill["sources"]["accepts_plan"] is None


def test_a_review_is_stored_beside_the_model_answer_and_the_email_becomes_reviewed(statement, operator):
    saved = review(statement, operator, total_claim=Decimal("2291.67"), note="  Summe im PDF falsch gelesen ")
    statement.refresh_from_db()
    assert statement.status == Status.REVIEWED
    assert (saved.revision, saved.reviewed_by, saved.note) == (1, operator, "Summe im PDF falsch gelesen")
    assert saved.total_claim == Decimal("2291.67") and saved.changed_fields == ["total_claim"]
    # The model's answer is untouched.
    merged = statement.results.get(source=ExtractionResult.Source.MERGED)
    assert merged.total_claim == Decimal("2219.67")


def test_each_contributing_version_is_scored_on_the_facts_it_answered(statement, operator):
    saved = review(statement, operator, total_claim=Decimal("2291.67"))
    scores = scores_by_key(saved)
    # The classifier: the intent only, and it was right.
    assert counts(scores["classification.email_intent"]) == (0, 0, 1, 1)
    # The body answered two facts: the creditor (too short a name, wrong) and the reference (right).
    assert counts(scores["extraction.email_body"]) == (2, 1, 0, 0)
    assert scores["extraction.email_body"]["fields"] == {"creditor_name": False, "creditor_reference": True}
    # The PDF answered eight facts; the operator corrected the total.
    assert counts(scores["extraction.pdf_scanned"]) == (8, 7, 0, 0)
    assert scores["extraction.pdf_scanned"]["fields"]["total_claim"] is False
    rows = PromptAccuracyMetrics.objects.filter(review_id=saved.pk)
    assert {(r.prompt_version_id, r.fields_checked, r.fields_correct) for r in rows} == {
        (version("classification.email_intent").pk, 0, 0),
        (version("extraction.email_body").pk, 2, 1),
        (version("extraction.pdf_scanned").pk, 8, 7),
    }
    assert all(r.email_id == statement.pk and r.recorded_at == saved.reviewed_at for r in rows)


def test_a_fact_no_source_found_is_charged_to_every_source_that_could_have_found_it(statement, operator):
    # The letter does say the plan is rejected; neither the body nor the PDF answered it.
    scores = scores_by_key(review(statement, operator, accepts_plan=False))
    assert counts(scores["extraction.email_body"]) == (3, 1, 0, 0)
    assert counts(scores["extraction.pdf_scanned"]) == (9, 8, 0, 0)
    assert scores["extraction.pdf_scanned"]["fields"]["accepts_plan"] is False


def test_a_fact_the_operator_empties_counts_against_the_source_that_answered_it(statement, operator):
    scores = scores_by_key(review(statement, operator, debtor_name=""))
    assert counts(scores["extraction.pdf_scanned"]) == (8, 7, 0, 0)
    assert counts(scores["extraction.email_body"]) == (2, 1, 0, 0)  # the body never named the debtor


def test_an_unreadable_value_counts_as_answered_and_wrong(api, operator):
    email = process(api, "acceptance_utf8_qp.eml", body=NO_FACTS | {"interest": "ca. 312 €", "confidence": 0.9})
    scores = scores_by_key(review(email, operator, interest=Decimal("312.00")))
    assert scores["extraction.email_body"]["fields"] == {"interest": False}


def test_an_intent_correction_counts_against_the_classification_version(statement, operator):
    saved = review(statement, operator, intent="payment_plan")
    assert counts(scores_by_key(saved)["classification.email_intent"]) == (0, 0, 1, 0)
    assert saved.changed_fields == ["intent"]


def test_confirming_unchanged_records_no_change_and_every_answered_fact_right(statement, operator):
    saved = review(statement, operator)
    assert saved.changed_fields == []
    assert all(row["fields_checked"] - row["fields_correct"] == (1 if key.endswith("body") else 0)
               for key, row in scores_by_key(saved).items())


def test_reviewing_again_replaces_the_review_and_its_accuracy_rows(statement, operator, colleague):
    first = review(statement, operator, total_claim=Decimal("2291.67"))
    second = review(statement, colleague, expected_revision=1)  # the colleague confirms the model after all
    assert second.pk == first.pk and EmailReview.objects.count() == 1
    assert (second.revision, second.reviewed_by, second.total_claim, second.changed_fields) == (
        2, colleague, Decimal("2219.67"), []
    )
    assert PromptAccuracyMetrics.objects.filter(review_id=second.pk).count() == 3
    today = timezone.localdate()
    pdf = prompt_accuracy(template=version("extraction.pdf_scanned"), start=today, end=today)
    assert (pdf["review_count"], pdf["fields_checked"], pdf["fields_correct"], pdf["accuracy"]) == (1, 8, 8, 1.0)


def test_a_re_review_of_a_day_already_rolled_up_rolls_that_day_up_again(statement, operator):
    saved = review(statement, operator, total_claim=Decimal("2291.67"))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    # The first review was yesterday and the nightly run has rolled that day up.
    PromptAccuracyMetrics.objects.update(recorded_at=saved.reviewed_at - datetime.timedelta(days=1))
    rollup_accuracy_metrics(day=yesterday)
    pdf = version("extraction.pdf_scanned")
    assert PromptAccuracyDaily.objects.get(prompt_version=pdf, date=yesterday).fields_correct == 7

    review(statement, operator, expected_revision=1)
    # Yesterday no longer counts the replaced review; today counts the new one (from the raw rows).
    assert not PromptAccuracyDaily.objects.filter(date=yesterday).exists()
    both_days = prompt_accuracy(template=pdf, start=yesterday, end=timezone.localdate())
    assert (both_days["review_count"], both_days["fields_correct"]) == (1, 8)


def test_a_save_from_a_form_loaded_before_another_save_is_refused_and_saves_nothing(statement, operator, colleague):
    review(statement, operator, expected_revision=0, total_claim=Decimal("2291.67"))
    with pytest.raises(ReviewConflict, match=r"anna saved a review of this e-mail at .* \(revision 1\)"):
        review(statement, colleague, expected_revision=0, total_claim=Decimal("1.00"))
    saved = EmailReview.objects.get()
    assert (saved.revision, saved.reviewed_by, saved.total_claim) == (1, operator, Decimal("2291.67"))
    assert PromptAccuracyMetrics.objects.filter(fields_checked=8, fields_correct=7).count() == 1


@pytest.mark.parametrize(("intent", "changes", "field"), [
    ("wrong_intent", {}, "intent"),
    ("debt_statement", {"total_claim": Decimal("-1.00")}, "total_claim"),
    ("debt_statement", {"costs": Decimal("12.345")}, "costs"),
    ("debt_statement", {"principal": 12.5}, "principal"),  # a float is not an exact amount
    ("debt_statement", {"interest": "1.234,56"}, "interest"),  # the form parses German input, not the service
    ("debt_statement", {"statement_date": "31.02.2025"}, "statement_date"),
    ("debt_statement", {"statement_date": datetime.datetime(2025, 12, 31, 10, 0)}, "statement_date"),
    ("debt_statement", {"accepts_plan": "ja"}, "accepts_plan"),
    ("debt_statement", {"debtor_name": "x" * 501}, "debtor_name"),
    ("debt_statement", {"iban": "DE00"}, "facts"),
])
def test_invalid_input_is_a_validation_error_keyed_by_field_and_saves_nothing(
    statement, operator, intent, changes, field
):
    with pytest.raises(ValidationError) as error:
        review(statement, operator, intent=intent, **changes)
    assert field in error.value.message_dict
    statement.refresh_from_db()
    assert statement.status == Status.EXTRACTED
    assert not EmailReview.objects.exists() and not PromptAccuracyMetrics.objects.exists()


def test_a_fact_left_out_is_an_error_not_an_empty_value(statement, operator):
    facts = merged_answer(statement)["facts"]
    del facts["costs"]
    with pytest.raises(ValidationError) as error:
        email_review(email=statement, reviewed_by=operator, intent="debt_statement", facts=facts)
    assert "costs" in error.value.message_dict and not EmailReview.objects.exists()


def test_an_email_still_being_processed_cannot_be_reviewed(statement, operator):
    IncomingEmail.objects.filter(pk=statement.pk).update(status=Status.PROCESSING)
    with pytest.raises(ValidationError, match="Processing"):
        review(statement, operator)
    assert not EmailReview.objects.exists()


def test_an_email_only_classified_is_reviewed_on_its_intent(api, operator):
    email = process(api, "out_of_office.eml", classify={"intent": "auto_reply", "confidence": 0.99})
    saved = review(email, operator, intent="auto_reply")
    assert {key: counts(row) for key, row in scores_by_key(saved).items()} == {
        "classification.email_intent": (0, 0, 1, 1)
    }


def test_an_email_processed_before_the_classifier_was_kept_on_it_finds_it_in_the_call_metrics(statement, operator):
    IncomingEmail.objects.filter(pk=statement.pk).update(intent_prompt_version=None)
    statement.refresh_from_db()
    scores = scores_by_key(review(statement, operator, intent="rejection"))
    assert counts(scores["classification.email_intent"]) == (0, 0, 1, 0)
