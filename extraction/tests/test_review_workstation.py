"""The review workstation: the e-mail beside the prefilled form; confirm, correct, skip, next; files by permission."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from extraction.models import EmailReview, IncomingEmail
from extraction.review import merged_answer
from extraction.services import email_review, ingest_message
from extraction.tests.conftest import PDF, multipart_email
from extraction.tests.reviewing import answered_email, make_reviewer, make_staff, queue_email

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def review_url(email):
    return reverse("admin:extraction_incomingemail_review", args=[email.pk])


NEXT_URL = reverse("admin:extraction_incomingemail_review_next")


@pytest.fixture
def statement(api):
    """The PDF statement, answered by the body (0.93) and the PDF (0.97), waiting in manual review."""
    email = answered_email(api)
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.MANUAL_REVIEW)
    email.refresh_from_db()
    return email


@pytest.fixture
def reviewer(client):
    user = make_reviewer()
    client.force_login(user)
    return user


def as_submitted(response, **typed):
    """The form as the browser sends it back: every field with the value shown on the page, then `typed`."""
    form = response.context["form"]
    return {**{name: _posted(name, form[name].value()) for name in form.fields}, **typed}


def _posted(name, value):
    if value is None:
        return "unknown" if name == "accepts_plan" else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def test_the_page_shows_the_body_the_pdf_inline_and_the_merged_answer_in_german_with_its_sources(
    client, reviewer, statement
):
    response = client.get(review_url(statement))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Forderungsaufstellung" in page
    attachment = statement.attachments.get()
    file_url = reverse("admin:extraction_incomingemail_review_file", args=[statement.pk, attachment.pk])
    assert f'<iframe class="review-pdf" src="{file_url}"' in page
    assert 'value="2.219,67"' in page and 'value="05.11.2026"' in page
    fields = {row["field"].name: row["origin"] for row in response.context["fields"]}
    assert fields["total_claim"]["label"] == "the PDF Forderungsaufstellung_2026-118-BK.pdf"
    assert fields["total_claim"]["raw"] == "2.219,67 EUR"
    assert fields["accepts_plan"]["label"] == "the e-mail body"
    assert fields["statement_date"]["model_value"] == "05.11.2026"
    assert "classification.email_intent v1" in fields["intent"]["label"]
    assert "In the queue: manual review." in page
    assert 'data-review-key="KeyC"' in page and "Alt+C" in page


def test_saving_a_corrected_german_amount_stores_the_review_and_opens_the_next_e_mail(
    client, reviewer, statement
):
    later = queue_email(status=Status.MANUAL_REVIEW, minutes_ago=-5)
    page = client.get(review_url(statement))
    response = client.post(review_url(statement), as_submitted(page, total_claim="1.234,56", action="save"))
    assert response.status_code == 302 and response["Location"] == NEXT_URL
    review = EmailReview.objects.get(email=statement)
    assert review.total_claim == Decimal("1234.56")
    assert review.principal == Decimal("1980.00") and review.statement_date == datetime.date(2026, 11, 5)
    assert review.changed_fields == ["total_claim"]
    assert (review.reviewed_by, review.revision) == (reviewer, 1)
    statement.refresh_from_db()
    assert statement.status == Status.REVIEWED
    assert client.get(NEXT_URL)["Location"] == review_url(later)
    assert LogEntry.objects.get(object_id=str(statement.pk)).change_message == (
        "Reviewed (revision 1): corrected: total_claim."
    )


def test_confirming_the_answer_unchanged_stores_it_as_the_truth(client, reviewer, statement):
    page = client.get(review_url(statement))
    response = client.post(review_url(statement), as_submitted(page, action="confirm"))
    assert response.status_code == 302
    review = EmailReview.objects.get(email=statement)
    assert review.changed_fields == []
    assert (review.total_claim, review.accepts_plan, review.intent) == (Decimal("2219.67"), True, "debt_statement")


def test_confirming_after_a_change_saves_nothing_and_says_which_field_changed(client, reviewer, statement):
    page = client.get(review_url(statement))
    response = client.post(review_url(statement), as_submitted(page, costs="99,00", action="confirm"))
    assert response.status_code == 200
    assert "You changed costs" in response.content.decode()
    assert not EmailReview.objects.exists()


@pytest.mark.parametrize(("field", "typed"), [
    ("total_claim", "1.234,567"), ("interest", "-3,00"), ("costs", "zehn Euro"), ("statement_date", "31.02.2026"),
])
def test_invalid_input_is_a_form_error_and_nothing_is_saved(client, reviewer, statement, field, typed):
    page = client.get(review_url(statement))
    response = client.post(review_url(statement), as_submitted(page, **{field: typed}, action="save"))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert "Nothing was saved" in response.content.decode()
    assert not EmailReview.objects.exists()
    statement.refresh_from_db()
    assert statement.status == Status.MANUAL_REVIEW


def test_a_concurrent_save_shows_who_saved_and_their_values_and_saves_nothing(client, reviewer, statement):
    page = client.get(review_url(statement))  # the form shows revision 0
    colleague = make_reviewer("kai")
    email_review(
        email=statement, reviewed_by=colleague, intent="debt_statement", expected_revision=0,
        facts={**merged_answer(statement)["facts"], "total_claim": Decimal("2000.00")},
    )
    response = client.post(review_url(statement), as_submitted(page, total_claim="1.234,56", action="save"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "kai saved a review of this e-mail" in text
    rows = {row["label"]: row for row in response.context["conflict"]["rows"]}
    assert (rows["Total claim (EUR)"]["theirs"], rows["Total claim (EUR)"]["yours"]) == ("2.000,00", "1.234,56")
    assert rows["Total claim (EUR)"]["differs"] and not rows["Principal (EUR)"]["differs"]
    review = EmailReview.objects.get(email=statement)
    assert (review.reviewed_by.username, review.total_claim, review.revision) == ("kai", Decimal("2000.00"), 1)
    # The page now carries their revision: saving again replaces their review, deliberately.
    assert response.context["form"]["revision"].value() == "1"
    again = client.post(review_url(statement), as_submitted(response, action="save"))
    assert again.status_code == 302
    review.refresh_from_db()
    assert (review.reviewed_by, review.total_claim, review.revision) == (reviewer, Decimal("1234.56"), 2)


def test_a_reviewed_e_mail_opens_with_its_review_and_can_be_reviewed_again(client, reviewer, statement):
    page = client.get(review_url(statement))
    client.post(review_url(statement), as_submitted(page, debtor_name="Thomas Bäcker", action="save"))
    again = client.get(review_url(statement))
    assert again.context["form"]["debtor_name"].value() == "Thomas Bäcker"
    assert "revision 1" in again.content.decode() and "Not in the queue" in again.content.decode()
    client.post(review_url(statement), as_submitted(again, action="confirm"))
    assert EmailReview.objects.get(email=statement).revision == 2


def test_skipping_leaves_the_e_mail_in_the_queue_and_moves_on_until_only_skipped_ones_are_left(
    client, reviewer, statement
):
    other = queue_email(status=Status.EXTRACTED, review_sample=True, minutes_ago=-5)
    assert client.get(NEXT_URL)["Location"] == review_url(statement)
    response = client.post(review_url(statement), {"action": "skip"})
    assert response["Location"] == NEXT_URL
    assert client.get(NEXT_URL)["Location"] == review_url(other)
    client.post(review_url(other), {"action": "skip"})
    empty = client.get(NEXT_URL)
    assert empty.status_code == 200
    assert "among the 2 you skipped" in empty.content.decode()
    client.post(NEXT_URL, {"start_over": "1"})
    assert client.get(NEXT_URL)["Location"] == review_url(statement)
    statement.refresh_from_db()
    assert statement.status == Status.MANUAL_REVIEW and not EmailReview.objects.exists()


def test_next_in_queue_leaves_the_current_e_mail_for_now(client, reviewer, statement):
    other = queue_email(status=Status.MANUAL_REVIEW, minutes_ago=-5)
    assert client.get(f"{NEXT_URL}?after={statement.pk}")["Location"] == review_url(other)
    assert client.get(NEXT_URL)["Location"] == review_url(statement)


def test_an_empty_queue_says_so(client, reviewer):
    response = client.get(NEXT_URL)
    assert response.status_code == 200
    assert "Nothing to review" in response.content.decode()


def test_an_e_mail_still_being_processed_cannot_be_reviewed(client, reviewer):
    email = queue_email(status=Status.PROCESSING, minutes_ago=1)
    response = client.get(review_url(email))
    assert response["Location"] == reverse("admin:extraction_incomingemail_change", args=[email.pk])
    response = client.post(review_url(email), {"action": "save", "intent": "spam", "revision": "0"})
    assert response.status_code == 302 and not EmailReview.objects.exists()


# Files ------------------------------------------------------------------------------------------------------

@pytest.fixture
def files_email():
    """An e-mail in manual review with a PDF, a PNG, an HTML page, an HTML page declared as PDF, an SVG."""
    email = ingest_message(multipart_email(
        ('filename="Aufstellung.pdf"', "application/pdf", PDF),
        ('filename="Brief.png"', "image/png", PNG),
        ('filename="seite.html"', "text/html", b"<script>alert(1)</script>"),
        ('filename="falsch.pdf"', "application/pdf", b"<html><script>alert(1)</script></html>"),
        ('filename="bild.svg"', "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
    ))
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.MANUAL_REVIEW)
    return email


def file_response(client, email, name):
    attachment = email.attachments.get(original_name=name)
    return client.get(reverse("admin:extraction_incomingemail_review_file", args=[email.pk, attachment.pk]))


def test_a_pdf_is_served_inline_as_pdf_with_nosniff(client, reviewer, files_email):
    response = file_response(client, files_email, "Aufstellung.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert b"".join(response.streaming_content) == PDF


def test_an_image_is_served_inline_sandboxed(client, reviewer, files_email):
    response = file_response(client, files_email, "Brief.png")
    assert (response["Content-Type"], response["X-Content-Type-Options"]) == ("image/png", "nosniff")
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize("name", ["seite.html", "falsch.pdf", "bild.svg"])
def test_anything_else_is_a_download_never_rendered(client, reviewer, files_email, name):
    response = file_response(client, files_email, name)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_the_page_shows_pdfs_and_images_inline_and_offers_the_rest_as_downloads(client, reviewer, files_email):
    rows = {row["attachment"].original_name: row["shown_as"]
            for row in client.get(review_url(files_email)).context["documents"]["rows"]}
    assert rows == {"Aufstellung.pdf": "pdf", "Brief.png": "image", "seite.html": "download",
                    "falsch.pdf": "pdf", "bild.svg": "download"}


def test_an_attachment_is_not_reachable_through_another_e_mails_url(client, reviewer, files_email):
    other = ingest_message(multipart_email(('filename="x.pdf"', "application/pdf", PDF)))
    IncomingEmail.objects.filter(pk=other.pk).update(status=Status.MANUAL_REVIEW)
    foreign = files_email.attachments.get(original_name="Aufstellung.pdf")
    url = reverse("admin:extraction_incomingemail_review_file", args=[other.pk, foreign.pk])
    assert client.get(url).status_code == 404


def test_files_of_an_e_mail_that_cannot_be_reviewed_are_refused(client, reviewer, files_email):
    IncomingEmail.objects.filter(pk=files_email.pk).update(status=Status.PROCESSING)
    assert file_response(client, files_email, "Aufstellung.pdf").status_code == 403


# Permissions ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("codenames", [
    ("view_incomingemail",),  # view-only staff
    ("review_email",),  # reviewing shows the e-mail, so it takes viewing too
    (),
])
def test_staff_without_both_permissions_get_403_on_the_page_the_queue_and_the_files(
    client, files_email, codenames
):
    client.force_login(make_staff("victor", *codenames))
    attachment = files_email.attachments.get(original_name="Aufstellung.pdf")
    for url in (review_url(files_email), NEXT_URL,
                reverse("admin:extraction_incomingemail_review_file", args=[files_email.pk, attachment.pk])):
        assert client.get(url).status_code == 403, url
    posted = client.post(review_url(files_email), {"action": "save", "intent": "spam", "revision": "0"})
    assert posted.status_code == 403
    assert not EmailReview.objects.exists()


def test_reviewers_find_the_queue_on_the_index_and_a_review_link_on_the_email_pages(client, reviewer, statement):
    index = client.get(reverse("admin:index")).content.decode()
    assert "1 to review" in index and NEXT_URL in index
    change = client.get(reverse("admin:extraction_incomingemail_change", args=[statement.pk])).content.decode()
    assert f'href="{review_url(statement)}"' in change
    listing = client.get(reverse("admin:extraction_incomingemail_changelist")).content.decode()
    assert f'href="{review_url(statement)}"' in listing and "Review the queue" in listing


def test_view_only_staff_see_no_review_links(client, statement):
    client.force_login(make_staff("victor", "view_incomingemail"))
    index = client.get(reverse("admin:index")).content.decode()
    assert "to review" not in index
    change = client.get(reverse("admin:extraction_incomingemail_change", args=[statement.pk])).content.decode()
    listing = client.get(reverse("admin:extraction_incomingemail_changelist")).content.decode()
    assert review_url(statement) not in change and review_url(statement) not in listing


def test_the_page_makes_as_many_queries_for_forty_attachments_as_for_one(client, reviewer):
    def email_with(attachments):
        email = ingest_message(multipart_email(
            *[(f'filename="Seite-{n}.pdf"', "application/pdf", PDF + str(n).encode()) for n in range(attachments)]
        ))
        IncomingEmail.objects.filter(pk=email.pk).update(status=Status.MANUAL_REVIEW)
        return email

    one, forty = email_with(1), email_with(40)
    client.get(review_url(one))  # the session and the user are loaded once per request either way
    with CaptureQueriesContext(connection) as one_page:
        assert client.get(review_url(one)).status_code == 200
    with CaptureQueriesContext(connection) as forty_page:
        response = client.get(review_url(forty))
    # 13 on SQLite (one of them the operator's claim on the e-mail); PostgreSQL sets the statement timeout first.
    assert len(forty_page.captured_queries) == len(one_page.captured_queries) <= 14, [
        q["sql"][:60] for q in forty_page.captured_queries
    ]
    assert len(response.context["documents"]["rows"]) == 20 and response.context["documents"]["more"]
