"""Evaluation sets: only reviewed e-mails become cases, and a case keeps the review's answer as it was when
it was added (a later re-review changes nothing in the set)."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from evaluation.errors import EvaluationError, NotReviewed
from evaluation.models import EvaluationCase, EvaluationSet
from evaluation.services import evaluation_set_add, evaluation_set_create
from evaluation.tests.cases import operator, reviewed_statements, statement
from extraction.models import IncomingEmail
from extraction.review import merged_answer
from extraction.services import email_review, ingest_message

pytestmark = pytest.mark.django_db


def test_a_set_snapshots_each_reviews_intent_and_facts(fake_model):
    emails = reviewed_statements(2)
    evaluation_set = evaluation_set_create(name="November", emails=emails, created_by=operator())
    case = evaluation_set.cases.get(email=emails[0])
    review = emails[0].review
    assert case.expected_intent == review.intent == "debt_statement"
    assert case.expected_values()["total_claim"] == review.total_claim
    assert isinstance(case.expected_values()["total_claim"], Decimal)
    assert case.expected_values()["statement_date"] == review.statement_date
    assert case.expected_values()["debtor_name"] == review.debtor_name
    assert (case.review_revision, case.imported, case.added_by) == (1, False, "rita")


def test_a_re_review_after_adding_a_case_does_not_change_the_case(fake_model):
    [email] = reviewed_statements(1)
    evaluation_set = evaluation_set_create(name="November", emails=[email], created_by="rita")
    facts = merged_answer(email)["facts"]
    email_review(email=email, reviewed_by=operator("otto"), intent="rejection",
                 facts={**facts, "total_claim": Decimal("1.00")})
    case = evaluation_set.cases.get()
    assert case.expected_intent == "debt_statement"
    assert case.expected_values()["total_claim"] == facts["total_claim"] != Decimal("1.00")
    assert case.review_revision == 1
    # Adding the e-mail again keeps the old snapshot: a set's meaning never changes under its runs.
    assert evaluation_set_add(evaluation_set=evaluation_set, emails=[email], added_by="otto") == []
    assert evaluation_set.cases.get().expected_intent == "debt_statement"


def test_unreviewed_emails_are_refused_naming_them_and_nothing_is_saved(fake_model):
    reviewed = reviewed_statements(1)
    waiting = ingest_message(statement(7))
    with pytest.raises(NotReviewed) as refused:
        evaluation_set_create(name="November", emails=[*reviewed, waiting], created_by="rita")
    assert f"#{waiting.pk} (Forderungsaufstellung Nr. 7)" in str(refused.value)
    assert f"#{reviewed[0].pk}" not in str(refused.value)
    assert refused.value.emails == [waiting]
    assert not EvaluationSet.objects.exists() and not EvaluationCase.objects.exists()


def test_a_set_name_is_unique_and_a_set_needs_emails(fake_model):
    emails = reviewed_statements(1)
    evaluation_set_create(name="November", emails=emails, created_by="rita")
    with pytest.raises(EvaluationError, match="exists already"):
        evaluation_set_create(name="November", emails=emails, created_by="rita")
    with pytest.raises(EvaluationError, match="at least one"):
        evaluation_set_create(name="Empty", emails=[], created_by="rita")
    assert not EvaluationSet.objects.filter(name="Empty").exists()


def test_an_email_in_a_set_cannot_be_deleted(fake_model):
    emails = reviewed_statements(1)
    evaluation_set_create(name="November", emails=emails, created_by="rita")
    with pytest.raises(ProtectedError):
        IncomingEmail.objects.filter(pk=emails[0].pk).delete()


def test_the_database_keeps_an_email_once_per_set(fake_model):
    emails = reviewed_statements(1)
    evaluation_set = evaluation_set_create(name="November", emails=emails, created_by="rita")
    with pytest.raises(IntegrityError), transaction.atomic():
        EvaluationCase.objects.create(evaluation_set=evaluation_set, email=emails[0], expected_intent="spam",
                                      added_by="rita")
