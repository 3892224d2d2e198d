"""Four-eyes: one operator requests an activation or a canary, a different one approves or rejects it."""

from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from prompts.errors import ActivationBlocked, ReleaseRefused
from prompts.models import ActivationRequest, PromptActivation, PromptRollout, PromptTemplate
from prompts.services import activation_approve, activation_reject, activation_request
from prompts.tests.factories import (
    ACTIVATE_VERSION,
    APPROVE,
    APPROVER_PERMISSIONS,
    OPERATOR_PERMISSIONS,
    OVERRIDE_GATE,
    make_staff_user,
    make_version,
)
from prompts.tests.validators import gate

pytestmark = pytest.mark.django_db


@pytest.fixture
def erika():
    """Requests activations; may also approve (other people's requests)."""
    return make_staff_user("erika", *APPROVER_PERMISSIONS, email="erika@kanzlei.example")


@pytest.fixture
def olga():
    """Approves requests."""
    return make_staff_user("olga", *APPROVER_PERMISSIONS, email="olga@kanzlei.example")


@pytest.fixture
def v2(intent_v1):
    return make_version(intent_v1)


def request_v2(v2, erika, **options):
    return activation_request(template=v2, requested_by=erika, reason="Fewer inquiries misread as spam", **options)


def active_version():
    return PromptTemplate.objects.get(task_type="classification", name="email_intent", is_active=True).version


def test_a_request_changes_nothing_until_another_operator_approves_it_then_it_applies_at_once(v2, erika, olga):
    request = request_v2(v2, erika)
    assert (request.status, request.requested_by, active_version()) == ("pending", "erika", 1)

    activation_approve(request=request, approved_by=olga, comment="Checked the diff")

    assert active_version() == 2
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_comment) == ("approved", "olga", "Checked the diff")
    activation = PromptActivation.objects.get(to_version=v2)
    assert (activation.activated_by, activation.request, activation.reason) == (
        "olga", request, "Fewer inquiries misread as spam"
    )


def test_a_requester_can_never_approve_their_own_request_even_holding_the_permission(v2, erika):
    assert erika.has_perm(APPROVE)
    request = request_v2(v2, erika)
    with pytest.raises(ReleaseRefused, match="erika made this request and cannot approve it"):
        activation_approve(request=request, approved_by=erika)
    request.refresh_from_db()
    assert (request.status, active_version()) == ("pending", 1)


def test_the_database_refuses_a_self_approved_request(v2, erika):
    request = request_v2(v2, erika)
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivationRequest.objects.filter(pk=request.pk).update(
            status="approved", decided_by="erika", decided_at=timezone.now()
        )


def test_approving_needs_the_approve_permission(v2, erika):
    request = request_v2(v2, erika)
    activator = make_staff_user("max", *OPERATOR_PERMISSIONS)
    with pytest.raises(PermissionDenied, match="prompts.approve_activation"):
        activation_approve(request=request, approved_by=activator)


def test_requesting_needs_the_activate_permission(v2):
    viewer = make_staff_user("victor", "prompts.view_prompttemplate")
    with pytest.raises(PermissionDenied, match=ACTIVATE_VERSION):
        activation_request(template=v2, requested_by=viewer, reason="Bitte")


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_request_needs_a_reason(v2, erika, reason):
    with pytest.raises(ReleaseRefused, match="needs a reason"):
        activation_request(template=v2, requested_by=erika, reason=reason)


def test_a_request_for_the_active_version_is_refused(intent_v1, erika):
    with pytest.raises(ReleaseRefused, match="already active"):
        activation_request(template=intent_v1, requested_by=erika, reason="Again")


def test_one_pending_request_per_prompt(v2, erika, olga, intent_v1):
    first = request_v2(v2, erika)
    v3 = make_version(intent_v1)
    with pytest.raises(ReleaseRefused, match=f"already has a pending request: Request #{first.pk}"):
        activation_request(template=v3, requested_by=olga, reason="Mine is better")
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivationRequest.objects.create(
            task_type="classification", name="email_intent", template=v3, reason="Direct", requested_by="olga"
        )


def test_an_approver_rejects_with_a_reason_and_nothing_changes(v2, erika, olga):
    request = request_v2(v2, erika)
    with pytest.raises(ReleaseRefused, match="why"):
        activation_reject(request=request, rejected_by=olga, reason=" ")
    activation_reject(request=request, rejected_by=olga, reason="The diff drops the spam rule")
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_comment) == (
        "rejected", "olga", "The diff drops the spam rule"
    )
    assert active_version() == 1


def test_a_requester_may_withdraw_their_request_without_the_approve_permission(v2):
    max_ = make_staff_user("max", *OPERATOR_PERMISSIONS)
    request = request_v2(v2, max_)
    activation_reject(request=request, rejected_by=max_, reason="Wrong version")
    assert ActivationRequest.objects.get(pk=request.pk).status == "rejected"


def test_rejecting_another_operators_request_needs_the_approve_permission(v2, erika):
    request = request_v2(v2, erika)
    with pytest.raises(PermissionDenied):
        activation_reject(request=request, rejected_by=make_staff_user("max", *OPERATOR_PERMISSIONS), reason="No")


def test_a_decided_request_cannot_be_decided_again(v2, erika, olga):
    request = request_v2(v2, erika)
    activation_reject(request=request, rejected_by=olga, reason="No")
    with pytest.raises(ReleaseRefused, match="already rejected by olga"):
        activation_approve(request=request, approved_by=olga)


def test_an_approval_the_gate_now_blocks_changes_nothing_and_the_request_stays_pending(v2, erika, olga, settings):
    request = request_v2(v2, erika)
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    with pytest.raises(ActivationBlocked, match="v2 is above v1"):
        activation_approve(request=request, approved_by=olga)
    request.refresh_from_db()
    assert (request.status, active_version()) == ("pending", 1)


def test_an_approver_with_the_override_permission_may_approve_past_the_gate_with_a_reason(v2, erika, settings):
    request = request_v2(v2, erika)
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    with pytest.raises(PermissionDenied, match="override"):
        activation_approve(request=request, approved_by=make_staff_user("olga", APPROVE), override_reason="Urgent")
    anna = make_staff_user("anna", APPROVE, OVERRIDE_GATE)
    activation_approve(request=request, approved_by=anna, override_reason="Urgent: v1 misreads every Mahnung")
    activation = PromptActivation.objects.get(to_version=v2)
    assert (activation.override_reason, activation.request, activation.activated_by) == (
        "Urgent: v1 misreads every Mahnung", request, "anna"
    )


def test_an_approved_canary_request_starts_the_canary_with_its_percent(v2, erika, olga):
    request = request_v2(v2, erika, kind="canary", percent=20)
    activation_approve(request=request, approved_by=olga)
    rollout = PromptRollout.objects.get()
    assert (rollout.candidate, rollout.baseline.version, rollout.percent, rollout.state) == (v2, 1, 20, "running")
    assert (rollout.started_by, rollout.request, rollout.reason) == ("olga", request, request.reason)
    assert active_version() == 1


@pytest.mark.parametrize(("kind", "percent"), [("canary", None), ("canary", 0), ("canary", 51), ("activate", 10)])
def test_a_request_with_a_percent_that_does_not_fit_its_kind_is_refused(v2, erika, kind, percent):
    with pytest.raises(ReleaseRefused):
        request_v2(v2, erika, kind=kind, percent=percent)
    assert not ActivationRequest.objects.exists()


def test_approvers_but_not_the_requester_are_mailed_about_a_new_request(
    v2, erika, olga, settings, django_capture_on_commit_callbacks
):
    settings.PROMPT_ALERT_EMAILS = ["leitung@kanzlei.example"]
    make_staff_user("max", *OPERATOR_PERMISSIONS, email="max@kanzlei.example")  # may not approve
    with django_capture_on_commit_callbacks(execute=True):
        request = request_v2(v2, erika)
    [message] = mail.outbox
    assert sorted(message.to) == ["leitung@kanzlei.example", "olga@kanzlei.example"]
    assert message.subject == "[prompts] Approval needed: activation of classification.email_intent v2"
    assert "Fewer inquiries misread as spam" in message.body
    assert f"/admin/prompts/activationrequest/{request.pk}/change/" in message.body


def test_the_requester_is_mailed_the_decision(v2, erika, olga, django_capture_on_commit_callbacks):
    request = request_v2(v2, erika)
    with django_capture_on_commit_callbacks(execute=True):
        activation_reject(request=request, rejected_by=olga, reason="Not before the audit")
    [message] = mail.outbox
    assert message.to == ["erika@kanzlei.example"]
    assert "olga rejected request" in message.body and "Not before the audit" in message.body


def test_a_mail_server_failure_loses_no_request(v2, erika, olga, settings, django_capture_on_commit_callbacks):
    settings.PROMPT_ALERT_EMAILS = ["leitung@kanzlei.example"]
    with mock.patch("prompts.notifications.send_mail", side_effect=OSError("connection refused")):
        with django_capture_on_commit_callbacks(execute=True):
            request = request_v2(v2, erika)
    assert ActivationRequest.objects.get(pk=request.pk).status == "pending"
