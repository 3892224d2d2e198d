"""The operators' pages and the metrics admin speak the browser's language: German by default, English on request.

German writes dates 26.11.2026, percentages "75,0 %" and amounts "0,0010000 $" (a no-break space before the sign);
the English pages keep their wording and write "75.0%", "$0.0010000" and "26 Nov 2026".
"""

import json
from datetime import date
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format

from dashboard.tests.conftest import daily, days_ago
from extraction.models import MailboxFailure, MailboxState
from metrics.collector import MetricsCollector
from metrics.days import local_day
from metrics.models import PromptAccuracyMetrics
from metrics.services import rollup_operational_metrics, rollup_prompt_metrics
from metrics.tests.helpers import at, calls_per_day, make_version
from prompts.services import prompt_activate

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
NBSP = "\u00a0"
PERFORMANCE = "/admin/performance/classification/email_intent/?days=7"
DAY = date(2026, 6, 10)


@pytest.fixture
def operator(client):
    client.force_login(User.objects.create_superuser("erika", "erika@example.org", "pw"))
    return client


def german_date(day):
    return day.strftime("%d.%m.%Y")


def chart_data(html):
    start = html.index('id="dashboard-chart-data"')
    return json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])


def comparison(html):
    table = html[html.index('id="version-comparison"'):]
    return table[:table.index("</table>")]


def test_the_index_overview_is_german_by_browser_language_and_english_on_request(operator):
    german = operator.get("/admin/", **GERMAN).content.decode()
    assert '<html lang="de"' in german
    assert "Auswertung der Gläubigerantworten" in german
    assert "Prompts im Einsatz" in german and "Freigaben" in german and "Fehlgeschlagene E-Mails" in german
    assert "Betrieb: Länge der Warteschlange" in german
    english = operator.get("/admin/", **ENGLISH).content.decode()
    assert "Creditor-answer analysis" in english and "Prompts in use" in english
    assert "Auswertung" not in english


def test_the_performance_page_has_german_charts_figures_and_dates(operator, intent_v1, intent_v2, today):
    daily(intent_v1, days_ago(today, 2), calls=8, successes=6, cost="0.00800000", p95=1750.0)
    prompt_activate(template=intent_v2, activated_by="erika")
    html = operator.get(PERFORMANCE, **GERMAN).content.decode()

    data = chart_data(html)
    titles = [chart["title"] for chart in data["charts"]]
    assert "Erfolgsquote pro Tag (%)" in titles and "p95-Antwortzeit pro Tag (ms)" in titles
    assert data["day_labels"][-1] == german_date(today)
    assert data["texts"]["so_far"] == "(bisher)"
    assert data["markers"][0]["label"] == "v2 von erika"
    assert data["charts"][0]["datasets"][0]["label"] == "v1"
    assert data["charts"][0]["datasets"][0]["data"][4] == 75.0  # numbers stay JSON numbers for Chart.js

    table = comparison(html)
    first, last = german_date(days_ago(today, 6)), german_date(today)
    assert f"Versionen im Vergleich vom {first} bis {last}" in table
    assert f"75,0{NBSP}%" in table  # 6 of 8 calls succeeded
    assert f"0,0010000{NBSP}$" in table and f"0,0080{NBSP}${NBSP}" not in table  # cost per call, total
    assert "1.750 <span" in table  # the mean of the daily p95s, with a German thousands separator
    assert "Genauigkeit der Angaben" in table
    assert "Zeitraum:" in html and f"{first} – {last}" in html and "(heute bisher: unvollständig)" in html
    assert f"{german_date(today)}: v2 von erika" in html  # the marker list under the range


def test_the_performance_page_in_english_keeps_its_wording_with_english_number_formats(operator, intent_v1, today):
    daily(intent_v1, days_ago(today, 2), calls=8, successes=6, cost="0.00800000")
    html = operator.get(PERFORMANCE, **ENGLISH).content.decode()
    data = chart_data(html)
    assert data["charts"][0]["title"] == "Success rate per day (%)"
    assert data["day_labels"][-1] == date_format(today, "SHORT_DATE_FORMAT")  # "2 Dec 2026"
    table = comparison(html)
    first = days_ago(today, 6)
    assert f"Versions compared over {first.day} {first:%b %Y} – " in table
    assert "75.0%" in table and "$0.0010000" in table


def test_the_chart_tables_and_the_empty_state_write_days_in_german(operator, intent_v1, today):
    daily(intent_v1, days_ago(today, 2), calls=8, successes=6)
    html = operator.get(PERFORMANCE, **GERMAN).content.decode()
    assert "Werte als Tabelle" in html
    assert f'<th scope="row">{german_date(days_ago(today, 2))}</th>' in html
    end = days_ago(today, 10)
    empty = operator.get(f"{PERFORMANCE}&end={end.isoformat()}", **GERMAN).content.decode()
    assert "Keine Werte in diesem Zeitraum." in empty
    assert f"Der letzte Tag mit Werten ist der {german_date(days_ago(today, 2))}:" in empty
    assert f"&amp;end={days_ago(today, 2).isoformat()}" in empty  # the link keeps its ISO parameter


def test_the_operations_page_is_german(operator, today):
    MetricsCollector().record_queue_depth(queue="emails_waiting", depth=1234)
    html = operator.get("/admin/operations/?days=7", **GERMAN).content.decode()
    assert "<title>Betrieb | Auswertung der Gläubigerantworten</title>" in html
    assert "Höchste Länge der Warteschlange" in html and "Pro Tag (heute bisher aus den Rohmesswerten)" in html
    assert f"{german_date(today)} (bisher)" in html
    assert "<td>1.234</td>" in html
    titles = [chart["title"] for chart in chart_data(html)["charts"]]
    assert titles == ["Länge der Warteschlange pro Tag (höchster Messwert)", "Verarbeitungszeit pro Tag, p95 (ms)",
                      "Fehler pro Tag", "Token pro Tag"]


@pytest.fixture
def some_metrics():
    version = make_version()
    calls_per_day(version, [DAY], per_day=3)
    MetricsCollector().record_error(stage="extraction", error_type="Timeout", recorded_at=at(DAY))
    rollup_prompt_metrics(day=DAY)
    rollup_operational_metrics(day=DAY)
    return version


def test_the_metrics_admin_lists_are_german_and_english_unchanged(operator, some_metrics):
    daily_prompts = "/admin/metrics/promptperformancedaily/"
    german = operator.get(daily_prompts, **GERMAN).content.decode()
    assert "Prompt-Leistung (täglich)" in german and "Erfolgsquote" in german and "Aufrufe" in german
    assert f"100,0{NBSP}%" in german and "<td class=\"field-avg_confidence_display\">0,900</td>" in german
    english = operator.get(daily_prompts, **ENGLISH).content.decode()
    assert "prompt performance (daily)" in english.lower() and "Success rate" in english and "100.0%" in english

    german = operator.get("/admin/metrics/operationalmetricsdaily/", **GERMAN).content.decode()
    assert "Betriebskennzahlen (täglich)" in german and "Summe" in german and "Anzahl Fehler" in german
    german = operator.get("/admin/metrics/rollupday/", **GERMAN).content.decode()
    assert "Tagesauswertungen" in german and "Prompt-Leistung" in german
    german = operator.get("/admin/", **GERMAN).content.decode()
    assert "Kennzahlen" in german and "Kennzahlen der Prompt-Aufrufe (Rohdaten)" in german


def test_the_rollup_command_reports_in_the_active_language(some_metrics):
    with translation.override("de"):
        output = StringIO()
        call_command("rollup_metrics", "--date", DAY.isoformat(), "--kind", "prompt", stdout=output)
    assert output.getvalue().strip() == "Tagesauswertung erstellt – prompt: 1 Tag(e), 1 Tageszeile(n)."


def test_the_statement_timeout_page_is_german():
    with translation.override("de"):
        html = render_to_string("statement_timeout.html", {"timeout_seconds": 0.2})
    assert "länger als 0,2 Sekunden" in html and "Es wurde nichts geändert." in html


def test_the_intake_widget_is_german_and_its_filter_link_keeps_a_plain_id(operator):
    # A thousands separator in a URL ("?mailbox__id__exact=1.234") would filter for nothing.
    now = timezone.now()
    mailbox = MailboxState.objects.create(
        pk=1234, mailbox="kanzlei@imap.example.org:993/INBOX", last_success_at=now, last_error_at=now,
        last_error="connecting: refused",
    )
    for uid in (4, 5):
        MailboxFailure.objects.create(mailbox=mailbox, uid_validity=1, uid=uid, sha256="0" * 64, size=9, reason="x")
    html = operator.get("/admin/", **GERMAN).content.decode()
    assert "E-Mail-Eingang" in html and "Letzter erfolgreicher Abruf:" in html
    assert f"Letzter Fehler ({german_date(local_day(now))} " in html
    assert "2 Nachrichten konnten nicht gelesen werden" in html
    assert "/admin/extraction/mailboxfailure/?mailbox__id__exact=1234" in html


def test_ids_in_the_raw_metric_lists_are_plain_numbers_in_german(operator):
    # An id names a row; "900.011" (a German count) would not match the e-mail's id anywhere else.
    version = make_version()
    MetricsCollector().record_error(stage="extraction", error_type="Timeout", recorded_at=at(DAY), email_id=900011)
    PromptAccuracyMetrics.objects.create(
        prompt_version=version, review_id=123456, email_id=900011, fields_checked=9, fields_correct=9,
        intent_checked=0, intent_correct=0,
    )
    for path in ("/admin/metrics/operationalmetrics/", "/admin/metrics/promptaccuracymetrics/"):
        german = operator.get(path, **GERMAN).content.decode()
        assert '<td class="field-email_id_display">900011</td>' in german, path
        assert "900.011" not in german
    german = operator.get("/admin/metrics/promptaccuracymetrics/", **GERMAN).content.decode()
    assert '<td class="field-review_id_display">123456</td>' in german
