"""The evaluation pages in German, the product's default language: the start page with its estimate, comparing a
version with the active one, the compare page, the gate's refusal and the canary's page; German numbers on each
(1.234,56 / 98,2 % / 0,012345 $)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from evaluation.models import ExperimentRun
from evaluation.services import evaluation_set_create
from evaluation.tests.calls import record_calls
from evaluation.tests.cases import reviewed_statements
from evaluation.tests.test_admin_experiments import DEGRADE, START, VIEW_RUNS
from prompts.errors import ActivationBlocked
from prompts.selectors import get_active_prompt
from prompts.services import prompt_activate
from prompts.tests.factories import OPERATOR_PERMISSIONS, VIEW, make_staff_user, make_version

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def back_to_the_tests_language():
    """A German request leaves German active in this thread (LocaleMiddleware activates, nothing deactivates):
    the tests after these ones expect the settings' language."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def german(username, *permissions):
    """A client signed in whose browser asks for German (the product's default; the tests' settings say "en")."""
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(make_staff_user(username, *permissions))
    return client


@pytest.fixture
def evaluation_set(fake_model):
    return evaluation_set_create(name="November", emails=reviewed_statements(6), created_by="rita")


def test_the_start_page_and_its_estimate_in_german(evaluation_set):
    client = german("olga", *VIEW_RUNS, START)
    version = get_active_prompt("extraction", "email_body")
    html = client.post(reverse("admin:evaluation_experimentrun_start"), {
        "evaluation_set": evaluation_set.pk, "template": version.pk, "estimate": "1",
    }).content.decode()
    assert "Eine Prompt-Version auf einem Testsatz ausführen" in html
    assert "Testsatz" in html and "Budget (USD)" in html and "Kosten schätzen" in html and "Lauf starten" in html
    assert "Geschätzte Kosten: <strong>0,0" in html and f"{NBSP}$</strong> (aus 6 erfassten Aufrufen)" in html


def test_compare_with_active_and_the_compare_page_in_german(evaluation_set, django_capture_on_commit_callbacks):
    active = get_active_prompt("extraction", "email_body")
    worse = make_version(active, system_prompt=active.system_prompt + DEGRADE)
    client = german("olga", *VIEW_RUNS, START)
    url = reverse("admin:evaluation_experimentrun_compare_with_active", args=[worse.pk])
    html = client.get(url).content.decode()
    assert "v2 mit der aktiven Version vergleichen" in html
    assert "Aktive Version v1" in html and "Kandidat v2" in html and "ein neuer Lauf" in html
    assert "aus 6 erfassten Aufrufen" in html and "Token-Schätzung: etwa " in html
    assert "Geschätzte Kosten der 2 neuen Läufe: <strong>0,0" in html
    assert 'value="Mit der aktiven Version vergleichen"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"evaluation_set": evaluation_set.pk, "compare": "1"})
    html = client.get(response.url).content.decode()
    assert "v2 neben v1 auf November" in html
    assert "Kandidat <a href=" in html and "(Abgeschlossen) neben der Vergleichsbasis" in html
    assert "Genauigkeit je Feld" in html and "Exakte Fälle" in html and "Antwortzeit (p95)" in html
    assert f"100,0{NBSP}%" in html  # the active version answers every field right
    assert "Prozentpunkte" in html and "Verschlechtert (" in html and "Verbessert (" in html
    assert f"{NBSP}$</td>" in html  # costs in dollars, German digits


def test_a_run_still_going_shows_its_progress_in_german(evaluation_set, django_capture_on_commit_callbacks):
    client = german("olga", *VIEW_RUNS, START)
    candidate = make_version(get_active_prompt("extraction", "email_body"))
    with django_capture_on_commit_callbacks(execute=False):  # queued: no worker takes them
        response = client.post(reverse("admin:evaluation_experimentrun_compare_with_active", args=[candidate.pk]),
                               {"evaluation_set": evaluation_set.pk, "compare": "1"})
    html = client.get(response.url).content.decode()
    assert "Läuft noch: die bisherigen Kennzahlen" in html
    assert "Kandidat, Lauf #" in html and "(Eingereiht): 0 von 6 Fällen erledigt" in html
    assert "Diese Seite lädt sich alle 5 Sekunden neu" in html


def test_a_runs_page_in_german(evaluation_set, django_capture_on_commit_callbacks):
    client = german("olga", *VIEW_RUNS, START)
    version = get_active_prompt("extraction", "email_body")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:evaluation_experimentrun_start"), {
            "evaluation_set": evaluation_set.pk, "template": version.pk, "start": "1",
        })
    run = ExperimentRun.objects.get()
    html = client.get(reverse("admin:evaluation_experimentrun_change", args=[run.pk])).content.decode()
    assert "Abgeschlossen" in html and "6 (6 bewertet, 0 nicht anwendbar, 0 übersprungen, 0 wartend)" in html
    assert f"100,0{NBSP}% (54 von 54 Feldern)" in html and "Genauigkeit je Feld" in html
    assert "Experiment-Lauf ansehen" in html and f"Lauf {run.pk}: extraction.email_body v1 auf November" in html


def test_the_gate_refuses_in_german(settings, evaluation_set):
    settings.PROMPT_ACTIVATION_VALIDATORS = [{
        "NAME": "evaluation.gate.ExperimentGateValidator",
        "OPTIONS": {"evaluation_set": "November", "min_cases": 5},
    }]
    candidate = make_version(get_active_prompt("extraction", "email_body"))
    with translation.override("de"), pytest.raises(ActivationBlocked) as refused:
        prompt_activate(template=candidate, activated_by="rita")
    assert str(refused.value) == (
        f"{candidate} hat kein abgeschlossenes Experiment auf November: Führen Sie es zuerst aus "
        "(„Mit der aktiven Version vergleichen“)."
    )


def test_the_canary_page_in_german(rollout):
    start = rollout.started_at - timedelta(minutes=10)
    type(rollout).objects.filter(pk=rollout.pk).update(started_at=start)
    record_calls(rollout.baseline, calls=80, failures=4, start=start + timedelta(seconds=1))
    record_calls(rollout.candidate, calls=20, failures=3, start=start + timedelta(seconds=1), cost="0.005")
    client = german("olga", VIEW, *OPERATOR_PERMISSIONS)
    response = client.get(reverse("admin:prompts_promptrollout_change", args=[rollout.pk]))
    baseline, _ = response.context["comparison"]["arms"]
    assert baseline["failure_text"] == f"5,0{NBSP}% (2,0–12,2{NBSP}%)"
    html = response.content.decode()
    assert "Live-Vergleich seit" in html and "Fehlerquote (95-%-Intervall)" in html and "Kosten pro Aufruf" in html
    assert 'class="arm-candidate"' in html and "Kandidat v2" in html and "Vergleichsbasis v1" in html
    assert "Noch 480 Aufrufe des Kandidaten ohne Verschlechterung bis zur Übernahme." in html
    assert "Canary-Freigabe stoppen" in html and "Jetzt übernehmen" in html and "noch keine Prüfungen" in html


def test_the_commands_report_in_german(fake_model):
    reviewed_statements(2)  # reviewed by "rita"
    out = StringIO()
    with translation.override("de"):
        call_command("build_evaluation_set", "Dezember", by="rita", stdout=out)
    assert out.getvalue().strip() == "Testsatz „Dezember“ mit 2 Fällen angelegt."


@pytest.mark.parametrize(
    "name, value, german, english",
    [
        ("total_claim", "1285.30", "1.285,30\u00a0€", "€1,285.30"),
        ("statement_date", "2026-11-20", "20.11.2026", "20 Nov 2026"),
        ("accepts_plan", True, "ja", "yes"),
        ("intent", "payment_plan", "Zahlungsplan", "Payment plan"),
        ("total_claim", "ca. 1.1oo,-", "ca. 1.1oo,-", "ca. 1.1oo,-"),  # an unreadable answer, as written
        ("creditor_reference", None, "–", "–"),
    ],
)
def test_the_compare_page_shows_facts_as_an_operator_reads_them(name, value, german, english):
    from django.utils import translation

    from evaluation.expected import fact_display

    with translation.override("de"):
        assert fact_display(name, value) == german
    with translation.override("en"):
        assert fact_display(name, value) == english
