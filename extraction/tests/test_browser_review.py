"""An operator works the review queue by keyboard in a real browser, and the versions' accuracy shows up."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from extraction.models import EmailReview, IncomingEmail
from extraction.tests.conftest import BODY_ANSWER
from extraction.tests.reviewing import answered_email, make_reviewer
from metrics.days import local_day
from metrics.selectors import prompt_accuracy
from prompts.selectors import get_active_prompt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
Status = IncomingEmail.Status


def arrived(email, minutes_ago):
    when = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    IncomingEmail.objects.filter(pk=email.pk).update(created_at=when)


@pytest.fixture
def three_waiting(api, queued):
    """Two e-mails in manual review (the PDF statement, then an acceptance) and one of the QA sample.

    `queued`: ingestion hands nothing to the (inline) worker; each e-mail is processed here against `api`.
    """
    unsure = {"intent": "debt_statement", "confidence": 0.6}
    statement = answered_email(api, "statement_with_pdf.eml", classify=unsure)
    acceptance = answered_email(api, "acceptance_utf8_qp.eml", classify={"intent": "payment_plan", "confidence": 0.6},
                                body=BODY_ANSWER)
    api.answers["classify"] = {"intent": "rejection", "confidence": 0.97}
    sampled = answered_email(api, "rejection_windows1252.eml")
    assert (statement.status, acceptance.status, sampled.status) == (
        Status.MANUAL_REVIEW, Status.MANUAL_REVIEW, Status.EXTRACTED
    )
    IncomingEmail.objects.filter(pk=sampled.pk).update(review_sample=True)
    for minutes, email in ((30, statement), (20, acceptance), (40, sampled)):
        arrived(email, minutes)
    return statement, acceptance, sampled


def log_in(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "geheim-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_an_operator_works_three_emails_from_the_queue_by_keyboard(page, live_server, three_waiting):
    statement, acceptance, sampled = three_waiting
    reviewer = make_reviewer("rita")
    reviewer.user_permissions.add(Permission.objects.get(codename="view_prompttemplate"))
    files = []
    page.on("response", lambda response: "/review/file/" in response.url and files.append(response))

    log_in(page, live_server)
    page.get_by_role("link", name="3 zu prüfen").click()  # the browser asks for German

    # 1. The PDF statement: the PDF is shown inline beside the answer, which is right: confirm it.
    page.wait_for_selector("#review-form")
    assert page.url.endswith(f"/{statement.pk}/review/")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'intent'")
    page.wait_for_load_state("load")
    pdf = [r for r in files if r.headers.get("content-type") == "application/pdf"]
    assert pdf and pdf[0].status == 200 and pdf[0].headers["x-content-type-options"] == "nosniff"
    assert page.locator("iframe.review-pdf").count() == 1
    assert page.input_value("#id_total_claim") == "2.219,67"
    page.keyboard.press("Alt+KeyC")

    # 2. The acceptance: the total claim is corrected, typed the German way, reaching the field by Tab.
    page.wait_for_url(f"**/{acceptance.pk}/review/")
    # The browser is German (the page fixture's locale), as the operators' are: the workstation answers in German.
    assert "Prüfung von „Forderungsaufstellung" in page.locator(".messagelist").inner_text()
    for _ in range(4):  # intent -> creditor -> reference -> debtor -> total claim
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_total_claim"
    page.keyboard.press("Control+A")
    page.keyboard.type("1.234,56")
    page.keyboard.press("Alt+KeyS")

    # 3. The QA sample's rejection: confirmed unchanged; then the queue is empty.
    page.wait_for_url(f"**/{sampled.pk}/review/")
    assert "QS-Stichprobe" in page.locator("#review-queue").inner_text()
    page.keyboard.press("Alt+KeyC")
    page.wait_for_selector("#review-empty")
    assert "Nichts zu prüfen" in page.locator("#review-empty").inner_text()

    reviews = {r.email_id: r for r in EmailReview.objects.all()}
    assert str(reviews[acceptance.pk].total_claim) == "1234.56"
    assert reviews[acceptance.pk].changed_fields == ["total_claim"]
    assert reviews[statement.pk].changed_fields == [] and reviews[sampled.pk].changed_fields == []
    assert set(IncomingEmail.objects.values_list("status", flat=True)) == {Status.REVIEWED}

    # The performance pages now show each version's accuracy, counted from these reviews (today: raw rows).
    today = local_day(timezone.now())
    for task_type, name, column in [("extraction", "email_body", "accuracy"),
                                    ("extraction", "pdf_scanned", "accuracy"),
                                    ("classification", "email_intent", "intent-accuracy")]:
        version = get_active_prompt(task_type, name)
        figures = prompt_accuracy(template=version, start=today, end=today)
        checked, correct = (figures["intent_checked"], figures["intent_correct"]) if column == "intent-accuracy" \
            else (figures["fields_checked"], figures["fields_correct"])
        assert checked > 0
        page.goto(f"{live_server.url}/admin/performance/{task_type}/{name}/")
        cell = page.locator(f"#version-comparison tr[data-version='{version.version}'] td.{column}").inner_text()
        assert f"({correct} von {checked})" in cell, (name, cell)  # the browser asks for German
        chart = "figure-intent_accuracy" if column == "intent-accuracy" else "figure-accuracy"
        assert "pro Tag, geprüfte E-Mails" in page.locator(f"#{chart} figcaption").inner_text()


def test_on_a_phone_the_form_stacks_below_the_email_without_sideways_scrolling(page, live_server, api, queued):
    statement = answered_email(api, "statement_with_pdf.eml", classify={"intent": "debt_statement", "confidence": 0.6})
    make_reviewer("rita")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/extraction/incomingemail/{statement.pk}/review/")
    source = page.locator(".review-source").bounding_box()
    form = page.locator(".review-answer").bounding_box()
    assert form["y"] >= source["y"] + source["height"]
    assert form["width"] <= 390 and source["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
