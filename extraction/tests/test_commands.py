"""ingest_emails imports files, directories and mboxes and survives broken files; reprocess_emails re-queues."""

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from extraction import services
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import DATA, raw_email

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
GOOD_FILES = 7  # the .eml files in tests/data that are real e-mails


def ingest(*paths):
    out, err = StringIO(), StringIO()
    try:
        call_command("ingest_emails", *map(str, paths), stdout=out, stderr=err)
        failed = None
    except CommandError as exc:
        failed = str(exc)
    return out.getvalue(), err.getvalue(), failed


def test_a_directory_of_eml_and_mbox_files_is_imported_with_a_summary():
    out, err, failed = ingest(DATA)
    assert IncomingEmail.objects.count() == GOOD_FILES + 3
    assert set(IncomingEmail.objects.values_list("status", flat=True)) == {Status.QUEUED}
    assert "10 new e-mail(s) queued, 0 duplicate(s) skipped, 1 failed, from 9 file(s)." in out
    assert failed == "1 message(s) could not be imported; see the errors above."


def test_a_broken_file_gets_one_error_line_naming_it_and_the_rest_is_imported(tmp_path):
    for name in ["acceptance_utf8_qp.eml", "broken_mime.eml", "rejection_windows1252.eml"]:
        shutil.copy(DATA / name, tmp_path / name)
    out, err, failed = ingest(tmp_path)
    error_lines = err.strip().splitlines()
    assert error_lines == [
        f"ERROR {tmp_path / 'broken_mime.eml'}: not a usable e-mail: "
        "broken MIME structure: the multipart boundary 'BOUNDARY_A' never appears"
    ]
    assert IncomingEmail.objects.count() == 2
    assert failed  # exit code 1


def test_a_missing_path_is_an_error_line_and_a_failure():
    out, err, failed = ingest(DATA / "acceptance_utf8_qp.eml", DATA / "does_not_exist.eml")
    assert "does_not_exist.eml: cannot read the file" in err
    assert IncomingEmail.objects.count() == 1 and failed


def test_importing_the_same_files_again_skips_every_duplicate():
    ingest(DATA / "three_answers.mbox", DATA / "statement_with_pdf.eml")
    out, err, failed = ingest(DATA / "three_answers.mbox", DATA / "statement_with_pdf.eml")
    assert "0 new e-mail(s) queued, 4 duplicate(s) skipped, 0 failed, from 2 file(s)." in out
    assert failed is None and err == ""
    assert IncomingEmail.objects.count() == 4


def test_each_new_email_is_queued_after_its_transaction_commits(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(DATA / "three_answers.mbox")
    assert queued == list(IncomingEmail.objects.order_by("pk").values_list("pk", flat=True))


def test_reprocess_emails_requeues_the_failed_ones_only(queued, django_capture_on_commit_callbacks):
    failed = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    done = ingest_message(raw_email("out_of_office.eml"))
    IncomingEmail.objects.filter(pk=failed.pk).update(status=Status.FAILED, error="ANTHROPIC_API_KEY is not set")
    IncomingEmail.objects.filter(pk=done.pk).update(status=Status.CLASSIFIED)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reprocess_emails", "--status", "failed", stdout=out)
    assert "1 e-mail(s) re-queued (status: failed)." in out.getvalue()
    assert queued == [failed.pk]
    failed.refresh_from_db()
    assert (failed.status, failed.error) == (Status.QUEUED, "")


def test_reprocess_emails_refuses_to_requeue_emails_being_processed():
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    services.email_claim(email_id=email.pk)
    with pytest.raises(CommandError):
        call_command("reprocess_emails", "--status", "processing", stdout=StringIO(), stderr=StringIO())
    email.refresh_from_db()
    assert email.status == Status.PROCESSING
