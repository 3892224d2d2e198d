"""Admin of evaluation sets and experiments: the sets and their cases (read-only), starting a run with its cost
estimate and budget, a run's figures and cases, cancelling it, and the comparison of two runs.

Viewing needs the models' view permissions; starting a run `evaluation.add_experimentrun`, cancelling one
`evaluation.change_experimentrun`. Every write goes through evaluation.services.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from evaluation import selectors, services
from evaluation.errors import EvaluationError
from evaluation.figures import field_accuracy
from evaluation.models import EvaluationCase, EvaluationSet, ExperimentCaseResult, ExperimentRun
from extraction.answering import PROMPT_KEYS
from extraction.models import IncomingEmail
from prompts.models import PromptTemplate

START_PERMISSION = "evaluation.add_experimentrun"
CANCEL_PERMISSION = "evaluation.change_experimentrun"


def _pipeline_versions():
    keys = PromptTemplate.objects.none()
    for task_type, name in PROMPT_KEYS:
        keys |= PromptTemplate.objects.filter(task_type=task_type, name=name)
    return keys.order_by("task_type", "name", "-version")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EvaluationCaseInline(ReadOnlyInline):
    model = EvaluationCase
    fields = readonly_fields = ("email_link", "expected_intent", "review_revision", "imported", "added_by", "added_at")

    @admin.display(description="E-mail")
    def email_link(self, case):
        url = reverse("admin:extraction_incomingemail_change", args=[case.email_id])
        return format_html('<a href="{}">#{} {}</a>', url, case.email_id, case.email.subject[:60])


@admin.register(EvaluationSet)
class EvaluationSetAdmin(admin.ModelAdmin):
    list_display = ("name", "case_count", "created_by", "created_at")
    search_fields = ("name", "description")
    fields = readonly_fields = ("name", "description", "created_by", "created_at", "start_link")
    inlines = [EvaluationCaseInline]

    def has_add_permission(self, request):
        return False  # sets are built from reviewed e-mails (the command, or an e-mail list action)

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(case_count=Count("cases"))

    @admin.display(description="Cases", ordering="case_count")
    def case_count(self, obj):
        return obj.case_count

    @admin.display(description="Experiments")
    def start_link(self, obj):
        url = reverse("admin:evaluation_experimentrun_start")
        return format_html('<a class="button" href="{}?set={}">Run a version on this set</a>', url, obj.pk)


class CaseResultInline(ReadOnlyInline):
    model = ExperimentCaseResult
    fields = readonly_fields = ("case_link", "outcome", "score", "cost_usd", "latency_ms", "error", "skip_reason")
    ordering = ("pk",)

    @admin.display(description="Case")
    def case_link(self, result):
        url = reverse("admin:extraction_incomingemail_change", args=[result.case.email_id])
        return format_html('<a href="{}">e-mail #{}</a>', url, result.case.email_id)

    @admin.display(description="Right")
    def score(self, result):
        return f"{result.fields_correct} of {result.fields_checked}" if result.fields_checked else "–"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("case")


class StartForm(forms.Form):
    evaluation_set = forms.ModelChoiceField(EvaluationSet.objects.all(), label="Evaluation set")
    template = forms.ModelChoiceField(_pipeline_versions(), label="Prompt version")
    max_cost_usd = forms.DecimalField(
        label="Budget (USD)", required=False, min_value=Decimal("0.000001"), max_digits=12, decimal_places=6,
        help_text="The run stops once its calls cost this much; the remaining cases are skipped. Empty: no budget.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = _pipeline_versions()


@admin.register(ExperimentRun)
class ExperimentRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "template", "evaluation_set", "status", "accuracy", "cost", "started_by", "created_at")
    list_filter = ("status", "template__task_type", "template__name")
    list_select_related = ("template", "evaluation_set")
    search_fields = ("evaluation_set__name", "started_by")
    fields = readonly_fields = (
        "template", "evaluation_set", "status", "started_by", "created_at", "started_at", "finished_at",
        "max_cost_usd", "estimated_cost_usd", "stop_reason", "error",
    )
    inlines = [CaseResultInline]
    change_form_template = "admin/evaluation/experimentrun/change_form.html"

    def has_add_permission(self, request):
        return False  # the start page (with its estimate) is the way in

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Accuracy")
    def accuracy(self, run):
        value = run.figures.get("accuracy") if run.figures else None
        return f"{value:.1%}" if value is not None else "–"

    @admin.display(description="Cost (USD)")
    def cost(self, run):
        return run.figures.get("cost_usd", "–") if run.figures else "–"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("start/", view(self.start_view), name="evaluation_experimentrun_start"),
            path("compare-with-active/<int:template_id>/", view(self.compare_with_active_view),
                 name="evaluation_experimentrun_compare_with_active"),
            path("<int:run_id>/cancel/", view(self.cancel_view), name="evaluation_experimentrun_cancel"),
            path("compare/<int:baseline_id>/<int:candidate_id>/", view(self.compare_view),
                 name="evaluation_experimentrun_compare"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if run is not None:
            active = PromptTemplate.objects.filter(
                task_type=run.template.task_type, name=run.template.name, is_active=True
            ).first()
            baseline = (
                selectors.latest_finished_run(template=active, evaluation_set=run.evaluation_set)
                if active is not None and active.pk != run.template_id else None
            )
            extra_context.update(
                summary=run.summary(), fields=field_accuracy(run), baseline=baseline,
                may_cancel=not run.ended and request.user.has_perm(CANCEL_PERMISSION),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def start_view(self, request):
        """Choose a set, a version and a budget; the estimate is shown before anything starts."""
        if not request.user.has_perm(START_PERMISSION):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else (request.GET or None)
        form = StartForm(data, initial={"evaluation_set": request.GET.get("set"),
                                        "template": request.GET.get("template")})
        estimate = None
        if data is not None and form.is_valid():
            estimate = services.experiment_estimate(
                evaluation_set=form.cleaned_data["evaluation_set"], template=form.cleaned_data["template"]
            )
            if request.method == "POST" and "compare" in request.POST:
                chosen = form.cleaned_data
                return self._compare_with_active(
                    request, candidate=chosen["template"], evaluation_set=chosen["evaluation_set"],
                    max_cost_usd=chosen["max_cost_usd"],
                )
            if request.method == "POST" and "start" in request.POST:
                try:
                    run = services.experiment_start(
                        evaluation_set=form.cleaned_data["evaluation_set"], template=form.cleaned_data["template"],
                        started_by=request.user, max_cost_usd=form.cleaned_data["max_cost_usd"],
                    )
                except EvaluationError as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(request, f"Started: {run}. It runs on the worker.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:evaluation_experimentrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": "Run a prompt version on a set",
            "form": form, "estimate": estimate, "estimated": data is not None and form.is_valid(),
        }
        return TemplateResponse(request, "admin/evaluation/experimentrun/start.html", context)

    def compare_with_active_view(self, request, template_id):
        """One click: run the version and the active one on a set (each only if it has no run there yet), then
        show them side by side."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(START_PERMISSION):
            raise PermissionDenied
        candidate = get_object_or_404(PromptTemplate, pk=template_id)
        evaluation_set = get_object_or_404(EvaluationSet, pk=request.POST.get("set"))
        return self._compare_with_active(request, candidate=candidate, evaluation_set=evaluation_set)

    def _compare_with_active(self, request, *, candidate, evaluation_set, max_cost_usd=None):
        try:
            runs = services.experiment_compare_with_active(
                evaluation_set=evaluation_set, candidate=candidate, started_by=request.user,
                max_cost_usd=max_cost_usd,
            )
        except EvaluationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:evaluation_experimentrun_start") + f"?template={candidate.pk}")
        return HttpResponseRedirect(
            reverse("admin:evaluation_experimentrun_compare", args=[runs["baseline"].pk, runs["candidate"].pk])
        )

    def cancel_view(self, request, run_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(CANCEL_PERMISSION):
            raise PermissionDenied
        run = get_object_or_404(ExperimentRun, pk=run_id)
        try:
            services.experiment_cancel(run=run, cancelled_by=request.user)
            self.message_user(request, f"Cancelled: {run}. Its remaining cases are skipped.", messages.SUCCESS)
        except EvaluationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:evaluation_experimentrun_change", args=[run.pk]))

    def compare_view(self, request, baseline_id, candidate_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        baseline = get_object_or_404(ExperimentRun.objects.select_related("template"), pk=baseline_id)
        candidate = get_object_or_404(ExperimentRun.objects.select_related("template"), pk=candidate_id)
        try:
            comparison = selectors.experiment_compare(baseline=baseline, candidate=candidate)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:evaluation_experimentrun_changelist"))
        changed = EvaluationCase.objects.filter(pk__in=comparison["changes"]).select_related("email")
        cases = {case.pk: case for case in changed}
        listed = [
            (title, [(cases[case_id], comparison["changes"][case_id]) for case_id in comparison[key]])
            for title, key in (("Got worse", "regressions"), ("Got better", "improvements"))
        ]
        context = {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": f"v{candidate.template.version} beside v{baseline.template.version} on {candidate.evaluation_set}",
            "baseline": baseline, "candidate": candidate, "comparison": comparison, "listed": listed,
            "figures": [(name, comparison["baseline"][name], comparison["candidate"][name], comparison["deltas"][name])
                        for name in comparison["deltas"]],
        }
        return TemplateResponse(request, "admin/evaluation/experimentrun/compare.html", context)


# "Add to evaluation set…" on the e-mail list ----------------------------------------------------------

class AddToSetForm(forms.Form):
    existing = forms.ModelChoiceField(
        EvaluationSet.objects.all(), required=False, label="Add to the set", empty_label="(a new set)"
    )
    name = forms.CharField(required=False, max_length=200, label="or create a set named")

    def clean(self):
        data = super().clean()
        if not data.get("existing") and not (data.get("name") or "").strip():
            raise forms.ValidationError("Choose a set or name a new one.")
        return data


@admin.action(description="Add to evaluation set…", permissions=["build_evaluation_sets"])
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
            modeladmin.message_user(request, f"Nothing added: {exc}", messages.ERROR)
            return None
        modeladmin.message_user(request, f"{added} e-mail(s) added to {evaluation_set}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:evaluation_evaluationset_change", args=[evaluation_set.pk]))
    context = {
        **modeladmin.admin_site.each_context(request), "opts": modeladmin.opts, "title": "Add to an evaluation set",
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
