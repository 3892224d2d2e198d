"""E-mails about releases: new requests to the approvers, decisions to the requester, canary ends to everyone.

Sent through Django's mail framework (EMAIL_URL; the console backend by default) after the transaction
commits. Recipients: PROMPT_ALERT_EMAILS, plus the approvers' (or the requester's) own addresses where the
user accounts have one. A mail server that fails is logged and never undoes the release step itself.
"""

import functools
import json
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[prompts] "


def _never_raises(notify):
    # Runs after the commit: a broken mail server (or template) must not look like a failed release step.
    @functools.wraps(notify)
    def wrapper(*args, **kwargs):
        try:
            notify(*args, **kwargs)
        except Exception:
            logger.exception("Could not send the %s e-mail", notify.__name__)

    return wrapper


@_never_raises
def request_created(request):
    """Tell the approvers (everyone who may approve it but the requester) about a new request."""
    approvers = get_user_model().objects.with_perm("prompts.approve_activation").exclude(
        **{get_user_model().USERNAME_FIELD: request.requested_by}
    )
    _send(
        f"Approval needed: {_request_label(request)}",
        f"{request.requested_by} asks for {_request_label(request)}.\n\nReason:\n{request.reason}\n\n"
        f"Approve or reject it (another operator than {request.requested_by} has to):\n"
        f"{_admin_path('admin:prompts_activationrequest_change', request.pk)}\n",
        _with_alert_list(user.email for user in approvers),
    )


@_never_raises
def request_decided(request):
    """Tell the requester (and the alert list) what became of a request."""
    outcome = request.get_status_display().lower()
    comment = f"\n\nComment:\n{request.decision_comment}" if request.decision_comment else ""
    _send(
        f"Request {outcome}: {_request_label(request)}",
        f"{request.decided_by} {outcome} request #{request.pk} by {request.requested_by}: "
        f"{_request_label(request)}.{comment}\n\n{_admin_path('admin:prompts_activationrequest_change', request.pk)}\n",
        _with_alert_list(_user_emails(request.requested_by)),
    )


@_never_raises
def rollout_ended(rollout):
    """Announce how a canary ended (rolled back, promoted, stopped), with the figures it was decided on."""
    figures = f"\n\nFigures:\n{json.dumps(rollout.figures, indent=2)}" if rollout.figures else ""
    _send(
        f"Canary {rollout.get_state_display().lower()}: {rollout.candidate} ({rollout.percent} %)",
        f"The canary of {rollout.candidate} beside v{rollout.baseline.version}, started by {rollout.started_by} on "
        f"{rollout.started_at:%Y-%m-%d %H:%M %Z}, was {rollout.get_state_display().lower()} by {rollout.ended_by}."
        f"\n\nWhy:\n{rollout.end_reason}{figures}\n\n"
        f"{_admin_path('admin:prompts_promptrollout_change', rollout.pk)}\n",
        _with_alert_list(()),
    )


def _request_label(request):
    if request.kind == request.Kind.CANARY:
        return f"canary of {request.template} at {request.percent} %"
    return f"activation of {request.template}"


def _user_emails(username):
    users = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).exclude(email="")
    return [user.email for user in users]


def _with_alert_list(emails):
    recipients = list(settings.PROMPT_ALERT_EMAILS)
    recipients += [email for email in emails if email and email not in recipients]
    return recipients


def _admin_path(url_name, pk):
    return f"{settings.PROMPT_ADMIN_BASE_URL}{reverse(url_name, args=[pk])}"


def _send(subject, body, recipients):
    if not recipients:
        logger.info("No recipients for %r (set PROMPT_ALERT_EMAILS)", subject)
        return
    send_mail(SUBJECT_PREFIX + subject, body, None, recipients)
