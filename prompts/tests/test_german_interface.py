"""The prompt admin speaks German to a German browser (the product's default language) and English to an English one.

The rest of the suite reads the pages in English (config.test_settings); here the browser asks for German, as an
operator's does, and a few key strings of each page prove the catalogue is used: actions, column titles, buttons,
dates as 20.11.2026, and the errors of an invalid template and of a hostile output schema.
"""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import translation

from prompts.errors import ReleaseRefused
from prompts.models import PromptTemplate
from prompts.services import activation_request, prompt_activate
from prompts.tests.factories import APPROVER_PERMISSIONS, OPERATOR_PERMISSIONS, make_staff_user, make_version

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
CHANGELIST = reverse("admin:prompts_prompttemplate_changelist")
# Midday in Berlin: the same calendar day in every time zone the test could run in.
NOVEMBER_20 = datetime.datetime(2026, 11, 20, 11, 0, tzinfo=datetime.UTC)


def url(view, *args):
    return reverse(f"admin:prompts_prompttemplate_{view}", args=args)


def page(client, address, language=GERMAN):
    response = client.get(address, **language)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def intent_v2(intent_v1):
    """An inactive v2 of the seeded prompt, made on 20 November 2026."""
    v2 = make_version(intent_v1, description="Kürzere Anweisung")
    PromptTemplate.objects.filter(pk=v2.pk).update(created_at=NOVEMBER_20)
    v2.refresh_from_db()
    return v2


def new_version_data(source, **overrides):
    return {
        "description": "Kürzere Anweisung",
        "system_prompt": source.system_prompt,
        "user_prompt_template": source.user_prompt_template,
        "model_name": source.model_name,
        "temperature": str(source.temperature),
        "max_tokens": str(source.max_tokens),
        "output_schema": "",
        **overrides,
    }


def test_the_prompt_list_is_german_with_its_actions_and_column_titles(operator, intent_v2):
    content = page(operator, CHANGELIST)
    for german in (
        "Prompt-Versionen",  # the model's name
        "Neue Version aus der ausgewählten erstellen", "Ausgewählte Version aktivieren …",
        "Auf die vorherige Version zurücksetzen …",  # the actions
        "Modell", "Erstellt von", "Erstellt am", "Aufgabentyp",  # column titles and a filter
        "20.11.2026",
    ):
        assert german in content, german
    assert "Roll back to the previous version" not in content


def test_a_versions_page_is_german_with_its_tools_fieldsets_and_labels(operator, intent_v2):
    content = page(operator, url("change", intent_v2.pk))
    for german in (
        "Neue Version daraus erstellen", "Diese Version aktivieren …", "Vorschau", "Vergleichen mit …", "Verlauf",
        "Modelleinstellungen", "Vorlage des Benutzer-Prompts", "Ausgabeschema", "Temperatur", "20.11.2026",
    ):
        assert german in content, german


def test_the_new_version_page_is_german(operator, intent_v1):
    content = page(operator, url("new_version", intent_v1.pk))
    for german in (
        "Neue Version von classification.email_intent", "Was sich geändert hat und warum", "Version erstellen",
        "Abbrechen", "Die neue Version ist eine Kopie von v1 mit Ihren Änderungen.",
        "Jinja2, beschränkt auf das, was ein Prompt braucht",  # the template language, in the help text
    ):
        assert german in content, german


def test_an_invalid_template_gives_a_german_error(operator, intent_v1):
    data = new_version_data(intent_v1, user_prompt_template="Betreff: {% set x = subject %}{{ x }}")
    response = operator.post(url("new_version", intent_v1.pk), data, **GERMAN)
    assert response.status_code == 200
    assert response.context["form"].errors["user_prompt_template"] == [
        "Fehler in der Vorlage in Zeile 1: {% set %} ist in einer Prompt-Vorlage nicht erlaubt (eine Prompt-Vorlage "
        "kann keine Variablen definieren; sie verwendet nur die, die sie erhält)"
    ]
    assert "Bitte korrigieren Sie die unten aufgeführten Fehler." in response.content.decode()


def test_a_hostile_schema_gives_a_german_error(operator, intent_v1):
    hostile = '{"type": "object", "properties": {"x": {"$ref": "https://evil.example/schema.json"}}}'
    response = operator.post(url("new_version", intent_v1.pk), new_version_data(intent_v1, output_schema=hostile),
                             **GERMAN)
    [error] = response.context["form"].errors["output_schema"]
    assert error.startswith("$ref 'https://evil.example/schema.json' bei #/properties/x verweist aus diesem Schema")
    assert error.endswith("damit nie etwas abgerufen wird")


def test_a_schema_refused_in_german_is_refused_in_english_for_an_english_operator(operator, intent_v1):
    # The reason a schema is unusable is cached per schema: per language too, or one operator's language leaks.
    backtracking = '{"type": "string", "pattern": "^(a+)+$"}'
    data = new_version_data(intent_v1, output_schema=backtracking)
    german = operator.post(url("new_version", intent_v1.pk), data, **GERMAN).context["form"].errors["output_schema"]
    english = operator.post(url("new_version", intent_v1.pk), data, **ENGLISH).context["form"].errors["output_schema"]
    assert german[0].startswith("Das Muster (pattern) bei # wiederholt einen Teil variabler Länge (+)")
    assert english[0].startswith("The pattern at # repeats a part of variable length (+)")


def test_the_activation_confirmation_is_german_with_the_gates_verdict(operator, intent_v2, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = [{"NAME": "prompts.gate.RequireOutputSchemaValidator"}]
    PromptTemplate.objects.filter(pk=intent_v2.pk).update(output_schema=None)
    content = page(operator, url("activate", intent_v2.pk))
    for german in (
        "classification.email_intent v2 aktivieren?", "Die Freigabeprüfung blockiert diese Version:",
        "classification.email_intent v2 hat kein Ausgabeschema", "Derzeit antwortet: v1. Danach: v2.",
        "System-Prompt", "Benutzer-Prompt",
    ):
        assert german in content, german


def test_the_activation_confirmation_offers_a_german_button(operator, intent_v2):
    content = page(operator, url("activate", intent_v2.pk))
    assert 'value="v2 aktivieren"' in content
    assert "Abbrechen" in content


def test_the_history_page_is_german_with_its_tables_and_dates(operator, intent_v1, intent_v2):
    activation = prompt_activate(template=intent_v2, activated_by="erika")
    type(activation).objects.filter(pk=activation.pk).update(activated_at=NOVEMBER_20)
    content = page(operator, url("prompt_history", "classification", "email_intent"))
    for german in (
        "Verlauf von classification.email_intent", "Versionen", "Aktivierungen", "Was sich geändert hat und warum",
        "Vergleichen", "Aktiviert", "Von v2 zurücksetzen …", "20.11.2026 12:00",
    ):
        assert german in content, german


def test_activating_tells_a_german_operator_in_german(operator, intent_v2):
    response = operator.post(url("activate", intent_v2.pk), **GERMAN)
    assert response.status_code == 302
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        "classification.email_intent v2 ist jetzt aktiv (bisher v1)."
    ]


def test_a_release_refusal_is_german_for_a_german_operator(intent_v1):
    erika = make_staff_user("erika", *OPERATOR_PERMISSIONS)
    with translation.override("de"), pytest.raises(ReleaseRefused) as refused:
        activation_request(template=intent_v1, requested_by=erika, reason="Weil")
    assert str(refused.value) == "classification.email_intent v1 ist bereits aktiv."


def test_release_emails_are_written_in_the_products_language_whoever_asked(
    intent_v2, settings, django_capture_on_commit_callbacks
):
    # One e-mail goes to several approvers: it is in the practice's language, not the requester's browser's.
    settings.LANGUAGE_CODE = "de"
    settings.PROMPT_ALERT_EMAILS = ["leitung@kanzlei.example"]
    erika = make_staff_user("erika", *OPERATOR_PERMISSIONS)
    make_staff_user("olga", *APPROVER_PERMISSIONS, email="olga@kanzlei.example")
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        activation_request(template=intent_v2, requested_by=erika, reason="Weniger Spam-Fehler")
    [message] = mail.outbox
    assert message.subject == "[prompts] Genehmigung erforderlich: Aktivierung von classification.email_intent v2"
    assert message.body.startswith("erika beantragt: Aktivierung von classification.email_intent v2.")
    assert "Begründung:\nWeniger Spam-Fehler" in message.body


def test_the_english_interface_is_unchanged(operator, intent_v2):
    listing = page(operator, CHANGELIST, ENGLISH)
    assert "Roll back to the previous version…" in listing and "Created by" in listing
    assert "20 Nov 2026" in listing
    assert "Create new version from this" in page(operator, url("change", intent_v2.pk), ENGLISH)
    confirmation = page(operator, url("activate", intent_v2.pk), ENGLISH)
    assert 'value="Activate v2"' in confirmation
    assert "Now serving: v1. After this: v2." in confirmation
    history = page(operator, url("prompt_history", "classification", "email_intent"), ENGLISH)
    assert "History of classification.email_intent" in history and "What changed and why" in history
