"""The German interface: the default language, the header's switch, and catalogues that are complete and current.

The catalogue check rebuilds every catalogue from the source in a copy of the project (bin/translations, i.e.
Django's makemessages and compilemessages on GNU gettext) and compares: a string marked for translation but
missing from the committed .po, a string left empty or fuzzy, or a .mo that doesn't match its .po fails here with
the exact strings and the command that fixes it.
"""

import ast
import datetime
import shutil
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from config import formatting

PROJECT = Path(settings.BASE_DIR)
CATALOGUES = ["prompts", "metrics", "extraction", "evaluation", "dashboard", "."]
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "staticfiles", "media", "test-artifacts", "*.sqlite3*", "__pycache__", ".lock-tools"
)


def read_catalogue(path):
    """A .po file as {(msgctxt, msgid, msgid_plural): (msgstrs, fuzzy)}; the header and obsolete entries left out."""
    entries, entry, field = {}, None, None

    def finish():
        if entry and entry.get("msgid"):
            key = (entry.get("msgctxt"), entry["msgid"], entry.get("msgid_plural"))
            entries[key] = (entry["msgstr"], entry["fuzzy"])

    for line in Path(path).read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            finish()
            entry, field = None, None
            continue
        if line.startswith("#~"):
            continue
        entry = entry or {"msgstr": [], "fuzzy": False}
        if line.startswith("#,"):
            entry["fuzzy"] = "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = _unquote(line)
            if field == "msgstr":
                entry["msgstr"][-1] += text
            else:
                entry[field] += text
        else:
            keyword, _, quoted = line.partition(" ")
            if keyword.startswith("msgstr"):
                field = "msgstr"
                entry["msgstr"].append(_unquote(quoted))
            else:
                field = keyword
                entry[field] = _unquote(quoted)
    return entries


def _unquote(quoted):
    # PO strings are C-style literals ("\n", "\"", "\\"): Python reads them the same way.
    return ast.literal_eval(quoted.strip())


def po_path(root, catalogue):
    return Path(root) / catalogue / "locale" / "de" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """The project copied and its catalogues rebuilt from the source, as bin/translations does."""
    copy = tmp_path_factory.mktemp("translations") / "project"
    shutil.copytree(PROJECT, copy, ignore=NOT_COPIED)
    (copy / ".venv").symlink_to(PROJECT / ".venv")
    result = subprocess.run(
        ["bin/translations"], cwd=copy, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return copy


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_every_marked_string_is_in_the_committed_catalogue_and_nothing_stale(rebuilt, catalogue):
    committed = read_catalogue(po_path(PROJECT, catalogue))
    from_source = read_catalogue(po_path(rebuilt, catalogue))
    missing = sorted(key[1] for key in from_source.keys() - committed.keys())
    stale = sorted(key[1] for key in committed.keys() - from_source.keys())
    assert (missing, stale) == ([], []), f"run bin/translations {catalogue} and translate the new strings"


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_every_string_has_a_checked_german_translation(catalogue):
    entries = read_catalogue(po_path(PROJECT, catalogue))
    assert entries, f"{catalogue} has no catalogue"
    untranslated = sorted(key[1] for key, (msgstrs, _) in entries.items() if not all(msgstrs))
    fuzzy = sorted(key[1] for key, (_, is_fuzzy) in entries.items() if is_fuzzy)
    assert (untranslated, fuzzy) == ([], []), f"fill in (and un-fuzzy) these strings in {po_path('', catalogue)}"


def test_a_string_shared_by_two_catalogues_has_one_translation():
    # Django merges the catalogues of every installed app into one: where two translate the same string (and
    # context) differently, one silently wins on every page, e.g. the admin's "Change" ("Ändern") over a compare
    # page's column "Change" ("Veränderung"). Such strings need a context (pgettext / translate "…" context "…").
    # An empty translation (another app's untranslated entry) falls through; the case of a word is left aside
    # (django_q's "erfolg" beside our "Erfolg": the admin capitalises labels anyway).
    translations = {}
    for app in apps.get_app_configs():
        path = Path(app.path) / "locale" / "de" / "LC_MESSAGES" / "django.po"
        if path.exists():
            for key, (msgstrs, _) in read_catalogue(path).items():
                if all(msgstrs):
                    translations.setdefault(key, {})[app.label] = tuple(m.casefold() for m in msgstrs)
    for key, (msgstrs, _) in read_catalogue(po_path(PROJECT, ".")).items():
        translations.setdefault(key, {})["project"] = tuple(m.casefold() for m in msgstrs)
    clashes = {key[1]: per_app for key, per_app in translations.items() if len(set(per_app.values())) > 1}
    assert clashes == {}


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_the_committed_compiled_catalogue_is_the_one_its_po_file_builds(rebuilt, catalogue):
    # The rebuilt copy compiled the committed .po (makemessages only added or removed what the test above checks).
    compiled = po_path(rebuilt, catalogue).with_suffix(".mo").read_bytes()
    committed = po_path(PROJECT, catalogue).with_suffix(".mo")
    assert committed.exists() and committed.read_bytes() == compiled, f"run bin/translations {catalogue}"


def test_the_product_speaks_german_unless_asked_otherwise():
    # The test settings switch to English for the suite's assertions; the product's own default is German.
    assert settings.LANGUAGE_CODE == "en"
    result = subprocess.run(
        [str(PROJECT / ".venv/bin/python"), "-c", "from config import settings; print(settings.LANGUAGE_CODE)"],
        cwd=PROJECT, capture_output=True, text=True, env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == "de", result.stderr


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="de")
def test_a_browser_without_a_preference_gets_the_german_login_page(client):
    page = client.get(reverse("admin:login")).content.decode()
    assert '<html lang="de"' in page and "Anmelden" in page


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="de")
def test_an_english_browser_gets_english_and_the_switch_keeps_the_choice(client):
    assert '<html lang="en"' in client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()
    switched = client.post(reverse("set_language"), {"language": "en", "next": reverse("admin:login")})
    assert switched.status_code == 302 and switched.url == reverse("admin:login")
    # The cookie outranks the browser's German: an operator who chose English keeps it on every page.
    page = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="de-DE,de").content.decode()
    assert '<html lang="en"' in page and "Log in" in page
    client.post(reverse("set_language"), {"language": "de", "next": reverse("admin:login")})
    assert "Anmelden" in client.get(reverse("admin:login")).content.decode()


@pytest.mark.django_db
def test_the_header_offers_both_languages_and_marks_the_current_one(client):
    page = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert f'action="{reverse("set_language")}"' in page
    assert 'value="de" lang="de"\n            aria-current="true" disabled' in page
    assert 'value="en" lang="en"' in page


@pytest.mark.parametrize(
    "language, amount, cost, ratio, count",
    [
        ("de", "1.234,56\u00a0€", "0,001234\u00a0$", "98,2\u00a0%", "1.234.567"),
        ("en", "€1,234.56", "$0.001234", "98.2%", "1,234,567"),
    ],
)
def test_money_percentages_and_counts_are_written_as_the_language_writes_them(language, amount, cost, ratio, count):
    with translation.override(language):
        assert formatting.format_money("1234.56") == amount
        assert formatting.format_money(0.001234, "USD", 6) == cost
        assert formatting.format_percent(0.982) == ratio
        assert formatting.format_number(1234567) == count
        assert formatting.format_money(None) == formatting.format_percent(None) == "–"


@pytest.mark.parametrize(
    "language, date, moment",
    [("de", "20.11.2026", "20.11.2026 17:45"), ("en", "20 Nov 2026", "20 Nov 2026, 17:45")],
)
def test_dates_are_short_and_unambiguous_in_both_languages(language, date, moment):
    with translation.override(language):
        assert date_format(datetime.date(2026, 11, 20)) == date
        assert date_format(datetime.datetime(2026, 11, 20, 17, 45), "DATETIME_FORMAT") == moment
        assert date_format(datetime.date(2026, 11, 20), "SHORT_DATE_FORMAT") == date
