"""The bilingual browser tour: every operator page, in German and in English, on an office screen and a phone.

For each page, language and width: the page speaks the browser's language (Accept-Language, `html[lang]`,
Django's own admin words), shows dates and numbers in that language's formats, fits the window (no sideways
scrolling of the page), keeps a list's key columns on screen at 1280 px and logs nothing to the console. A
full-page screenshot of each is kept on every run in test-artifacts/tour/<lang>-<width>/<page>.png (git-ignored),
for a person to look through. The header's language switch is clicked through at the end.

One database and one signed-in browser context per (language, width) serve all the pages: filling the data
(the demo fixture, two experiment runs, a canary) and signing in once keep the tour to a few minutes.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from playwright.sync_api import expect

from config.tests import tour
from devtools.databases import sequences_past_the_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "tour"
LANGUAGES = {"de": "de-DE", "en": "en-US"}
WIDTHS = (1280, 390)
# Django's own admin in each language: on every page of a signed-in operator, whatever the apps' catalogues hold.
ADMIN_WORDS = {"de": "Abmelden", "en": "Log out"}

# Dates, amounts, percentages and counts in each language's format, on the pages that show them (as regular
# expressions: the apps' templates are moving to the |money and |percentage filters, which add " €" and " %").
# Read from the page's visible text, or from the element `where` (folded away, or also in the e-mail's own words).
FORMATS = {
    "email_list": {"de": r"20\.11\.2026 16:40", "en": r"20 Nov 2026, 16:40"},
    "email_processed": {"where": ".field-total_claim_amount .readonly", "de": r"2\.487,33\s€", "en": r"€2,487\.33"},
    "prompt_list": {"de": r"22\.10\.2026 15:40", "en": r"22 Oct 2026, 15:40"},
    "history": {"de": r"22\.10\.2026", "en": r"22 Oct 2026"},
    "experiment_run": {"de": r"\b0,0\d{3,}", "en": r"\b0\.0\d{3,}"},  # the run's cost in USD
    "metrics_promptperformancedaily": {"de": r"20\.11\.2026", "en": r"20 Nov 2026"},
    "metrics_operationalmetricsdaily": {"de": r"20\.11\.2026", "en": r"20 Nov 2026"},
    "performance": {"de": r"94,5\s?%", "en": r"94\.5\s?%"},
    "operations": {"de": r"17\.129", "en": r"17,129"},
}

# The product's own German, one word per page (compared case-insensitively), beside Django's own admin German.
EXPECTED_GERMAN = {
    "admin_index": "Eingegangene E-Mails",
    "email_list": "Anliegen",
    "email_processed": "Gesamtforderung",
    "email_failed": "fehlgeschlagen",
    "review": "Gesamtforderung",
    "requeue_failed": "fehlgeschlagen",
    "upload": "hochladen",
    "prompt_list": "Prompt-Versionen",
    "prompt_version": "Vorschau",
    "new_version": "Neue Version",
    "preview": "Vorschau",
    "diff": "vergleichen",
    "history": "Verlauf",
    "activate": "aktivieren",
    "rollback": "zurücksetzen",
    "release_canary": "Canary-Freigabe",
    "canary": "Vergleichsbasis",
    "evaluation_sets": "Testsätze",
    "experiment_start": "Testsatz",
    "experiment_run": "Lauf",
    "compare": "Kandidat",
    "metrics_promptperformancemetrics": "erfasst am",
    "metrics_promptperformancedaily": "Leistung",
    "metrics_operationalmetrics": "Betrieb",
    "metrics_operationalmetricsdaily": "Betrieb",
    "metrics_promptaccuracymetrics": "Genauigkeit",
    "metrics_promptaccuracydaily": "Genauigkeit",
    "metrics_rollupday": "Tagesauswertung",
    "performance": "Erfolgsquote",
    "operations": "Warteschlange",
    "users": "Benutzer",  # Django's own auth catalogue: checked already
}

# What Chart.js has drawn: every canvas of the page holds a chart.
CHARTS_DRAWN = """(count) => window.Chart && document.querySelectorAll('canvas[data-chart]').length === count
    && [...document.querySelectorAll('canvas[data-chart]')].every((canvas) => Chart.getChart(canvas))"""
# How many pixels the document is wider than the window (0 or less: it fits).
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
# The first few elements that reach past the window's right edge, to name in a failure.
STICKING_OUT = """(width) => [...document.querySelectorAll("body *")]
    .filter((element) => element.getBoundingClientRect().right > width + 1).slice(0, 5)
    .map((element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + [...element.classList].map((name) => "." + name).join("") + " to " + element.getBoundingClientRect().right)"""


# The site ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(browser, django_db_setup, django_db_blocker, tmp_path_factory):
    """The tour's data, committed for the whole module: the ids its pages' paths need."""
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        migrated = connection.creation.serialize_db_to_string()
        try:
            yield tour.build(settings.MEDIA_ROOT)
        finally:
            # As a transactional test leaves it: the migrated rows (the seeded v1 prompts) and nothing else.
            call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(migrated)
            # flush restarts PostgreSQL's sequences at 1 and the restored rows keep their ids: move each sequence
            # past its table's ids, or the next test's first insert collides with a restored row.
            sequences_past_the_rows(connection)


@pytest.fixture
def transactional_db(site):
    """Replaces pytest-django's for this module's `live_server` tests, which would empty the database after each
    test (and, on SQLite, a plain `db` test's open transaction would hold the write lock the server needs)."""


class Window:
    """A browser context in one language and width with one page, signed in; collects the console's errors."""

    def __init__(self, browser, base_url, lang, width):
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale=LANGUAGES[lang])
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.base_url, self.lang, self.width = base_url, lang, width

    def sign_in(self):
        self.page.goto(f"{self.base_url}/admin/login/")
        self.page.fill("#id_username", tour.USERNAME)
        self.page.fill("#id_password", tour.PASSWORD)
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#user-tools")
        return self


@pytest.fixture(scope="module")
def windows(browser, live_server, site):
    """One signed-in Window per (language, width), opened when first needed, shared by the pages."""
    opened = {}

    def window(lang, width):
        if (lang, width) not in opened:
            opened[lang, width] = Window(browser, live_server.url, lang, width).sign_in()
        return opened[lang, width]

    yield window
    for opened_window in opened.values():
        opened_window.context.close()


def screenshot(page, lang, width, name):
    """Kept on every run, passing or not: the tour's pictures are for people to look through."""
    folder = SCREENSHOTS / f"{lang}-{width}"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def assert_speaks(page, lang):
    expect(page.locator("html")).to_have_attribute("lang", lang)


def assert_fits(page, width):
    # 1 px of rounding (fractional layout widths) is tolerated.
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 1, f"{overflow} px wider than the window: {page.evaluate(STICKING_OUT, width)}"


def assert_column_shown(page, column, width):
    """The column's header lies within the list's box (which scrolls a wide table sideways) and the window."""
    header = page.locator(f"#result_list thead th.column-{column}").first.bounding_box()
    assert header is not None, f"no column {column}"
    box = page.locator("#changelist .results").bounding_box()
    left, right = max(0, box["x"]), min(width, box["x"] + box["width"])
    assert left - 1 <= header["x"] and header["x"] + header["width"] <= right + 1, (
        f"column {column} ({header['x']:.0f} to {header['x'] + header['width']:.0f} px) is outside the list's box "
        f"({left:.0f} to {right:.0f} px)"
    )


# The pages ---------------------------------------------------------------------------------------------

TOUR = [
    pytest.param(lang, width, page, id=f"{lang}-{width}-{page.name}")
    for lang in LANGUAGES for width in WIDTHS for page in tour.PAGES
]


@pytest.mark.parametrize(("lang", "width", "tour_page"), TOUR)
def test_the_page_speaks_the_browser_language_and_fits_the_window(windows, site, lang, width, tour_page):
    window = windows(lang, width)
    page = window.page
    window.errors.clear()
    response = page.goto(window.base_url + tour_page.path(site))
    try:
        assert response.ok, f"{response.status} {response.url}"
        page.wait_for_selector(tour_page.ready)
        if tour_page.charts:
            page.wait_for_function(CHARTS_DRAWN, arg=tour_page.charts)
    finally:
        screenshot(page, lang, width, tour_page.name)

    assert_speaks(page, lang)
    # text_content: the admin's CSS writes the user tools in capitals, which inner_text would return.
    assert ADMIN_WORDS[lang] in page.locator("#user-tools").text_content()
    text = page.locator("body").inner_text()
    if tour_page.name in FORMATS:
        formats = FORMATS[tour_page.name]
        shown = page.locator(formats["where"]).first.text_content() if "where" in formats else text
        assert re.search(formats[lang], shown), f"no {formats[lang]!r} on the {lang} page"
    if lang == "de":
        assert EXPECTED_GERMAN[tour_page.name].casefold() in text.casefold()
    assert_fits(page, width)
    if width == 1280:
        for column in tour_page.columns:
            assert_column_shown(page, column, width)
    assert window.errors == [], f"browser console errors: {window.errors}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_login_page_speaks_the_browser_language_and_fits_the_window(browser, live_server, site, lang, width):
    base_url = live_server.url
    window = Window(browser, base_url, lang, width)
    try:
        window.page.goto(f"{base_url}/admin/login/")
        window.page.wait_for_selector("#login-form")
        screenshot(window.page, lang, width, "login")
        assert_speaks(window.page, lang)
        expect(window.page.locator("input[type=submit]")).to_have_value({"de": "Anmelden", "en": "Log in"}[lang])
        assert_fits(window.page, width)
        assert window.errors == [], f"browser console errors: {window.errors}"
    finally:
        window.context.close()


def test_the_header_switches_the_language_and_the_choice_stays(browser, live_server, site):
    base_url = live_server.url
    window = Window(browser, base_url, "de", 1280).sign_in()
    page = window.page
    try:
        page.goto(f"{base_url}{tour.admin('extraction_incomingemail_changelist')}")
        assert_speaks(page, "de")
        page.locator(".language-switch").get_by_role("button", name="EN").click()
        assert_speaks(page, "en")  # waits for the page the switch leads back to
        assert page.url.endswith("/admin/extraction/incomingemail/")
        expect(page.locator("#user-tools")).to_contain_text("Log out")
        # The choice is kept (a cookie) over the browser's German: the next page is English too.
        page.goto(f"{base_url}{tour.admin('prompts_prompttemplate_changelist')}")
        assert_speaks(page, "en")
        expect(page.locator(".language-switch button[lang=en]")).to_be_disabled()
        page.locator(".language-switch").get_by_role("button", name="DE").click()
        assert_speaks(page, "de")
        assert page.url.endswith("/admin/prompts/prompttemplate/")
        expect(page.locator("#user-tools")).to_contain_text("Abmelden")
        assert window.errors == [], f"browser console errors: {window.errors}"
    finally:
        window.context.close()
