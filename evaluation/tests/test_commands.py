"""Sets from the command line: build from reviews (filters, seeded sample), export to a folder, import it."""

import json

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import EvaluationSet
from evaluation.services import evaluation_set_create
from evaluation.tests.cases import operator, reviewed_email, reviewed_statements
from extraction.models import EmailReview, IncomingEmail
from extraction.tests.conftest import raw_email

pytestmark = pytest.mark.django_db


def test_build_takes_the_reviewed_emails_of_an_intent_as_a_seeded_sample(fake_model):
    operator()
    statements = reviewed_statements(6)
    reviewed_email(raw_email("out_of_office.eml"))
    call_command("build_evaluation_set", "Sample", "--by", "rita", "--intent", "debt_statement", "--sample", "4",
                 "--seed", "3")
    call_command("build_evaluation_set", "Same sample", "--by", "rita", "--intent", "debt_statement", "--sample",
                 "4", "--seed", "3")
    first, again = (
        set(EvaluationSet.objects.get(name=name).cases.values_list("email", flat=True))
        for name in ("Sample", "Same sample")
    )
    assert first == again and len(first) == 4 and first <= {e.pk for e in statements}


def test_build_refuses_filters_that_match_nothing(fake_model):
    operator()
    reviewed_statements(1)
    with pytest.raises(CommandError, match="No reviewed e-mail matches"):
        call_command("build_evaluation_set", "Nothing", "--by", "rita", "--intent", "spam")
    assert not EvaluationSet.objects.exists()


def test_an_exported_set_imports_as_the_same_cases_marked_imported(fake_model, tmp_path):
    pdf = reviewed_email(raw_email("statement_with_pdf.eml"))
    emails = [pdf, *reviewed_statements(2)]
    original = evaluation_set_create(name="November", emails=emails, created_by="rita")
    call_command("export_evaluation_set", "November", str(tmp_path / "set"))
    files = sorted(p.name for p in (tmp_path / "set").iterdir())
    assert files == ["0001.eml", "0002.eml", "0003.eml", "expected.json"]
    document = json.loads((tmp_path / "set" / "expected.json").read_text())
    assert [case["intent"] for case in document["cases"]] == list(
        original.cases.order_by("pk").values_list("expected_intent", flat=True)
    )
    # Into an empty database: the e-mails are ingested anew, their expected values become reviews.
    cases = original.cases.select_related("email")
    expected = {case.email.message_id: (case.expected_intent, case.expected_facts) for case in cases}
    attachments = pdf.attachments.count()
    EvaluationSet.objects.all().delete()
    EmailReview.objects.all().delete()
    IncomingEmail.objects.all().delete()
    call_command("import_evaluation_set", str(tmp_path / "set"), "--by", "rita", "--name", "Imported")
    imported = EvaluationSet.objects.get(name="Imported")
    assert {c.email.message_id: (c.expected_intent, c.expected_facts) for c in imported.cases.all()} == expected
    assert all(case.imported for case in imported.cases.all())
    assert set(IncomingEmail.objects.values_list("status", flat=True)) == {"reviewed"}
    assert IncomingEmail.objects.get(message_id=pdf.message_id).attachments.count() == attachments > 0


def test_import_refuses_a_folder_without_expected_values(tmp_path):
    operator()
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("import_evaluation_set", str(tmp_path), "--by", "rita")
