"""The e-mail list's "Add to evaluation set…" action: an intermediate page (an existing set or a new name), then
evaluation.services; unreviewed e-mails are refused by name. Offered with `evaluation.add_evaluationset` and
`evaluation.add_evaluationcase`.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from evaluation import services
from evaluation.errors import EvaluationError
from evaluation.models import EvaluationSet
from extraction.models import IncomingEmail


class AddToSetForm(forms.Form):
    existing = forms.ModelChoiceField(
        EvaluationSet.objects.all(), required=False, label=_("Add to the set"), empty_label=_("(a new set)")
    )
    name = forms.CharField(required=False, max_length=200, label=_("or create a set named"))

    def clean(self):
        data = super().clean()
        if not data.get("existing") and not (data.get("name") or "").strip():
            raise forms.ValidationError(_("Choose a set or name a new one."))
        return data


@admin.action(description=_("Add to evaluation set…"), permissions=["build_evaluation_sets"])
def add_to_evaluation_set(modeladmin, request, queryset):
    """An intermediate page (set or new name), then the service; unreviewed e-mails are refused by name."""
    form = AddToSetForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            if form.cleaned_data["existing"]:
                evaluation_set = form.cleaned_data["existing"]
                added = len(services.evaluation_set_add(
                    evaluation_set=evaluation_set, emails=list(queryset), added_by=request.user
                ))
            else:
                evaluation_set = services.evaluation_set_create(
                    name=form.cleaned_data["name"], emails=list(queryset), created_by=request.user
                )
                added = evaluation_set.cases.count()
        except EvaluationError as exc:
            modeladmin.message_user(request, gettext("Nothing added: %(reason)s") % {"reason": exc}, messages.ERROR)
            return None
        modeladmin.message_user(request, ngettext(
            "%(count)s e-mail added to %(set)s.", "%(count)s e-mails added to %(set)s.", added
        ) % {"count": added, "set": evaluation_set}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:evaluation_evaluationset_change", args=[evaluation_set.pk]))
    context = {
        **modeladmin.admin_site.each_context(request), "opts": modeladmin.opts,
        "title": gettext("Add to an evaluation set"),
        "form": form, "emails": queryset, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/evaluation/add_to_set.html", context)


def _extend_email_admin(site):
    """The e-mail list (extraction's admin) gets the action here: extraction must not know about evaluation."""
    email_admin = site.get_model_admin(IncomingEmail)
    email_admin.actions = [*(email_admin.actions or ()), add_to_evaluation_set]
    email_admin.has_build_evaluation_sets_permission = (
        lambda request: request.user.has_perm("evaluation.add_evaluationset")
        and request.user.has_perm("evaluation.add_evaluationcase")
    )


_extend_email_admin(admin.site)
