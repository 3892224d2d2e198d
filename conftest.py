import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from prompts.selectors import clear_active_prompt_cache

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres_only") and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("needs PostgreSQL (row locks, several writers at once); CI runs it in the PostgreSQL pass")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _fresh_active_prompt_cache():
    # The active-prompt cache is per process and would leak versions between tests.
    clear_active_prompt_cache()
    yield
    clear_active_prompt_cache()


@pytest.fixture(autouse=True)
def _language_of_the_settings():
    # LocaleMiddleware activates a request's language for the thread and never resets it: a German request in
    # one test would leave German on for the next test's own gettext calls.
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (Playwright's own browser download is unavailable)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the tests are still sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # With that loop running, Django hands this thread a new set of connection objects (asgiref's Local
    # goes context-local). If the test database was set up before (any database test ran first), its
    # serialized copy stays on the old ones, and serialized_rollback silently restores nothing: the
    # seeded prompts would be gone after the first browser test. Carry the copy over.
    serialized = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    with sync_playwright() as playwright:
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
        # Close the connections opened while the loop ran, so the test database can be dropped afterwards.
        connections.close_all()


@pytest.fixture
def page(browser, request):
    """A fresh browser page at 1280 px; fails the test on console errors, keeps a screenshot on failure."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.nodeid)}.png", full_page=True)
    context.close()
    assert console_errors == [], f"browser console errors: {console_errors}"
