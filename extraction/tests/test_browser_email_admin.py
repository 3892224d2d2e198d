"""An operator finds a failed e-mail from the admin index and re-queues it, in a real browser."""

import pytest

from devtools.fake_api import FakeAnthropicServer, good_answer
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def fake_api():
    with FakeAnthropicServer(good_answer) as server:
        yield server


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_a_failed_email_is_found_from_the_index_and_reprocessed(
    page, live_server, django_user_model, fake_api, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Without an API key the e-mail is processed at once (tasks run inline in tests) and waits as failed.
    settings.ANTHROPIC_API_KEY = ""
    email = ingest_message(raw_email("statement_iso8859_qp.eml"))
    email.refresh_from_db()
    assert email.status == IncomingEmail.Status.FAILED
    # The key is configured now; the re-queued e-mail is processed by the live server's thread.
    settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
    settings.ANTHROPIC_BASE_URL = fake_api.url
    django_user_model.objects.create_superuser("erika", password="geheim-123")

    log_in(page, live_server, "erika", "geheim-123")
    failed = page.locator("#overview-failed")
    assert "ANTHROPIC_API_KEY" in failed.inner_text()
    failed.get_by_role("link", name="Die 1 fehlgeschlagene E-Mail").click()  # the browser asks for German
    page.wait_for_selector("#result_list")

    row = page.locator("#result_list tbody tr")
    assert row.count() == 1
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "requeue")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")

    assert "1" in page.locator(".messagelist").inner_text()
    email.refresh_from_db()
    assert email.status == IncomingEmail.Status.EXTRACTED
    assert email.error == ""
    assert sorted(email.results.values_list("source", flat=True)) == ["body", "merged"]
    assert len(fake_api.requests) == 2  # one classification, one body extraction


def test_a_view_only_operator_cannot_requeue_emails(page, live_server, django_user_model, settings, tmp_path):
    from django.contrib.auth.models import Permission

    settings.MEDIA_ROOT = tmp_path / "media"
    ingest_message(raw_email("rejection_windows1252.eml"))
    viewer = django_user_model.objects.create_user("victor", password="geheim-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_incomingemail"))

    log_in(page, live_server, "victor", "geheim-123")
    page.goto(f"{live_server.url}/admin/extraction/incomingemail/")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 1
    assert page.locator("select[name=action]").count() == 0
