"""ensure_admin creates the first admin account of a fresh install, and says its password if it made one."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def ensure_admin():
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("given", [None, ""], ids=["unset", "empty"])
def test_without_a_given_password_a_generated_one_is_shown_once_and_works(monkeypatch, given):
    monkeypatch.setenv("ADMIN_USERNAME", "chefin")
    if given is None:
        monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("ADMIN_PASSWORD", given)
    output = ensure_admin()
    password = output.split("Its password (shown only this once): ")[1].strip()
    assert get_user_model().objects.get(username="chefin").check_password(password)


def test_a_given_password_is_used_and_never_printed(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "geheim-123")
    output = ensure_admin()
    assert "geheim-123" not in output
    assert get_user_model().objects.get(is_superuser=True).check_password("geheim-123")


def test_an_existing_admin_account_is_left_alone(monkeypatch):
    get_user_model().objects.create_superuser("root", password="unused")
    assert "nothing to do" in ensure_admin()
    assert get_user_model().objects.count() == 1
