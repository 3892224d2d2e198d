"""Who may open the performance and operations pages, and how a bad range is answered."""

import pytest
from django.contrib import admin

from dashboard.sites import OperatorsAdminSite
from dashboard.tests.conftest import daily, days_ago
from prompts.models import PromptTemplate
from prompts.tests.factories import login

pytestmark = pytest.mark.django_db

PERFORMANCE = "/admin/performance/classification/email_intent/"
OPERATIONS = "/admin/operations/"
VIEW_PROMPTS = "prompts.view_prompttemplate"
VIEW_OPERATIONS = "metrics.view_operationalmetricsdaily"


def test_every_app_registers_its_admins_on_the_operators_site():
    assert isinstance(admin.site, OperatorsAdminSite)
    assert admin.site.is_registered(PromptTemplate)


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for url in (PERFORMANCE, OPERATIONS):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")


def test_the_performance_page_needs_permission_to_view_prompts(client, intent_v1):
    assert login(client, "otto").get(PERFORMANCE).status_code == 403
    assert login(client, "erika", VIEW_PROMPTS).get(PERFORMANCE).status_code == 200


def test_the_operations_page_needs_permission_to_view_daily_operational_metrics(client):
    assert login(client, "otto", VIEW_PROMPTS).get(OPERATIONS).status_code == 403
    assert login(client, "erika", VIEW_OPERATIONS).get(OPERATIONS).status_code == 200


@pytest.mark.parametrize("query", ["days=5", "days=abc", "end=2026-13-01", "end=yesterday", "end=2999-01-01"])
def test_a_range_that_is_not_offered_is_a_bad_request(client, intent_v1, query):
    operator = login(client, "erika", VIEW_PROMPTS, VIEW_OPERATIONS)
    assert operator.get(f"{PERFORMANCE}?{query}").status_code == 400
    assert operator.get(f"{OPERATIONS}?{query}").status_code == 400


def test_an_unknown_prompt_is_not_found(client, db):
    assert login(client, "erika", VIEW_PROMPTS).get("/admin/performance/classification/nope/").status_code == 404


def test_the_performance_page_shows_charts_the_comparison_and_the_range(client, intent_v1, today):
    daily(intent_v1, days_ago(today, 2), calls=8, successes=6, cost="0.00800000")
    response = login(client, "erika", VIEW_PROMPTS).get(f"{PERFORMANCE}?days=7")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dashboard-chart-data"' in html
    assert html.count("<canvas") == 5
    assert "75.0%" in html  # 6 of 8 calls succeeded
    assert "$0.0010000" in html  # cost per call: 0.008 / 8
    assert 'aria-current="page" class="selected">7 days' in html
    assert 'class="active-version"' in html
    assert "vendor/chartjs/chart-4.6.1.umd.min.js" in html


def test_an_empty_range_offers_the_range_ending_on_the_last_day_with_figures(client, intent_v1, today):
    last = days_ago(today, 100)
    daily(intent_v1, last)
    html = login(client, "erika", VIEW_PROMPTS).get(PERFORMANCE).content.decode()
    assert "No figures in this range." in html
    assert f'href="?days=30&amp;end={last.isoformat()}"' in html
    assert "<canvas" not in html


def test_a_prompt_version_page_and_the_prompt_history_link_to_the_performance_page(client, intent_v1):
    operator = login(client, "erika", VIEW_PROMPTS)
    assert PERFORMANCE in operator.get(f"/admin/prompts/prompttemplate/{intent_v1.pk}/change/").content.decode()
    assert PERFORMANCE in operator.get(
        "/admin/prompts/prompttemplate/history/classification/email_intent/"
    ).content.decode()


def test_the_breadcrumb_leads_to_the_versions_of_this_prompt(client, intent_v1):
    operator = login(client, "erika", VIEW_PROMPTS)
    html = operator.get(PERFORMANCE).content.decode()
    link = "/admin/prompts/prompttemplate/?task_type__exact=classification&amp;name__exact=email_intent"
    assert link in html
    response = operator.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [intent_v1]


def test_the_comparison_shows_a_mean_of_daily_p95s_labelled_as_such_and_the_worst_day(client, intent_v1, today):
    daily(intent_v1, days_ago(today, 1), calls=1, p95=4000.0)
    daily(intent_v1, days_ago(today, 2), calls=3, p95=1000.0)
    html = login(client, "erika", VIEW_PROMPTS).get(f"{PERFORMANCE}?days=7").content.decode()
    comparison = html[html.index('id="version-comparison"'):]
    comparison = comparison[:comparison.index("</table>")]
    assert "Mean daily p95 latency (ms)" in comparison
    assert comparison.count("p95") == comparison.count("daily p95")  # never called a p95 of the range
    assert "1,750 <span" in comparison  # (4000 × 1 call + 1000 × 3 calls) / 4 calls
    assert "(worst day 4,000)" in comparison
