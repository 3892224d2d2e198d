"""Safe release in the admin: the activate/canary page, four-eyes requests and their decision, the gate's override."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from prompts.models import ActivationRequest, PromptActivation, PromptRollout, PromptTemplate
from prompts.services import activation_approve, activation_request, rollout_promote
from prompts.tests.factories import (
    APPROVER_PERMISSIONS,
    OPERATOR_PERMISSIONS,
    OVERRIDE_GATE,
    make_staff_user,
    make_version,
)
from prompts.tests.validators import gate

pytestmark = pytest.mark.django_db


def release_url(template, kind):
    return reverse("admin:prompts_prompttemplate_release", args=[template.pk, kind])


def request_url(request, view="change"):
    return reverse(f"admin:prompts_activationrequest_{view}", args=[request.pk])


def signed_in(username, *permissions):
    client = Client()
    client.force_login(make_staff_user(username, *permissions))
    return client


def messages_of(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def active_version():
    return PromptTemplate.objects.get(task_type="classification", name="email_intent", is_active=True).version


@pytest.fixture
def v2(intent_v1):
    return make_version(intent_v1)


def test_without_four_eyes_the_version_page_offers_activate_and_start_a_canary(v2):
    page = signed_in("erika", *OPERATOR_PERMISSIONS).get(reverse("admin:prompts_prompttemplate_change", args=[v2.pk]))
    html = page.content.decode()
    assert "Activate this version" in html and "Start a canary…" in html
    assert "Request activation…" not in html and "Activate with a reason…" not in html


def test_with_four_eyes_the_version_page_offers_requests_instead(v2, settings):
    settings.PROMPT_FOUR_EYES = True
    html = signed_in("erika", *OPERATOR_PERMISSIONS).get(
        reverse("admin:prompts_prompttemplate_change", args=[v2.pk])
    ).content.decode()
    assert "Request activation…" in html and "Request a canary…" in html
    assert "Activate this version" not in html and "Start a canary…" not in html


def test_starting_a_canary_from_the_version_page_opens_its_live_comparison(v2):
    client = signed_in("erika", *OPERATOR_PERMISSIONS)
    response = client.post(release_url(v2, "canary"), {"percent": "15", "reason": "Kürzerer Prompt"}, follow=True)
    rollout = PromptRollout.objects.get()
    assert (rollout.candidate, rollout.percent, rollout.started_by, rollout.reason) == (v2, 15, "erika",
                                                                                         "Kürzerer Prompt")
    assert response.redirect_chain[-1][0] == reverse("admin:prompts_promptrollout_change", args=[rollout.pk])
    assert "Live comparison since" in response.content.decode()


@pytest.mark.parametrize("percent", ["0", "51", "zehn"])
def test_a_canary_percent_outside_1_to_50_is_an_error_on_the_field(v2, percent):
    response = signed_in("erika", *OPERATOR_PERMISSIONS).post(release_url(v2, "canary"), {"percent": percent})
    assert response.status_code == 200 and response.context["form"].errors["percent"]
    assert not PromptRollout.objects.exists()


def test_a_second_canary_is_refused_on_the_page_and_nothing_changes(intent_v1, v2):
    client = signed_in("erika", *OPERATOR_PERMISSIONS)
    client.post(release_url(v2, "canary"), {"percent": "10"})
    response = client.post(release_url(make_version(intent_v1), "canary"), {"percent": "10"})
    assert "already running" in response.content.decode()
    assert PromptRollout.objects.count() == 1


def test_the_activate_button_refuses_a_version_the_gate_blocks_and_says_why(v2, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    client = signed_in("erika", *OPERATOR_PERMISSIONS)
    response = client.post(reverse("admin:prompts_prompttemplate_activate", args=[v2.pk]), follow=True)
    assert messages_of(response) == [
        ("error", "classification.email_intent v2 was not activated: the activation gate blocks it: v2 is above v1.")
    ]
    assert active_version() == 1


def test_an_operator_with_the_override_permission_activates_past_the_gate_with_a_reason(v2, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    client = signed_in("olga", *OPERATOR_PERMISSIONS, OVERRIDE_GATE)
    page = client.get(release_url(v2, "activate")).content.decode()
    assert "The activation gate blocks this version" in page and "v2 is above v1" in page
    client.post(release_url(v2, "activate"), {"reason": "Fix", "override_reason": "Urgent: v1 misreads Mahnungen"})
    assert active_version() == 2
    assert PromptActivation.objects.get(to_version=v2).override_reason == "Urgent: v1 misreads Mahnungen"


def test_without_the_override_permission_the_page_has_no_override_and_the_gate_holds(v2, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    client = signed_in("erika", *OPERATOR_PERMISSIONS)
    response = client.post(release_url(v2, "activate"), {"reason": "x", "override_reason": "I insist"})
    assert "override_reason" not in response.context["form"].fields
    assert "The activation gate blocks this version: v2 is above v1" in response.content.decode()
    assert active_version() == 1


def test_with_four_eyes_the_activate_action_activates_nothing_and_points_to_the_request(v2, settings):
    settings.PROMPT_FOUR_EYES = True
    client = signed_in("erika", *OPERATOR_PERMISSIONS)
    response = client.post(
        reverse("admin:prompts_prompttemplate_changelist"),
        {"action": "activate", ACTION_CHECKBOX_NAME: [v2.pk], "index": 0}, follow=True,
    )
    page = response.content.decode()  # the activation confirmation, without its button
    assert "Four-eyes is on: a version is activated by a request" in page
    assert release_url(v2, "activate") in page and 'value="Activate v2"' not in page
    assert active_version() == 1


def test_with_four_eyes_a_forced_post_of_the_activation_confirmation_activates_nothing(v2, settings):
    settings.PROMPT_FOUR_EYES = True
    client = signed_in("erika", *OPERATOR_PERMISSIONS)
    response = client.post(reverse("admin:prompts_prompttemplate_activate", args=[v2.pk]), follow=True)
    assert "four-eyes is on" in messages_of(response)[0][1]
    assert active_version() == 1


def test_four_eyes_request_then_approval_by_another_operator_in_the_admin(v2, settings):
    settings.PROMPT_FOUR_EYES = True
    erika = signed_in("erika", *APPROVER_PERMISSIONS)
    response = erika.post(release_url(v2, "activate"), {"reason": "Weniger Fehlklassifikationen"}, follow=True)
    request = ActivationRequest.objects.get()
    assert response.redirect_chain[-1][0] == request_url(request)
    own_page = response.content.decode()
    assert "Approve and apply" not in own_page and "another operator has to approve it" in own_page
    assert active_version() == 1

    olga = signed_in("olga", *APPROVER_PERMISSIONS)
    assert "Approve and apply" in olga.get(request_url(request)).content.decode()
    olga.post(request_url(request, "decide"), {"decision": "approve", "comment": "Diff geprüft"})

    request.refresh_from_db()
    assert (request.status, request.decided_by, active_version()) == ("approved", "olga", 2)


def test_a_forced_self_approval_in_the_admin_changes_nothing(v2, settings):
    settings.PROMPT_FOUR_EYES = True
    erika = signed_in("erika", *APPROVER_PERMISSIONS)
    erika.post(release_url(v2, "activate"), {"reason": "Bitte"})
    request = ActivationRequest.objects.get()
    response = erika.post(request_url(request, "decide"), {"decision": "approve"}, follow=True)
    assert messages_of(response)[-1] == (
        "error", "Nothing changed: erika made this request and cannot approve it: another operator has to (four-eyes)."
    )
    assert (ActivationRequest.objects.get().status, active_version()) == ("pending", 1)


def test_an_approver_rejects_with_a_comment(v2):
    request = activation_request(
        template=v2, requested_by=make_staff_user("erika", *OPERATOR_PERMISSIONS), reason="Bitte"
    )
    olga = signed_in("olga", *APPROVER_PERMISSIONS)
    olga.post(request_url(request, "decide"), {"decision": "reject", "comment": "Erst nach dem Audit"})
    request.refresh_from_db()
    assert (request.status, request.decision_comment) == ("rejected", "Erst nach dem Audit")


def test_an_approval_the_gate_blocks_shows_the_reason_and_the_request_stays_pending(v2, settings):
    request = activation_request(
        template=v2, requested_by=make_staff_user("erika", *OPERATOR_PERMISSIONS), reason="Bitte"
    )
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    olga = signed_in("olga", *APPROVER_PERMISSIONS)
    assert "v2 is above v1" in olga.get(request_url(request)).content.decode()
    response = olga.post(request_url(request, "decide"), {"decision": "approve"}, follow=True)
    assert messages_of(response) == [
        ("error", "Nothing changed: The activation gate blocks this version: v2 is above v1")
    ]
    assert ActivationRequest.objects.get().status == "pending"


def test_the_pending_request_and_running_canary_are_announced_on_the_version_page(intent_v1, v2):
    v3 = make_version(intent_v1)
    client = signed_in("erika", *APPROVER_PERMISSIONS)
    client.post(release_url(v2, "canary"), {"percent": "10"})
    activation_request(template=v3, requested_by=make_staff_user("max", *OPERATOR_PERMISSIONS), reason="Bitte")
    html = client.get(reverse("admin:prompts_prompttemplate_change", args=[v3.pk])).content.decode()
    assert "Canary of classification.email_intent v2 at 10 % beside v1</a> is running" in html
    assert "is waiting for a decision" in html


def test_the_prompts_history_and_the_activation_audit_show_requests_canaries_and_approvals(intent_v1, v2):
    erika = make_staff_user("erika", *OPERATOR_PERMISSIONS)
    olga_user = make_staff_user("olga", *APPROVER_PERMISSIONS)
    request = activation_request(template=v2, requested_by=erika, reason="Weniger Spam-Fehler", kind="canary",
                                 percent=10)
    activation_approve(request=request, approved_by=olga_user, comment="ok")
    rollout_promote(rollout=PromptRollout.objects.get(), promoted_by="olga")

    olga = Client()
    olga.force_login(olga_user)
    history = olga.get(
        reverse("admin:prompts_prompttemplate_prompt_history", args=["classification", "email_intent"])
    ).content.decode()
    assert "v2 at 10 % beside v1" in history and "Promoted" in history
    assert "Canary of v2 at 10 %" in history and "Approved by olga: ok" in history
    audit = olga.get(reverse("admin:prompts_promptactivation_changelist")).content.decode()
    assert f"request #{request.pk} by erika, approved by olga; canary #" in audit
