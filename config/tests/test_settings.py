"""Start-up configuration: clear errors for bad settings, a clean deployment check in production."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION = {
    "DEBUG": "False", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "mail-analysis.example.org",
    "PROMPT_FOUR_EYES": "True",
}


def manage(*args, **env_overrides):
    # A clean environment: no test settings, no test database, no browser-test async override.
    inherited = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )


def test_a_missing_secret_key_with_debug_off_is_a_clear_start_up_error():
    result = manage("check", DEBUG="False", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_an_empty_database_url_is_a_clear_start_up_error():
    result = manage("check", DATABASE_URL="")
    assert result.returncode != 0
    assert "DATABASE_URL is not a usable database URL" in result.stderr
    assert "KeyError" not in result.stderr.splitlines()[-1]


def test_a_cost_cap_that_is_not_an_amount_is_a_clear_start_up_error():
    for value in ("fifty cents", "NaN", "-1"):
        result = manage("check", MAX_COST_PER_EMAIL_USD=value)
        assert result.returncode != 0
        assert f"MAX_COST_PER_EMAIL_USD must be an amount in USD such as 0.50, not '{value}'" in result.stderr


@pytest.mark.slow
def test_the_deployment_check_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_the_deployment_check_warns_when_four_eyes_is_off():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "PROMPT_FOUR_EYES": "False"})
    assert result.returncode == 1 and "prompts.W001" in result.stderr


def test_invalid_canary_monitor_settings_stop_the_start_with_a_clear_error():
    result = manage("check", PROMPT_ROLLOUT_ALPHA="1.5")
    assert result.returncode == 1
    assert "evaluation.E001" in result.stderr and "alpha must be between 0 and 1, not 1.5" in result.stderr


def test_favicon_requests_are_answered(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
