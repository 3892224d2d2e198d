"""The Anthropic API key never shows: not in logs, stored errors, metrics, admin pages, error reports,
fixtures or committed files, even when the API (or a gateway in front of it) echoes it back."""

import json
import logging
import re
import subprocess
from pathlib import Path

import anthropic
import httpx2
import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from config.tests.test_settings import PRODUCTION, manage
from devtools.fake_api import FakeAnthropicServer
from extraction import llm, tasks
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email
from metrics.models import OperationalMetrics

API_KEY = "sk-ant-api03-SECRET-do-not-leak-0123456789abcdefghijklmnopqrstuvwxyz"
# What a real Anthropic key looks like (sk-ant-api03-..., sk-ant-admin01-...); test keys are short.
REAL_KEY_PATTERN = re.compile(r"sk-ant-[a-z]+\d\d-[A-Za-z0-9_-]{20,}")
LOGGERS = ("", "anthropic", "anthropic._base_client", "httpx2", "httpcore2", "httpx", "httpcore", "extraction",
           "django", "django_q")
REPO = Path(django_settings.BASE_DIR)


@pytest.fixture
def secret_key_configured(settings, monkeypatch, tmp_path):
    settings.ANTHROPIC_API_KEY = API_KEY
    settings.ANTHROPIC_MAX_RETRIES = 1
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    llm._clients.clear()
    yield
    llm._clients.clear()


@pytest.fixture
def all_logs(caplog):
    """Every log line at DEBUG, including the SDK's and the HTTP client's, which are quiet by default."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def echoing_error(status, error_type):
    """An API (or a misbehaving gateway) that quotes the key it was sent in its error message."""

    def handler(request):
        sent = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        assert sent == API_KEY
        body = {"type": "error", "error": {"type": error_type, "message": f"key {sent} rejected (got {sent!r})"}}
        return httpx2.Response(status, headers={"retry-after-ms": "1"}, json=body)

    return handler


def echoing_client(status, error_type):
    return anthropic.Anthropic(
        api_key=API_KEY, max_retries=1,
        http_client=httpx2.Client(transport=httpx2.MockTransport(echoing_error(status, error_type))),
    )


def everything_stored_about(email):
    email.refresh_from_db()
    labels = list(OperationalMetrics.objects.filter(email_id=email.pk).values_list("labels", flat=True))
    return " ".join([email.error, email.review_reason, json.dumps(labels)])


def admin_pages(email):
    return [
        reverse("admin:extraction_incomingemail_changelist"),
        reverse("admin:extraction_incomingemail_change", args=[email.pk]),
        reverse("admin:extraction_modelprice_changelist"),
        reverse("admin:extraction_modelprice_add"),
        reverse("admin:metrics_operationalmetrics_changelist"),
        reverse("admin:metrics_promptperformancemetrics_changelist"),
        reverse("admin:prompts_prompttemplate_changelist"),
        reverse("admin:index"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, "authentication_error"), (403, "permission_error"), (400, "invalid_request_error"),
     (500, "api_error"), (529, "overloaded_error")],
)
def test_a_failing_call_that_echoes_the_key_leaks_it_nowhere(
    secret_key_configured, all_logs, admin_client, status, error_type
):
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    tasks.process_email(email.pk, client=echoing_client(status, error_type))
    assert IncomingEmail.objects.get(pk=email.pk).status == IncomingEmail.Status.FAILED
    stored = everything_stored_about(email)
    assert f"Anthropic API error {status}" in stored
    assert API_KEY not in stored and "sk-ant-" not in stored
    assert API_KEY not in all_logs.text
    for url in admin_pages(email):
        assert API_KEY not in admin_client.get(url).content.decode(), url


@pytest.mark.django_db
def test_the_client_built_from_settings_keeps_the_key_out_of_logs_and_errors(secret_key_configured, all_logs, settings):
    def answer(payload):
        return 500, {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}

    with FakeAnthropicServer(answer) as server:
        settings.ANTHROPIC_BASE_URL = server.url
        email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
        tasks.process_email(email.pk)
    assert len(server.requests) == 2  # the SDK's retry ran: the key was sent twice
    stored = everything_stored_about(email)
    assert "Anthropic API error 500" in stored and API_KEY not in stored
    assert "HTTP Request" in all_logs.text or "Request options" in all_logs.text  # the SDK did log at DEBUG
    assert API_KEY not in all_logs.text


def test_the_key_is_named_nowhere_when_it_is_missing(settings):
    settings.ANTHROPIC_API_KEY = ""
    llm._clients.clear()
    with pytest.raises(llm.LLMNotConfigured, match="ANTHROPIC_API_KEY is not set"):
        llm.get_client()


def test_error_reports_hide_the_key_among_the_settings(secret_key_configured):
    safe = SafeExceptionReporterFilter().get_safe_settings()
    assert safe["ANTHROPIC_API_KEY"] != API_KEY and "*" in safe["ANTHROPIC_API_KEY"]
    assert API_KEY not in repr(safe)


def test_the_client_object_does_not_show_the_key_in_its_repr(secret_key_configured):
    assert API_KEY not in repr(llm.get_client())


@pytest.mark.slow
def test_the_deployment_check_never_prints_the_key():
    result = manage("check", "--deploy", ANTHROPIC_API_KEY=API_KEY, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert API_KEY not in result.stdout + result.stderr


def test_a_bad_database_url_error_does_not_print_the_database_password():
    result = manage("check", DATABASE_URL="postgres//mail:db-SECRET-password@db.internal:5432/mail")
    assert result.returncode != 0
    assert "DATABASE_URL is not a usable database URL" in result.stderr
    assert "db-SECRET-password" not in result.stderr


# The repository ------------------------------------------------------------------------------------

def repository_files():
    """Every file git tracks, plus the fixtures directory (fixtures may not be committed yet)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
        ).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts]
    files = {REPO / name for name in listed if name} | set((REPO / "fixtures").rglob("*"))
    return sorted(path for path in files if path.is_file())


def test_no_committed_file_contains_a_real_looking_anthropic_key():
    found = []
    for path in repository_files():
        if path == Path(__file__):
            continue  # this file spells out the planted test key
        text = path.read_bytes().decode("utf-8", "replace")
        found += [f"{path.relative_to(REPO)}: {match[:16]}…" for match in REAL_KEY_PATTERN.findall(text)]
    assert found == []


def test_fixtures_contain_no_api_key_at_all():
    fixtures = [p for p in (REPO / "fixtures").rglob("*") if p.is_file()]
    for path in fixtures:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "sk-ant-" not in text and "api_key" not in text.lower(), path


def test_no_env_file_is_committed():
    names = {path.name for path in repository_files()}
    assert ".env" not in names


def test_the_key_of_this_machine_if_any_is_in_no_repository_file():
    import os

    key = os.environ.get("ANTHROPIC_API_KEY", "")
    if len(key) < 20:
        pytest.skip("no real ANTHROPIC_API_KEY in this environment")
    for path in repository_files():
        assert key not in path.read_bytes().decode("utf-8", "replace"), path
