"""Four-eyes and a canary in a real browser: one operator requests a canary, another approves it, it runs, it is
stopped — each step clicked through the admin the way the operators do it."""

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import expect

from evaluation.tests.calls import record_calls
from prompts.models import ActivationRequest, PromptRollout
from prompts.selectors import get_active_prompt
from prompts.tests.factories import APPROVER_PERMISSIONS, OPERATOR_PERMISSIONS, make_staff_user, make_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "geheim-123"
# The markers Chart.js draws on the first chart: label and colour, from the library's own state.
MARKERS_JS = """() => Object.values(Chart.getChart(document.querySelector("canvas[data-chart]"))
    .options.plugins.annotation.annotations).map((a) => [a.label.content, a.borderColor])"""


def staff_user(username, *permissions):
    user = make_staff_user(username, *permissions)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def log_in(page, live_server, username, path):
    """Sign in on the login page `path` redirects to, in English: these tests follow the flows by their English
    names (the browser asks for German, the product's default; test_german_interface.py checks the German)."""
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    page.goto(live_server.url + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text(username)


def log_out(page):
    page.locator("#logout-form").get_by_role("button", name="Log out").click()
    expect(page.locator("h1")).to_have_text("Logged out")


def test_a_canary_requested_by_one_operator_approved_by_another_runs_and_is_stopped(page, live_server, settings):
    settings.PROMPT_FOUR_EYES = True
    staff_user("erika", *OPERATOR_PERMISSIONS)
    staff_user("olga", *APPROVER_PERMISSIONS)
    v1 = get_active_prompt("classification", "email_intent")
    v2 = make_version(v1, description="Kürzere Anweisung")

    # Erika asks for a canary of v2 from its page.
    log_in(page, live_server, "erika", reverse("admin:prompts_prompttemplate_change", args=[v2.pk]))
    expect(page.get_by_role("link", name="Activate this version…")).to_have_count(0)
    page.get_by_role("link", name="Request a canary…").click()
    page.get_by_label("Share of e-mails (%)").fill("20")
    page.get_by_label("Reason").fill("Kürzere Anweisung, gleiche Antworten erwartet")
    page.get_by_role("button", name="Request").click()
    expect(page.locator(".messagelist")).to_contain_text("Another operator has to approve request")
    expect(page.locator("#request-decision")).to_contain_text("You made this request")
    expect(page.get_by_role("button", name="Approve and apply")).to_have_count(0)
    assert not PromptRollout.objects.exists()
    log_out(page)

    # Olga finds the pending request and approves it.
    log_in(page, live_server, "olga", reverse("admin:prompts_activationrequest_changelist"))
    page.get_by_role("link", name="Canary of classification.email_intent v2 at 20 %").click()
    expect(page.locator("#content")).to_contain_text("Canary of classification.email_intent v2 at 20 %")
    page.get_by_label("Comment").fill("Diff geprüft")
    page.get_by_role("button", name="Approve and apply").click()
    expect(page.locator(".messagelist")).to_contain_text("Approved and applied")
    request = ActivationRequest.objects.get()
    assert (request.status, request.requested_by, request.decided_by) == ("approved", "erika", "olga")

    # The canary runs: v2's page links to it, and its page compares the two arms.
    page.goto(live_server.url + reverse("admin:prompts_prompttemplate_change", args=[v2.pk]))
    page.get_by_role("link", name="Canary of classification.email_intent v2 at 20 % beside v1").click()
    expect(page.locator("#rollout-comparison")).to_contain_text("Baseline v1")
    expect(page.locator("#rollout-comparison")).to_contain_text("Candidate v2")
    expect(page.locator("#rollout-monitor")).to_contain_text("more candidate calls without a regression")

    # ... until Olga stops it, with a reason.
    page.get_by_label("Stop because:").fill("Gläubiger fragt nach, erst klären")
    page.get_by_role("button", name="Stop the canary").click()
    expect(page.locator(".messagelist")).to_contain_text("Stopped:")
    expect(page.locator("#rollout-actions")).to_have_count(0)
    rollout = PromptRollout.objects.get()
    assert (rollout.state, rollout.ended_by) == ("stopped", "olga")
    assert rollout.end_reason == "Gläubiger fragt nach, erst klären"
    assert (rollout.request, get_active_prompt("classification", "email_intent").version) == (request, 1)

    # The admin index lists the stop, and the prompt's charts mark the canary: its start blue, its stop red.
    record_calls(v1, calls=8, failures=0, start=rollout.started_at)
    record_calls(v2, calls=2, failures=0, start=rollout.started_at)
    page.goto(live_server.url + reverse("admin:index"))
    expect(page.locator("#overview-release")).to_contain_text("Canary stopped: classification.email_intent v2")
    page.goto(live_server.url + reverse("admin:prompt_performance", args=["classification", "email_intent"]))
    markers = page.evaluate(MARKERS_JS)
    assert markers == [["canary v2 at 20 % by olga", "#0072B2"], ["canary v2 stopped by olga", "#D55E00"]]
