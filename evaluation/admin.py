"""Admin of the canaries (prompts.PromptRollout): the list, a live comparison of the two arms, stop and promote.

Registered here rather than in `prompts` because the comparison reads the live metrics (`metrics`), which the
ground app must not import. Viewing needs `prompts.view_promptrollout` or `prompts.view_prompttemplate`;
stopping and promoting need `prompts.activate_version`. Stopping is always one step (it is the way back);
with PROMPT_FOUR_EYES, promoting by hand is a request for the candidate's activation.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

import evaluation.admin_experiments  # noqa: F401 - registers the sets' and experiments' admin
import evaluation.admin_sets  # noqa: F401 - the e-mail list's "Add to evaluation set…" action
from evaluation import selectors
from prompts.errors import ActivationBlocked, ReleaseRefused
from prompts.models import PromptRollout
from prompts.services import REQUEST_PERMISSION, rollout_promote, rollout_stop

VIEW_PERMISSIONS = ("prompts.view_promptrollout", "prompts.view_prompttemplate")


@admin.register(PromptRollout)
class PromptRolloutAdmin(admin.ModelAdmin):
    list_display = ("started_at", "prompt_key", "candidate_label", "baseline_label", "percent", "state", "started_by",
                    "ended_by", "ended_at")
    list_display_links = ("prompt_key",)
    list_filter = ("state", "task_type")
    search_fields = ("name", "started_by", "ended_by", "end_reason")
    list_select_related = ("baseline", "candidate")
    fields = readonly_fields = (
        "prompt_key", "candidate_label", "baseline_label", "percent", "state", "reason", "started_by", "started_at",
        "request", "override_reason", "ended_by", "ended_at", "end_reason",
    )

    class Media:
        css = {"all": ["prompts/admin.css"]}

    def has_view_permission(self, request, obj=None):
        return any(request.user.has_perm(permission) for permission in VIEW_PERMISSIONS)

    def has_add_permission(self, request):
        return False  # canaries start from a version's page

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Prompt"))
    def prompt_key(self, obj):
        return f"{obj.task_type}.{obj.name}"

    @admin.display(description=_("Candidate"), ordering="candidate__version")
    def candidate_label(self, obj):
        return f"v{obj.candidate.version}"

    @admin.display(description=_("Baseline"), ordering="baseline__version")
    def baseline_label(self, obj):
        return f"v{obj.baseline.version}"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/stop/", view(self.stop_view), name="prompts_promptrollout_stop"),
            path("<path:object_id>/promote/", view(self.promote_view), name="prompts_promptrollout_promote"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rollout = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if rollout is not None:
            extra_context.update(
                comparison=selectors.rollout_comparison(rollout=rollout),
                may_act=rollout.state == PromptRollout.State.RUNNING and request.user.has_perm(REQUEST_PERMISSION),
                four_eyes=settings.PROMPT_FOUR_EYES,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def stop_view(self, request, object_id):
        """The *Stop* button: the candidate serves nothing more; the reason is recorded and mailed."""
        rollout = self._rollout_to_act_on(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            rollout_stop(rollout=rollout, stopped_by=request.user.get_username(), reason=request.POST.get("reason", ""))
            self.message_user(request, gettext("Stopped: %(rollout)s. The active version serves every e-mail.") % {
                "rollout": rollout}, messages.SUCCESS)
        except ReleaseRefused as exc:
            self.message_user(request, gettext("Nothing changed: %(reason)s") % {"reason": exc}, messages.ERROR)
        return self._back_to(rollout)

    def promote_view(self, request, object_id):
        """The *Promote now* button: activate the candidate (through the gate); with four-eyes, request it."""
        rollout = self._rollout_to_act_on(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if settings.PROMPT_FOUR_EYES:
            return HttpResponseRedirect(
                reverse("admin:prompts_prompttemplate_release", args=[rollout.candidate_id, "activate"])
            )
        try:
            rollout_promote(rollout=rollout, promoted_by=request.user.get_username())
            self.message_user(request, gettext("Promoted: %(version)s is now active.") % {"version": rollout.candidate},
                              messages.SUCCESS)
        except (ActivationBlocked, ReleaseRefused) as exc:
            self.message_user(request, gettext("Nothing changed: %(reason)s") % {"reason": exc}, messages.ERROR)
        return self._back_to(rollout)

    def _rollout_to_act_on(self, request, object_id):
        if not request.user.has_perm(REQUEST_PERMISSION):
            raise PermissionDenied
        return get_object_or_404(PromptRollout, pk=object_id)

    def _back_to(self, rollout):
        return HttpResponseRedirect(reverse("admin:prompts_promptrollout_change", args=[rollout.pk]))
