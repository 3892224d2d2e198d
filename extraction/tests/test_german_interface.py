"""The e-mail admin and the review workstation speak German to a German browser (the product's default), with
German numbers and dates; an English browser gets the same pages in English."""

import re

import pytest
from django.urls import reverse

from extraction.models import EmailReview, IncomingEmail
from extraction.tests.reviewing import answered_email, make_reviewer

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
LIST_URL = reverse("admin:extraction_incomingemail_changelist")
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def statement(api):
    """The PDF statement (total claim 2.219,67 EUR, dated 05.11.2026), processed by the pipeline."""
    return answered_email(api)


def change_url(email):
    return reverse("admin:extraction_incomingemail_change", args=[email.pk])


def review_url(email):
    return reverse("admin:extraction_incomingemail_review", args=[email.pk])


def test_the_email_list_has_german_columns_badges_and_filters(admin_client, statement):
    page = admin_client.get(LIST_URL, **GERMAN).content.decode()
    for title in ["Eingegangen", "Absender und Betreff", "Status", "Konfidenz", "Begründung", "Prüfung"]:
        assert f">{title}</a>" in page or f">{title}</span>" in page, title
    assert '<span class="status-badge status-extracted">Extrahiert</span>' in page
    assert "Nach Status" in page and "Nach Anliegen" in page and "Nach Konfidenz" in page
    assert "unter der Prüfschwelle" in page and "Manuelle Prüfung" in page
    assert re.search(r'<td class="field-confidence">0,\d\d</td>', page)  # a German decimal comma
    assert "Ausgewählte E-Mails erneut zur Verarbeitung einreihen" in page
    assert "Warteschlange prüfen" in page


def test_the_email_list_stays_english_for_an_english_browser(admin_client, statement):
    page = admin_client.get(LIST_URL, **ENGLISH).content.decode()
    assert "sender and subject" in page.lower() and "By intent" in page and "below review threshold" in page
    assert '<span class="status-badge status-extracted">Extracted</span>' in page
    assert re.search(r'<td class="field-confidence">0\.\d\d</td>', page)


def test_an_emails_page_shows_german_amounts_dates_and_the_requeue_button(admin_client, statement):
    IncomingEmail.objects.filter(pk=statement.pk).update(status=Status.FAILED)
    page = admin_client.get(change_url(statement), **GERMAN).content.decode()
    assert "2.219,67\xa0€" in page  # the merged total claim, as money
    assert "05.11.2026" in page  # the statement date
    assert "Erneut zur Verarbeitung einreihen" in page
    assert "Anhänge (1)" in page and "vom Modell ausgewertet" in page
    assert "Normalisierte Angaben" in page and "Gesamtforderung" in page and "Zusammengeführtes Ergebnis" in page


def test_an_emails_page_in_english_shows_english_amounts(admin_client, statement):
    IncomingEmail.objects.filter(pk=statement.pk).update(status=Status.FAILED)
    page = admin_client.get(change_url(statement), **ENGLISH).content.decode()
    assert "€2,219.67" in page and "5 Nov 2026" in page
    assert "Re-queue for processing" in page and "Attachments (1)" in page and "Merged result" in page


@pytest.fixture
def reviewer(client):
    client.force_login(make_reviewer())


def test_the_review_workstation_is_german_labels_buttons_and_keyboard_help(client, reviewer, statement):
    page = client.get(review_url(statement), **GERMAN).content.decode()
    for label in ["Anliegen", "Name des Gläubigers", "Gesamtforderung (EUR)", "Hauptforderung (EUR)",
                  "Datum der Aufstellung", "Stimmt dem Plan zu", "Notiz (optional)"]:
        assert f">{label}</label>" in page, label
    assert "Korrekturen speichern <kbd>Alt+S</kbd>" in page and "Unverändert bestätigen <kbd>Alt+C</kbd>" in page
    assert "Tasten:" in page and "nächste E-Mail ohne Speichern" in page
    assert "Modell: <strong>2.219,67</strong> aus dem PDF" in page
    assert "<option value=\"unknown\">nicht angegeben</option>" in page or "nicht angegeben</option>" in page


def test_a_review_validation_error_is_german_and_english_for_an_english_browser(client, reviewer, statement):
    page = client.get(review_url(statement))
    form = page.context["form"]
    data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
    data.update(accepts_plan="unknown", costs="zehn Euro", action="save")
    german = client.post(review_url(statement), data, **GERMAN).content.decode()
    assert "Kein Betrag: Geben Sie z. B. 1.234,56 oder 1234,56 € ein." in german
    assert "Bitte korrigieren Sie die Fehler unten. Es wurde nichts gespeichert." in german
    english = client.post(review_url(statement), data, **ENGLISH).content.decode()
    assert "Not an amount: type e.g. 1.234,56 or 1234,56 €." in english
    assert "Keys:" in english and "Save corrections" in english
    assert not EmailReview.objects.exists()


def test_model_prices_are_listed_as_dollars_in_the_operators_language(admin_client):
    url = reverse("admin:extraction_modelprice_changelist")
    assert "3,00\xa0$" in admin_client.get(url, **GERMAN).content.decode()
    assert "$3.00" in admin_client.get(url, **ENGLISH).content.decode()


def test_the_worker_writes_the_review_reasons_in_the_products_language_with_its_numbers(settings):
    # The worker runs with LANGUAGE_CODE active: German in the practice (the suite's settings say English).
    from types import SimpleNamespace

    from django.utils import translation

    from extraction import processing
    from extraction.models import Intent

    email = SimpleNamespace(intent_confidence=0.64, intent=Intent.INQUIRY)
    with translation.override("de"):
        reasons = processing._intent_review_reasons(email, 0.7)
    assert reasons == ["Anliegen-Konfidenz 0,64 liegt unter 0,7",
                       "der Gläubiger stellt eine Frage, die eine Antwort von Hand braucht"]
