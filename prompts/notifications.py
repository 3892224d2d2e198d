"""E-mails about releases: new requests to the approvers, decisions to the requester, canary ends to everyone.

Written in the product's language (settings.LANGUAGE_CODE, German), whoever's request triggered them: one e-mail
goes to several people.

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
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[prompts] "


def _never_raises(notify):
    # Runs after the commit: a broken mail server (or template) must not look like a failed release step.
    @functools.wraps(notify)
    def wrapper(*args, **kwargs):
        try:
            with translation.override(settings.LANGUAGE_CODE):
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
    values = {
        "request": _request_label(request), "user": request.requested_by, "reason": request.reason,
        "url": _admin_path("admin:prompts_activationrequest_change", request.pk),
    }
    _send(
        gettext("Approval needed: %(request)s") % values,
        gettext(
            "%(user)s asks for %(request)s.\n\nReason:\n%(reason)s\n\n"
            "Approve or reject it (another operator than %(user)s has to):\n%(url)s\n"
        ) % values,
        _with_alert_list(user.email for user in approvers),
    )


@_never_raises
def request_decided(request):
    """Tell the requester (and the alert list) what became of a request."""
    values = {
        "outcome": request.get_status_display().lower(), "request": _request_label(request), "pk": request.pk,
        "decider": request.decided_by, "requester": request.requested_by,
        "url": _admin_path("admin:prompts_activationrequest_change", request.pk),
    }
    comment = ""
    if request.decision_comment:
        comment = gettext("\n\nComment:\n%(comment)s") % {"comment": request.decision_comment}
    _send(
        gettext("Request %(outcome)s: %(request)s") % values,
        gettext("%(decider)s %(outcome)s request #%(pk)s by %(requester)s: %(request)s.") % values
        + f"{comment}\n\n{values['url']}\n",
        _with_alert_list(_user_emails(request.requested_by)),
    )


@_never_raises
def rollout_ended(rollout):
    """Announce how a canary ended (rolled back, promoted, stopped), with the figures it was decided on."""
    started = localtime(rollout.started_at)
    values = {
        "state": rollout.get_state_display().lower(), "candidate": rollout.candidate, "percent": rollout.percent,
        "baseline": rollout.baseline.version, "starter": rollout.started_by, "ender": rollout.ended_by,
        "started": f"{date_format(started, 'SHORT_DATETIME_FORMAT')} {started:%Z}",
        "reason": rollout.end_reason,
    }
    figures = ""
    if rollout.figures:
        figures = gettext("\n\nFigures:\n%(figures)s") % {"figures": json.dumps(rollout.figures, indent=2)}
    _send(
        gettext("Canary %(state)s: %(candidate)s (%(percent)s %%)") % values,
        gettext(
            "The canary of %(candidate)s beside v%(baseline)s, started by %(starter)s on %(started)s, was %(state)s "
            "by %(ender)s.\n\nWhy:\n%(reason)s"
        ) % values
        + f"{figures}\n\n{_admin_path('admin:prompts_promptrollout_change', rollout.pk)}\n",
        _with_alert_list(()),
    )


def _request_label(request):
    if request.kind == request.Kind.CANARY:
        return gettext("canary of %(version)s at %(percent)s %%") % {
            "version": request.template, "percent": request.percent,
        }
    return gettext("activation of %(version)s") % {"version": request.template}


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
