"""Admin for safe release: the activate/canary form of a version, and the four-eyes activation requests.

With PROMPT_FOUR_EYES the version page offers *Request activation…* and *Request a canary…* (a request that
another operator approves on its page); without it, *Activate this version* and *Start a canary…* act at once.
Either way the activation gate applies; operators holding `prompts.override_activation_gate` may override it
with a reason. A rollback and stopping a canary stay one step for whoever may activate: they are the way back.
The canaries themselves (list, live comparison, stop and promote) are in `evaluation.admin`.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from prompts import selectors
from prompts.admin_views import (
    _page_context,
    _require,
    _version_or_404,
    activation_message,
    admin_url,
    serving_change,
)
from prompts.errors import ActivationBlocked, ReleaseRefused
from prompts.evidence import activation_evidence
from prompts.gate import gate_verdict
from prompts.models import ActivationRequest
from prompts.services import (
    APPROVE_PERMISSION,
    OVERRIDE_PERMISSION,
    REQUEST_PERMISSION,
    activation_approve,
    activation_reject,
    activation_request,
    prompt_activate,
    rollout_start,
)

TEXT = forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"})
Kind = ActivationRequest.Kind


class ReleaseForm(forms.Form):
    """Activate a version or start a canary of it (or request either, with four-eyes)."""

    percent = forms.IntegerField(
        min_value=1, max_value=50, initial=10, label=_("Share of e-mails (%)"),
        help_text=_("1–50 %. The same e-mail always gets the same version while the canary runs."),
    )
    reason = forms.CharField(
        widget=TEXT, label=_("Reason"), help_text=_("Why this version should serve. Kept in the audit.")
    )
    override_reason = forms.CharField(
        widget=TEXT, required=False, label=_("Override the gate because"),
        help_text=_("Only when the activation gate blocks this version. Kept in the audit."),
    )

    def __init__(self, *args, kind, four_eyes, may_override, **kwargs):
        super().__init__(*args, **kwargs)
        if kind != Kind.CANARY:
            del self.fields["percent"]
        if four_eyes or not may_override:
            # With four-eyes the approver decides about an override, on the request's page.
            del self.fields["override_reason"]
        if not four_eyes:
            self.fields["reason"].required = False


class DecisionForm(forms.Form):
    comment = forms.CharField(
        widget=TEXT, required=False, label=_("Comment"),
        help_text=_("Optional when approving; the reason when rejecting."),
    )
    override_reason = forms.CharField(
        widget=TEXT, required=False, label=_("Override the gate because"),
        help_text=_("Only when the activation gate blocks the version (needs the override permission)."),
    )


def release_view(model_admin, request, object_id, kind):
    """The *Activate…* / *Start a canary…* page of a version (a request, with four-eyes)."""
    _require(model_admin.has_activate_version_permission(request))
    if kind not in Kind.values:
        raise Http404(f"No release of kind {kind!r}.")
    template = _version_or_404(model_admin, request, object_id)
    four_eyes = settings.PROMPT_FOUR_EYES
    form = ReleaseForm(
        request.POST if request.method == "POST" else None, kind=kind, four_eyes=four_eyes,
        may_override=request.user.has_perm(OVERRIDE_PERMISSION),
    )
    if form.is_valid():
        try:
            return _release(model_admin, request, template, kind, four_eyes, form.cleaned_data)
        except (ActivationBlocked, ReleaseRefused) as exc:
            form.add_error(None, _refusal(exc))
    title = {
        (False, Kind.ACTIVATE): gettext("Activate %(version)s"),
        (False, Kind.CANARY): gettext("Start a canary of %(version)s"),
        (True, Kind.ACTIVATE): gettext("Request the activation of %(version)s"),
        (True, Kind.CANARY): gettext("Request a canary of %(version)s"),
    }[(bool(four_eyes), kind)]
    active = _active_or_none(template)
    return TemplateResponse(
        request,
        "admin/prompts/prompttemplate/release.html",
        _page_context(
            model_admin, request, original=template, form=form, kind=kind, four_eyes=four_eyes,
            title=title % {"version": template},
            gate=gate_verdict(template=template, active=active),
            evidence=activation_evidence(template=template, active=active) if kind == Kind.ACTIVATE else "",
            # An activation (or its request) shows what would change; a canary's page explains the canary.
            **(serving_change(active, template) if kind == Kind.ACTIVATE else {}),
        ),
    )


def _release(model_admin, request, template, kind, four_eyes, data):
    user = request.user
    if four_eyes:
        created = activation_request(
            template=template, requested_by=user, reason=data["reason"], kind=kind, percent=data.get("percent")
        )
        model_admin.message_user(
            request, gettext("Requested. Another operator has to approve request #%(pk)s.") % {"pk": created.pk},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:prompts_activationrequest_change", args=[created.pk]))
    override = data.get("override_reason") or None
    if kind == Kind.CANARY:
        rollout = rollout_start(
            candidate=template, percent=data["percent"], started_by=user.get_username(), reason=data["reason"],
            override_reason=override,
        )
        model_admin.message_user(request, gettext("Started: %(canary)s.") % {"canary": rollout}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:prompts_promptrollout_change", args=[rollout.pk]))
    activation = prompt_activate(
        template=template, activated_by=user.get_username(), override_reason=override, reason=data["reason"]
    )
    model_admin.message_user(
        request,
        activation_message(activation) if activation
        else gettext("%(version)s is already active.") % {"version": template},
        messages.SUCCESS,
    )
    return HttpResponseRedirect(admin_url("change", template.pk))


def _refusal(exc):
    if isinstance(exc, ActivationBlocked):
        return gettext("The activation gate blocks this version: %(reasons)s") % {"reasons": exc}
    return str(exc)


def version_release_context(request, template):
    """What a version's page needs for its release buttons: four-eyes, the running canary, a pending request."""
    if template is None:
        return {}
    key = {"task_type": template.task_type, "name": template.name}
    return {
        "four_eyes": settings.PROMPT_FOUR_EYES,
        "may_override": request.user.has_perm(OVERRIDE_PERMISSION),
        "running_rollout": selectors.running_rollout(**key),
        "pending_request": selectors.pending_requests().filter(**key).first(),
    }


def _active_or_none(template):
    return selectors.active_version(task_type=template.task_type, name=template.name)


class ActivationRequestAdmin(admin.ModelAdmin):
    """Four-eyes requests: read-only records; approvers decide on each request's page."""

    list_display = ("requested_at", "subject", "requested_by", "status", "decided_by", "decided_at")
    list_display_links = ("subject",)

    class Media:
        css = {"all": ["prompts/admin.css"]}
    list_filter = ("status", "kind", "task_type")
    search_fields = ("name", "requested_by", "decided_by", "reason")
    list_select_related = ("template",)
    fields = readonly_fields = (
        "subject", "status", "reason", "requested_by", "requested_at", "decided_by", "decided_at", "decision_comment",
    )

    def has_view_permission(self, request, obj=None):
        # Whoever may request or approve an activation sees the requests.
        user = request.user
        return super().has_view_permission(request, obj) or any(
            user.has_perm(permission) for permission in (APPROVE_PERMISSION, REQUEST_PERMISSION)
        )

    def has_add_permission(self, request):
        return False  # requests are made from a version's page

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Request"))
    def subject(self, obj):
        if obj.kind == Kind.CANARY:
            values = {"version": obj.template, "percent": obj.percent}
            return gettext("Canary of %(version)s at %(percent)s %%") % values
        return gettext("Activation of %(version)s") % {"version": obj.template}

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decide_view)
        return [path("<path:object_id>/decide/", decide, name="prompts_activationrequest_decide")] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if obj is not None:
            extra_context.update(self._decision_context(request, obj, DecisionForm()))
        return super().change_view(request, object_id, form_url, extra_context)

    def _decision_context(self, request, obj, form):
        user = request.user.get_username()
        pending = obj.status == ActivationRequest.Status.PENDING
        active = _active_or_none(obj.template)
        if not request.user.has_perm(OVERRIDE_PERMISSION):
            form.fields.pop("override_reason", None)
        return {
            "decision_form": form,
            "may_approve": pending and user != obj.requested_by and request.user.has_perm(APPROVE_PERMISSION),
            "may_withdraw": pending and user == obj.requested_by,
            "own_request": pending and user == obj.requested_by,
            "gate": gate_verdict(template=obj.template, active=active) if pending else None,
            "version_url": admin_url("change", obj.template_id),
            "diff_url": admin_url("diff", obj.template_id) + (f"?other={active.pk}" if active else ""),
        }

    def decide_view(self, request, object_id):
        """The approve / reject / withdraw buttons of a request's page post here."""
        obj = get_object_or_404(ActivationRequest.objects.select_related("template"), pk=object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = DecisionForm(request.POST)
        form.is_valid()
        data = form.cleaned_data
        try:
            if request.POST.get("decision") == "approve":
                activation_approve(
                    request=obj, approved_by=request.user, comment=data.get("comment", ""),
                    override_reason=data.get("override_reason") or None,
                )
                self.message_user(
                    request, gettext("Approved and applied: %(request)s.") % {"request": self.subject(obj)},
                    messages.SUCCESS,
                )
            else:
                activation_reject(request=obj, rejected_by=request.user, reason=data.get("comment", ""))
                self.message_user(
                    request, gettext("Rejected: %(request)s.") % {"request": self.subject(obj)}, messages.SUCCESS
                )
        except (ActivationBlocked, ReleaseRefused, PermissionDenied) as exc:
            self.message_user(
                request, gettext("Nothing changed: %(refusal)s") % {"refusal": _refusal(exc)}, messages.ERROR
            )
        return HttpResponseRedirect(reverse("admin:prompts_activationrequest_change", args=[obj.pk]))
