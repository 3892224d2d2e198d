"""The e-mail list, an e-mail page with long checksums and Message-ID, and the metrics lists fit the window.

At 1280 px (an office screen) and 390 px (a phone) the page itself never scrolls sideways; at 1280 px
the e-mail list's key columns (status, intent, confidence, reason) are on screen without scrolling.
"""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from extraction.models import EmailAttachment, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email
from metrics.days import local_day
from metrics.services import (
    accuracy_replace,
    rollup_accuracy_metrics,
    rollup_operational_metrics,
    rollup_prompt_metrics,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = (1280, 390)
LONG_MESSAGE_ID = "<" + "x7Kq2" * 50 + "@mail.inkasso-sued-forderungsmanagement.example>"
LONG_FILE_NAME = "Forderungsaufstellung_" + "2026-118-BK_" * 12 + ".pdf"
LONG_REASON = "classify: " + "Anthropic answered 529 overloaded_error after 3 attempts; " * 5
METRICS_LISTS = (
    "promptperformancemetrics", "promptperformancedaily", "operationalmetrics", "operationalmetricsdaily",
    "promptaccuracymetrics", "promptaccuracydaily", "rollupday",
)


@pytest.fixture
def emails(settings, fake_api_server):
    """A processed e-mail (results from body and PDF, metrics) with very long identifiers, and a failed one."""
    # Tasks run inline here: ingesting processes the e-mail, against the fake API on 127.0.0.1.
    settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
    settings.ANTHROPIC_BASE_URL = fake_api_server.url
    processed = ingest_message(raw_email("statement_with_pdf.eml"))
    processed.refresh_from_db()
    assert processed.results.filter(source="merged").exists()
    IncomingEmail.objects.filter(pk=processed.pk).update(message_id=LONG_MESSAGE_ID)
    EmailAttachment.objects.filter(email=processed).update(original_name=LONG_FILE_NAME)
    failed = ingest_message(raw_email("rejection_windows1252.eml"))
    IncomingEmail.objects.filter(pk=failed.pk).update(
        status=IncomingEmail.Status.FAILED, error=LONG_REASON, subject="Ablehnung " + "Vergleichsangebot " * 12
    )
    # A review's scores (review 1: the accuracy rows need no review row of their own), then the day's rollups.
    versions = processed.results.exclude(prompt_version=None).values_list("prompt_version", flat=True)
    accuracy_replace(review_id=1, email_id=processed.pk, recorded_at=timezone.now(), scores=[
        {"prompt_version": version, "fields_checked": 9, "fields_correct": 8, "intent_checked": 1, "intent_correct": 1}
        for version in versions
    ])
    today = local_day(timezone.now())
    rollup_prompt_metrics(day=today)
    rollup_operational_metrics(day=today)
    rollup_accuracy_metrics(day=today)
    User.objects.create_superuser("erika", password="geheim-123")
    return processed, failed


def log_in(page, live_server, width):
    """Erika signs in with a window `width` px wide."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "erika")
    page.fill("#id_password", "geheim-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def page_overflow(page):
    """How many pixels the page is wider than its window (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def table_overflow(page):
    """How many pixels the list's table is wider than its box (Django's box scrolls it sideways on its own)."""
    return page.evaluate("(() => { const box = document.querySelector('#changelist .results');"
                         " return box.scrollWidth - box.clientWidth; })()")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_email_list_fits_the_window_with_its_key_columns_visible(page, live_server, emails, width):
    log_in(page, live_server, width)
    page.goto(f"{live_server.url}/admin/extraction/incomingemail/")
    page.wait_for_selector("#result_list")
    assert page_overflow(page) <= 0
    if width == 1280:
        assert table_overflow(page) <= 0
        for column in ("sender_and_subject", "status_badge", "intent", "confidence", "reason", "review_link"):
            box = page.locator(f"#result_list thead th.column-{column}").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, column
        badge = page.locator("#result_list .status-badge.status-failed")
        assert badge.is_visible()
        reason = page.locator("#result_list .cell-reason").first
        assert reason.get_attribute("title") == LONG_REASON
        assert reason.bounding_box()["x"] + reason.bounding_box()["width"] <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_an_email_page_with_long_checksums_and_message_id_fits_the_window(page, live_server, emails, width):
    processed, _ = emails
    log_in(page, live_server, width)
    page.goto(f"{live_server.url}/admin/extraction/incomingemail/{processed.pk}/change/")
    page.wait_for_selector("#attachments")
    assert page_overflow(page) <= 0
    assert LONG_MESSAGE_ID in page.locator(".long-value").first.inner_text()
    # The merged result is open; a per-source result unfolds on a click, and the page still fits.
    assert page.locator(".result-merged").is_visible()
    per_source = page.locator("details.result-source").first
    assert per_source.get_attribute("open") is None
    per_source.locator("> summary").click()
    assert per_source.get_attribute("open") is not None
    page.locator("#attachments details.hash summary").first.click()
    assert page_overflow(page) <= 0
    if width == 1280:  # the attachment table, checksum unfolded, fits too (no scrolling inside its box)
        assert page.evaluate("(() => { const box = document.querySelector('#attachments');"
                             " return box.scrollWidth - box.clientWidth; })()") <= 0


@pytest.mark.parametrize("width", WIDTHS)
def test_a_failed_email_page_with_its_requeue_button_fits_the_window(page, live_server, emails, width):
    _, failed = emails
    log_in(page, live_server, width)
    page.goto(f"{live_server.url}/admin/extraction/incomingemail/{failed.pk}/change/")
    page.wait_for_selector("#requeue-button")
    assert page_overflow(page) <= 0
    assert page.locator("#requeue-button").bounding_box()["x"] >= 0


@pytest.mark.parametrize("width", WIDTHS)
def test_the_metrics_lists_fit_the_window(page, live_server, emails, width):
    log_in(page, live_server, width)
    for model in METRICS_LISTS:
        page.goto(f"{live_server.url}/admin/metrics/{model}/")
        page.wait_for_selector("#changelist")
        assert page.locator("#result_list tbody tr").count() >= 1, model
        assert page_overflow(page) <= 0, model
        if width == 1280:
            assert table_overflow(page) <= 0, model
