"""The operators' pages in a real browser (Chromium): charts drawn with Chart.js, usable on desktop and phone."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from dashboard import demo
from devtools.databases import sequences_past_the_rows
from metrics.models import PromptPerformanceDaily

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = [1280, 390]
DEMO_RANGE = f"days=90&end={demo.END.isoformat()}"

# What Chart.js holds for every chart on the page: the test reads the library's own state, not the markup.
CHARTS_JS = """() => [...document.querySelectorAll("canvas[data-chart]")].map((canvas) => {
    const chart = Chart.getChart(canvas);
    return {
        id: canvas.dataset.chart,
        width: canvas.getBoundingClientRect().width,
        labels: chart.data.labels.length,
        datasets: chart.data.datasets.map((d) => ({
            label: d.label, points: d.data.length, drawn: d.data.filter((v) => v !== null).length,
            tension: d.tension || 0,
        })),
        markers: Object.values(chart.options.plugins.annotation.annotations).map((a) => a.label.content),
        yMax: chart.scales.y.max,
        // Whether the last point (today's, on the plot's right edge) is drawn whole: inside the clip area.
        lastPointWhole: chart.data.datasets.every((d, n) => {
            const point = chart.getDatasetMeta(n).data.at(-1);
            const clip = typeof d.clip === "number" ? d.clip : 0;
            return !point || point.skip || point.x + 5 <= chart.chartArea.right + clip;
        }),
    };
})"""


@pytest.fixture
def operator_page(page, live_server, django_user_model):
    # The demo adds rows without ids (its v2 prompts, activations): on PostgreSQL their ids come from the
    # sequences, which a flush in an earlier test on this worker may have restarted below the ids of the seeded
    # rows put back after it (CI saw "Key (id)=(1) already exists"). Sequences past the rows first.
    sequences_past_the_rows(connection)
    call_command("loaddata", "demo", verbosity=0)
    django_user_model.objects.create_superuser("erika", password="geheim-123")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "erika")
    page.fill("#id_password", "geheim-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.base_url = live_server.url
    return page


def wait_for_charts(page, count):
    page.wait_for_function(
        "(count) => window.Chart && document.querySelectorAll('canvas[data-chart]').length === count"
        " && [...document.querySelectorAll('canvas[data-chart]')].every((c) => Chart.getChart(c))",
        arg=count,
    )
    return page.evaluate(CHARTS_JS)


def days_with_figures(version):
    first = demo.END - timedelta(days=89)
    return PromptPerformanceDaily.objects.filter(
        prompt_version__task_type="classification", prompt_version__name="email_intent",
        prompt_version__version=version, date__gte=first, date__lte=demo.END,
    ).count()


def assert_fits(page, width):
    # Nothing wider than the screen: wide tables scroll inside their box, not the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_the_performance_page_draws_a_point_per_day_with_figures_for_each_version(operator_page, width):
    page = operator_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/admin/performance/classification/email_intent/?{DEMO_RANGE}")
    charts = wait_for_charts(page, 5)
    # The browser asks for German (conftest's page), the product's language.
    expected = {"v1": days_with_figures(1), "v2 (aktiv)": days_with_figures(2)}
    assert expected["v1"] > 20 and expected["v2 (aktiv)"] > 20
    for chart in charts:
        assert chart["labels"] == 90
        assert {d["label"]: d["points"] for d in chart["datasets"]} == {"v1": 90, "v2 (aktiv)": 90}
        assert {d["label"]: d["drawn"] for d in chart["datasets"]} == expected, chart["id"]
        assert chart["markers"] == ["v2 von erika"]
        assert chart["lastPointWhole"], chart["id"]
        assert 0 < chart["width"] <= width
    y_max = {chart["id"]: chart["yMax"] for chart in charts}
    assert (y_max["success_rate"], y_max["review_rate"], y_max["avg_confidence"]) == (100, 100, 1)
    assert page.locator("#version-comparison tr.active-version").inner_text().startswith("v2")
    assert_fits(page, width)


def test_the_chart_figures_are_also_readable_as_a_table(operator_page):
    page = operator_page
    page.goto(f"{page.base_url}/admin/performance/classification/email_intent/?{DEMO_RANGE}")
    wait_for_charts(page, 5)
    figure = page.locator("#figure-success_rate")
    figure.locator("summary").click()
    assert figure.locator("tbody tr").first.is_visible()
    assert figure.locator("tbody tr").first.locator("th").inner_text() == f"{demo.END:%d.%m.%Y}"


def test_an_old_demo_is_reached_from_the_empty_range_by_its_link(operator_page):
    page = operator_page
    page.goto(f"{page.base_url}/admin/performance/classification/email_intent/?days=7&end=2026-01-31")
    page.get_by_role("link", name=f"die 7 Tage bis {demo.END:%d.%m.%Y} anzeigen").click()
    charts = wait_for_charts(page, 5)
    assert all(chart["labels"] == 7 for chart in charts)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_operations_page_charts_queue_processing_time_errors_and_tokens(operator_page, width):
    page = operator_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/admin/operations/?days=30&end={demo.END.isoformat()}")
    charts = wait_for_charts(page, 4)
    assert [chart["id"] for chart in charts] == ["queue_depth", "processing_time", "errors", "tokens"]
    queues = {d["label"]: d["drawn"] for d in charts[0]["datasets"]}
    assert queues == {"django_q": 30, "emails_waiting": 30}
    assert {d["label"] for d in charts[3]["datasets"]} == {"classify", "extract_body", "extract_pdf", "extract_image"}
    for count_chart in (charts[0], charts[2], charts[3]):  # counts: straight lines, not smoothed
        assert {d["tension"] for d in count_chart["datasets"]} == {0}, count_chart["id"]
    assert page.locator("#operations-totals tbody tr").count() == 30
    assert_fits(page, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_admin_index_shows_active_versions_and_failed_emails_at_a_glance(operator_page, width):
    page = operator_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/admin/")
    prompts = page.locator("#overview-prompts")
    assert "classification.email_intent" in prompts.inner_text()
    assert prompts.get_by_role("link", name="v2").is_visible()
    assert_fits(page, width)
    page.locator("#overview-failed").get_by_role("link", name="Forderungsaufstellung Auftrag 2023-1187").click()
    page.wait_for_selector("#incomingemail_form")
    assert "/admin/extraction/incomingemail/" in page.url
    page.goto(f"{page.base_url}/admin/")
    page.locator("#overview-prompts").get_by_role("link", name="Diagramme").first.click()
    wait_for_charts(page, 5)



@pytest.mark.parametrize(
    "switch_to, active, marker, tick, day, tooltip",
    [
        # Intl writes German percentages with a no-break space before the sign, as config.formatting does.
        (None, "v2 (aktiv)", "v2 von erika", "100\u00a0%", f"{demo.END:%d.%m.%Y}", "v1: 98,2\u00a0%"),
        ("en", "v2 (active)", "v2 by erika", "100%", f"{demo.END.day} {demo.END:%b %Y}", "v1: 98.2%"),
    ],
)
def test_the_charts_write_texts_numbers_and_days_in_the_pages_language(
    operator_page, switch_to, active, marker, tick, day, tooltip
):
    page = operator_page  # a German browser
    page.goto(f"{page.base_url}/admin/performance/classification/email_intent/?{DEMO_RANGE}")
    wait_for_charts(page, 5)
    if switch_to:  # the header's language switch, back to the same page
        page.click(f'.language-switch button[value="{switch_to}"]')
        page.wait_for_selector(f'html[lang="{switch_to}"]')
    charts = wait_for_charts(page, 5)
    assert {d["label"] for d in charts[0]["datasets"]} == {"v1", active}
    assert charts[0]["markers"] == [marker]
    success_rate = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.querySelector('canvas[data-chart="success_rate"]'));
            return {
                ticks: chart.scales.y.ticks.map((tick) => tick.label),
                lastDay: chart.data.labels.at(-1),
                tooltip: chart.options.plugins.tooltip.callbacks.label({dataset: {label: "v1"}, parsed: {y: 98.2}}),
            };
        }"""
    )
    assert tick in success_rate["ticks"]
    assert success_rate["lastDay"] == day
    assert success_rate["tooltip"] == tooltip
