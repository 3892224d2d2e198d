"""Write operations on prompts. Admin actions, commands, tasks and tests all come through here.

Every operation that changes which version serves (activation, rollback, four-eyes approval, canary start,
stop, rollback and promotion) first locks the prompt's versions (`_lock_prompt_versions`), so they serialise
per prompt on PostgreSQL as on SQLite, and always take their locks in the same order.
"""

import zlib

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from prompts import notifications, selectors
from prompts.errors import ReleaseRefused, RollbackUnavailable
from prompts.gate import gate_check
from prompts.models import ActivationRequest, PromptActivation, PromptRollout, PromptTemplate

# Who the canary monitor acts as in the audit (a space: no user name can be the same).
MONITOR = "canary monitor"
APPROVE_PERMISSION = "prompts.approve_activation"
OVERRIDE_PERMISSION = "prompts.override_activation_gate"
REQUEST_PERMISSION = "prompts.activate_version"


def _lock_prompt_versions(*, task_type, name):
    """Serialise every writer of one prompt (versions, activations) and return its versions, locked.

    PostgreSQL: a transaction-scoped advisory lock on the prompt's key, which also holds while the
    prompt has no version yet (row locks cannot lock rows that do not exist, so two first versions
    would collide on the version number), then row locks. SQLite's IMMEDIATE transactions already
    serialise all writers.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"prompts:{task_type}.{name}".encode())])
    return list(
        PromptTemplate.objects.select_for_update().filter(task_type=task_type, name=name).order_by("version")
    )


def prompt_create_version(*, source, created_by, description, **changes):
    """Create the next version of `source`'s prompt, copying it with `changes` applied (inactive)."""
    unknown = set(changes) - set(PromptTemplate.EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable in a new version: {', '.join(sorted(unknown))}")
    return prompt_create_next_version(
        task_type=source.task_type, name=source.name, created_by=created_by, description=description,
        **{field: changes.get(field, getattr(source, field)) for field in PromptTemplate.EDITABLE_FIELDS},
    )


@transaction.atomic
def prompt_create_next_version(*, task_type, name, created_by, description="", **fields):
    """Create the next version of `task_type.name` from complete content (version 1 of a new prompt),
    inactive until someone activates it. Concurrent calls get consecutive numbers, never a collision."""
    versions = _lock_prompt_versions(task_type=task_type, name=name)
    template = PromptTemplate(
        task_type=task_type, name=name, version=max((v.version for v in versions), default=0) + 1,
        created_by=created_by, description=description, **fields,
    )
    template.full_clean()
    template.save()
    return template


def prompt_activate(
    *, template, activated_by, override_reason=None, kind=PromptActivation.Kind.ACTIVATE, request=None, reason=""
):
    """Make `template` the active version of its prompt. Returns the audit row, or None if it already was.

    The activation gate (PROMPT_ACTIVATION_VALIDATORS) must pass, or be overridden with `override_reason` (the
    caller checks the override permission); a rollback is not gated. A running canary of the prompt ends:
    promoted when `template` is its candidate, stopped otherwise.
    """
    with transaction.atomic():
        versions = _lock_prompt_versions(task_type=template.task_type, name=template.name)
        current = next((v for v in versions if v.is_active), None)
        if current is not None and current.pk == template.pk:
            return None
        if kind == PromptActivation.Kind.ROLLBACK:
            gate = {}
        else:
            gate = gate_check(template=template, active=current, override_reason=override_reason)
        # Deactivate first: the partial unique index allows one active row at every moment.
        if current is not None:
            PromptTemplate.objects.filter(pk=current.pk).update(is_active=False)
        PromptTemplate.objects.filter(pk=template.pk).update(is_active=True)
        activation = PromptActivation.objects.create(
            task_type=template.task_type,
            name=template.name,
            from_version=current,
            to_version=template,
            kind=kind,
            activated_by=activated_by,
            reason=reason,
            request=request,
            gate=gate,
            override_reason=override_reason.strip() if gate.get("overridden") else "",
        )
        _end_rollout_on_activation(activation)
        transaction.on_commit(lambda: selectors.forget_active_prompt(template.task_type, template.name))
    template.is_active = True
    return activation


def _end_rollout_on_activation(activation):
    """An activation ends the prompt's running canary: it promotes the candidate, or replaces the baseline."""
    rollout = (
        PromptRollout.objects.select_for_update()
        .filter(task_type=activation.task_type, name=activation.name, state=PromptRollout.State.RUNNING)
        .first()
    )
    if rollout is None:
        return
    template = activation.to_version
    if rollout.candidate_id == template.pk:
        state, why = PromptRollout.State.PROMOTED, activation.reason or f"v{template.version} was activated"
    elif activation.kind == PromptActivation.Kind.ROLLBACK:
        state, why = PromptRollout.State.STOPPED, f"the prompt was rolled back to v{template.version}"
    else:
        state, why = PromptRollout.State.STOPPED, f"v{template.version} was activated instead"
    _rollout_end(rollout, state=state, ended_by=activation.activated_by, reason=why)
    activation.rollout = rollout
    activation.save(update_fields=["rollout"])


def prompt_rollback(*, task_type, name, activated_by, expected_current=None):
    """Re-activate the version that was active before the current one: by the audit trail, or the
    next lower version for one activated before the audit existed.

    `expected_current` (a version number): the active version the operator's confirmation page showed;
    when another version became active meanwhile, RollbackUnavailable is raised and nothing changes (the
    roll-back would otherwise undo a version the operator never saw).
    """
    with transaction.atomic():
        versions = _lock_prompt_versions(task_type=task_type, name=name)
        current, previous = selectors.rollback_target(task_type=task_type, name=name, versions=versions)
        if expected_current is not None and current.version != expected_current:
            raise RollbackUnavailable(gettext(
                "v%(current)s became active after the page was opened (it showed v%(expected)s); look at the "
                "history again before rolling back."
            ) % {"current": current.version, "expected": expected_current})
        return prompt_activate(template=previous, activated_by=activated_by, kind=PromptActivation.Kind.ROLLBACK)


# Four-eyes ------------------------------------------------------------------------------------

def activation_request(*, template, requested_by, reason, kind=ActivationRequest.Kind.ACTIVATE, percent=None):
    """Ask for `template` to be activated (or to serve `percent` % as a canary); another operator decides.

    `requested_by` is the requesting user (needs `prompts.activate_version`). Approvers are told by e-mail.
    """
    _require_permission(requested_by, REQUEST_PERMISSION, gettext("request an activation"))
    if not (reason or "").strip():
        raise ReleaseRefused(gettext("Say why this version should serve: a request needs a reason."))
    if kind == ActivationRequest.Kind.CANARY:
        _check_percent(percent)
    elif percent is not None:
        raise ReleaseRefused(gettext("Only a canary request has a percent."))
    with transaction.atomic():
        versions = _lock_prompt_versions(task_type=template.task_type, name=template.name)
        _check_can_serve(template, versions, canary=kind == ActivationRequest.Kind.CANARY)
        pending = ActivationRequest.objects.filter(
            task_type=template.task_type, name=template.name, status=ActivationRequest.Status.PENDING
        ).first()
        if pending is not None:
            raise ReleaseRefused(
                gettext("%(prompt)s already has a pending request: %(request)s. Decide it first.")
                % {"prompt": template.key, "request": pending}
            )
        request = ActivationRequest.objects.create(
            task_type=template.task_type, name=template.name, template=template, kind=kind, percent=percent,
            reason=reason.strip(), requested_by=requested_by.get_username(),
        )
        transaction.on_commit(lambda: notifications.request_created(request))
    return request


def activation_approve(*, request, approved_by, comment="", override_reason=None):
    """Approve a pending request and apply it at once (if it still passes the activation gate).

    `approved_by` needs `prompts.approve_activation` and must not be the requester, whatever their permissions.
    If the gate blocks, nothing changes and the request stays pending (ActivationBlocked is raised).
    """
    _require_permission(approved_by, APPROVE_PERMISSION, gettext("approve requests"))
    if override_reason:
        _require_permission(approved_by, OVERRIDE_PERMISSION, gettext("override the activation gate"))
    approver = approved_by.get_username()
    with transaction.atomic():
        _lock_prompt_versions(task_type=request.task_type, name=request.name)
        request = _lock_pending(request)
        if request.requested_by == approver:
            raise ReleaseRefused(
                gettext("%(user)s made this request and cannot approve it: another operator has to (four-eyes).")
                % {"user": approver}
            )
        if request.kind == ActivationRequest.Kind.CANARY:
            rollout_start(
                candidate=request.template, percent=request.percent, started_by=approver, reason=request.reason,
                override_reason=override_reason, request=request,
            )
        else:
            prompt_activate(
                template=request.template, activated_by=approver, override_reason=override_reason, request=request,
                reason=request.reason,
            )
        _request_decide(request, status=ActivationRequest.Status.APPROVED, decided_by=approver, comment=comment)
    return request


def activation_reject(*, request, rejected_by, reason):
    """Reject a pending request with a reason (an approver), or withdraw it (its requester)."""
    who = rejected_by.get_username()
    with transaction.atomic():
        request = _lock_pending(request)
        if who != request.requested_by:
            _require_permission(rejected_by, APPROVE_PERMISSION, gettext("reject another operator's request"))
        if not (reason or "").strip():
            raise ReleaseRefused(gettext("Say why the request is rejected."))
        _request_decide(request, status=ActivationRequest.Status.REJECTED, decided_by=who, comment=reason.strip())
    return request


def _request_decide(request, *, status, decided_by, comment):
    request.status = status
    request.decided_by = decided_by
    request.decided_at = timezone.now()
    request.decision_comment = comment
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
    transaction.on_commit(lambda: notifications.request_decided(request))


def _lock_pending(request):
    request = ActivationRequest.objects.select_for_update().select_related("template").get(pk=request.pk)
    if request.status != ActivationRequest.Status.PENDING:
        raise ReleaseRefused(
            gettext("Request #%(pk)s was already %(status)s by %(user)s.")
            % {"pk": request.pk, "status": request.get_status_display().lower(), "user": request.decided_by}
        )
    return request


def _require_permission(user, permission, what):
    if not user.has_perm(permission):
        raise PermissionDenied(
            gettext("%(user)s may not %(action)s (%(permission)s is needed).")
            % {"user": user.get_username(), "action": what, "permission": permission}
        )


# Canary rollouts ------------------------------------------------------------------------------

def rollout_start(*, candidate, percent, started_by, reason="", override_reason=None, request=None):
    """Let `candidate` serve `percent` % (1–50) of the e-mails beside the active version; one canary per prompt.

    The activation gate applies as for an activation. Raises ReleaseRefused when another canary of the prompt
    runs, the candidate is already active, or no version is active to compare it with.
    """
    _check_percent(percent)
    with transaction.atomic():
        versions = _lock_prompt_versions(task_type=candidate.task_type, name=candidate.name)
        active = _check_can_serve(candidate, versions, canary=True)
        gate = gate_check(template=candidate, active=active, override_reason=override_reason)
        try:
            with transaction.atomic():
                rollout = PromptRollout.objects.create(
                    task_type=candidate.task_type, name=candidate.name, baseline=active, candidate=candidate,
                    percent=percent, reason=reason, started_by=started_by, request=request, gate=gate,
                    override_reason=override_reason.strip() if gate.get("overridden") else "",
                )
        except IntegrityError as exc:
            # The partial unique index: another canary of this prompt started in the meantime.
            raise ReleaseRefused(
                gettext("A canary of %(prompt)s is already running; stop it first.") % {"prompt": candidate.key}
            ) from exc
        transaction.on_commit(lambda: selectors.forget_rollout(candidate.task_type, candidate.name))
    return rollout


def rollout_stop(*, rollout, stopped_by, reason, figures=None):
    """Stop a running canary (the active version serves everything again); the reason is recorded and mailed."""
    if not (reason or "").strip():
        raise ReleaseRefused(gettext("Say why the canary is stopped."))
    return _rollout_finish(
        rollout, state=PromptRollout.State.STOPPED, ended_by=stopped_by, reason=reason.strip(), figures=figures
    )


def rollout_roll_back(*, rollout, reason, figures=None, rolled_back_by=MONITOR):
    """Roll a running canary back on a regression (the monitor's decision, with the figures it was based on)."""
    return _rollout_finish(
        rollout, state=PromptRollout.State.ROLLED_BACK, ended_by=rolled_back_by, reason=reason, figures=figures
    )


def rollout_promote(*, rollout, promoted_by, reason="", figures=None):
    """Activate a running canary's candidate (through the activation gate) and end the canary as promoted."""
    with transaction.atomic():
        _lock_prompt_versions(task_type=rollout.task_type, name=rollout.name)
        rollout = _lock_running(rollout)
        prompt_activate(
            template=rollout.candidate, activated_by=promoted_by, kind=PromptActivation.Kind.PROMOTE,
            request=rollout.request, reason=reason or f"canary promoted by {promoted_by}",
        )
        rollout.refresh_from_db()
        if figures is not None:
            rollout.figures = figures
            rollout.save(update_fields=["figures"])
    return rollout


def _rollout_finish(rollout, *, state, ended_by, reason, figures=None):
    with transaction.atomic():
        _lock_prompt_versions(task_type=rollout.task_type, name=rollout.name)
        rollout = _lock_running(rollout)
        _rollout_end(rollout, state=state, ended_by=ended_by, reason=reason, figures=figures)
    return rollout


def _rollout_end(rollout, *, state, ended_by, reason, figures=None):
    rollout.state = state
    rollout.ended_by = ended_by
    rollout.ended_at = timezone.now()
    rollout.end_reason = reason
    if figures is not None:
        rollout.figures = figures
    rollout.save(update_fields=["state", "ended_by", "ended_at", "end_reason", "figures"])
    transaction.on_commit(lambda: selectors.forget_rollout(rollout.task_type, rollout.name))
    transaction.on_commit(lambda: notifications.rollout_ended(rollout))


def _lock_running(rollout):
    rollout = PromptRollout.objects.select_for_update().select_related("candidate", "baseline").get(pk=rollout.pk)
    if rollout.state != PromptRollout.State.RUNNING:
        raise ReleaseRefused(
            gettext("%(canary)s already ended: %(state)s by %(user)s.")
            % {"canary": rollout, "state": rollout.get_state_display().lower(), "user": rollout.ended_by}
        )
    return rollout


def _check_percent(percent):
    if not isinstance(percent, int) or not 1 <= percent <= 50:
        raise ReleaseRefused(
            gettext("A canary serves 1 to 50 %% of the e-mails, not %(percent)r.") % {"percent": percent}
        )


def _check_can_serve(template, versions, *, canary):
    """The active version, after checking `template` can be activated (or start a canary) now."""
    active = next((v for v in versions if v.is_active), None)
    if active is not None and active.pk == template.pk:
        raise ReleaseRefused(gettext("%(version)s is already active.") % {"version": template})
    if canary:
        if active is None:
            raise ReleaseRefused(
                gettext("%(prompt)s has no active version for a canary to be compared with.") % {"prompt": template.key}
            )
        running = PromptRollout.objects.filter(
            task_type=template.task_type, name=template.name, state=PromptRollout.State.RUNNING
        ).first()
        if running is not None:
            raise ReleaseRefused(
                gettext("A canary of %(prompt)s is already running (%(canary)s); stop it first.")
                % {"prompt": template.key, "canary": running}
            )
    return active
