"""Admin of evaluation sets and experiments: the sets and their cases (read-only), starting a run with its cost
estimate and budget, comparing a version with the active one in one step, a run's figures and cases, cancelling
it, and the comparison of two runs (with their progress while they run).

Viewing needs the models' view permissions; starting a run `evaluation.add_experimentrun`, cancelling one
`evaluation.change_experimentrun`. Every write goes through evaluation.services.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.formatting import format_money, format_number, format_percent
from evaluation import selectors, services
from evaluation.errors import EvaluationError
from evaluation.estimates import cost_estimate
from evaluation.expected import fact_display
from evaluation.figures import field_accuracy
from evaluation.models import EvaluationCase, EvaluationSet, ExperimentCaseResult, ExperimentRun
from extraction.answering import PROMPT_KEYS
from extraction.models import EmailReview
from prompts.models import PromptTemplate

START_PERMISSION = "evaluation.add_experimentrun"
CANCEL_PERMISSION = "evaluation.change_experimentrun"
# While a compared run is still going, the compare page reloads itself this often (seconds).
PROGRESS_REFRESH_SECONDS = 5


def _pipeline_versions():
    keys = PromptTemplate.objects.none()
    for task_type, name in PROMPT_KEYS:
        keys |= PromptTemplate.objects.filter(task_type=task_type, name=name)
    return keys.order_by("task_type", "name", "-version")


def field_label(name):
    """A scored field's name as the review form shows it ("intent", "total_claim" -> their verbose names)."""
    try:
        return EmailReview._meta.get_field(name).verbose_name
    except FieldDoesNotExist:
        return name


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

    @admin.display(description=_("E-mail"))
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

    @admin.display(description=_("Cases"), ordering="case_count")
    def case_count(self, obj):
        return obj.case_count

    @admin.display(description=_("Experiments"))
    def start_link(self, obj):
        url = reverse("admin:evaluation_experimentrun_start")
        label = gettext("Run a version on this set")
        return format_html('<a class="button" href="{}?set={}">{}</a>', url, obj.pk, label)


class CaseResultInline(ReadOnlyInline):
    model = ExperimentCaseResult
    fields = readonly_fields = ("case_link", "outcome", "score", "cost", "latency_ms", "error", "skip_reason")
    ordering = ("pk",)

    @admin.display(description=_("Case"))
    def case_link(self, result):
        url = reverse("admin:extraction_incomingemail_change", args=[result.case.email_id])
        return format_html('<a href="{}">{}</a>', url, gettext("e-mail #%(id)s") % {"id": result.case.email_id})

    @admin.display(description=_("Right"))
    def score(self, result):
        if not result.fields_checked:
            return "–"
        return gettext("%(right)s of %(checked)s") % {"right": result.fields_correct, "checked": result.fields_checked}

    @admin.display(description=_("Cost (USD)"))
    def cost(self, result):
        return format_money(result.cost_usd, "USD", 6)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("case")


def _budget_field(help_text):
    return forms.DecimalField(
        label=_("Budget (USD)"), required=False, min_value=Decimal("0.000001"), max_digits=12, decimal_places=6,
        help_text=help_text,
    )


class StartForm(forms.Form):
    evaluation_set = forms.ModelChoiceField(EvaluationSet.objects.all(), label=_("Evaluation set"))
    template = forms.ModelChoiceField(_pipeline_versions(), label=_("Prompt version"))
    max_cost_usd = _budget_field(
        _("The run stops once its calls cost this much; the remaining cases are skipped. Empty: no budget.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = _pipeline_versions()


class CompareForm(forms.Form):
    evaluation_set = forms.ModelChoiceField(EvaluationSet.objects.all(), label=_("Evaluation set"))
    max_cost_usd = _budget_field(
        _("Each run started stops once its calls cost this much; its remaining cases are skipped. Empty: no budget.")
    )


# The figures of the compare page: (key of the summary, label, how it is shown).
COMPARED_FIGURES = (
    ("accuracy", _("Accuracy"), "ratio"),
    ("exact_rate", _("Exact cases"), "ratio"),
    ("intent_accuracy", _("Intent accuracy"), "ratio"),
    ("cost_usd", _("Cost"), "usd"),
    ("p95_latency_ms", _("p95 latency"), "ms"),
    ("errors", _("Errors"), "count"),
)


def shown(value, kind, *, change=False):
    """A figure as the operator reads it; a change of a ratio in percentage points, signed."""
    if value is None:
        return "–"
    sign = "+" if change and value > 0 else ""
    if kind == "ratio" and change:
        return gettext("%(points)s points") % {"points": sign + format_number(value * 100, 1)}
    if kind == "ratio":
        return format_percent(value)
    if kind == "usd":
        return sign + format_money(value, "USD", 6)
    if kind == "ms":
        return gettext("%(ms)s ms") % {"ms": sign + format_number(value, 0)}
    return sign + format_number(value)


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

    @admin.display(description=_("Accuracy"))
    def accuracy(self, run):
        return format_percent(run.figures.get("accuracy") if run.figures else None)

    @admin.display(description=_("Cost (USD)"))
    def cost(self, run):
        return format_money(run.figures.get("cost_usd") if run.figures else None, "USD", 6)

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
                summary=run.summary(), baseline=baseline,
                fields=[(field_label(name), value) for name, value in field_accuracy(run).items()],
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
            estimate = cost_estimate(
                evaluation_set=form.cleaned_data["evaluation_set"], template=form.cleaned_data["template"]
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
                    self.message_user(request, gettext("Started: %(run)s. It runs on the worker.") % {"run": run},
                                      messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:evaluation_experimentrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": gettext("Run a prompt version on a set"),
            "form": form, "estimate": estimate and estimate.cost_usd, "estimate_basis": estimate and estimate.basis,
            "estimated": estimate is not None,
        }
        return TemplateResponse(request, "admin/evaluation/experimentrun/start.html", context)

    def compare_with_active_view(self, request, template_id):
        """One step: choose the set (preselected when there is only one) and the budget, see what each of the
        two runs will cost, and one click starts whichever of them has no run on the set yet, then shows the
        comparison (with the runs' progress)."""
        if not request.user.has_perm(START_PERMISSION):
            raise PermissionDenied
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        candidate = get_object_or_404(PromptTemplate, pk=template_id)
        sets = EvaluationSet.objects.all()
        only = sets.first() if sets.count() == 1 else None
        chosen = request.GET.get("set") or (only and only.pk)
        form = CompareForm(request.POST if request.method == "POST" else None, initial={"evaluation_set": chosen})
        evaluation_set = max_cost_usd = None
        if form.is_bound and form.is_valid():
            evaluation_set, max_cost_usd = form.cleaned_data["evaluation_set"], form.cleaned_data["max_cost_usd"]
        elif not form.is_bound and chosen:
            evaluation_set = EvaluationSet.objects.filter(pk=chosen).first()
        if evaluation_set is not None and request.method == "POST" and "compare" in request.POST:
            try:
                runs = services.experiment_compare_with_active(
                    evaluation_set=evaluation_set, candidate=candidate, started_by=request.user,
                    max_cost_usd=max_cost_usd,
                )
            except EvaluationError as exc:
                form.add_error(None, str(exc))
            else:
                return HttpResponseRedirect(reverse(
                    "admin:evaluation_experimentrun_compare", args=[runs["baseline"].pk, runs["candidate"].pk]
                ))
        active = PromptTemplate.objects.filter(
            task_type=candidate.task_type, name=candidate.name, is_active=True
        ).first()
        problem = ""
        if active is None:
            problem = gettext("%(key)s has no active version to compare with.") % {"key": candidate.key}
        elif active.pk == candidate.pk:
            problem = gettext(
                "%(version)s is the active version; open another version to compare it with this one."
            ) % {"version": candidate}
        plan = self._comparison_plan(
            evaluation_set, active=active, candidate=candidate, max_cost_usd=max_cost_usd
        ) if evaluation_set else None
        context = {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": gettext("Compare %(version)s with the active version") % {"version": candidate},
            "form": form, "candidate": candidate, "active": active, "problem": problem, "plan": plan,
            "sets_exist": sets.exists(),
        }
        return TemplateResponse(request, "admin/evaluation/experimentrun/compare_with_active.html", context)

    def _comparison_plan(self, evaluation_set, *, active, candidate, max_cost_usd=None):
        """For each of the two versions: the run the comparison will use, or the estimate of the one it starts
        (and whether it is over the budget); the estimated total of the new runs (None when one of them cannot
        be estimated)."""
        rows, total = [], Decimal("0")
        for role, version in ((gettext("Active version"), active), (gettext("Candidate"), candidate)):
            if version is None:
                continue
            run = selectors.comparable_run(template=version, evaluation_set=evaluation_set)
            estimate = None if run else cost_estimate(evaluation_set=evaluation_set, template=version)
            if estimate is not None:
                total = None if total is None or estimate.cost_usd is None else total + estimate.cost_usd
            over_budget = bool(max_cost_usd and estimate and estimate.cost_usd and estimate.cost_usd > max_cost_usd)
            rows.append({"role": role, "version": version, "run": run, "estimate": estimate,
                         "over_budget": over_budget})
        return {"rows": rows, "total": total, "new_runs": sum(1 for row in rows if row["run"] is None)}

    def cancel_view(self, request, run_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(CANCEL_PERMISSION):
            raise PermissionDenied
        run = get_object_or_404(ExperimentRun, pk=run_id)
        try:
            services.experiment_cancel(run=run, cancelled_by=request.user)
            self.message_user(request, gettext("Cancelled: %(run)s. Its remaining cases are skipped.") % {"run": run},
                              messages.SUCCESS)
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
            # The values as an operator reads them: 46,95 € and ja, not Decimal("46.95") and True.
            (title, [(cases[case_id], [
                (field_label(name), {role: fact_display(name, value) for role, value in change.items()})
                for name, change in comparison["changes"][case_id].items()
            ])
                     for case_id in comparison[key]])
            for title, key in ((gettext("Got worse"), "regressions"), (gettext("Got better"), "improvements"))
        ]
        progress = [
            {"run": run, "role": role, "done": summary["cases"] - summary["pending"], "cases": summary["cases"]}
            for run, role, summary in ((candidate, gettext("Candidate"), comparison["candidate"]),
                                       (baseline, gettext("Baseline"), comparison["baseline"]))
            if not run.ended
        ]
        context = {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": gettext("v%(candidate)s beside v%(baseline)s on %(set)s") % {
                "candidate": candidate.template.version, "baseline": baseline.template.version,
                "set": candidate.evaluation_set},
            "baseline": baseline, "candidate": candidate, "comparison": comparison, "listed": listed,
            "progress": progress, "refresh_seconds": PROGRESS_REFRESH_SECONDS if progress else None,
            "figures": [
                (label, shown(comparison["baseline"][key], kind), shown(comparison["candidate"][key], kind),
                 shown(comparison["deltas"][key], kind, change=True))
                for key, label, kind in COMPARED_FIGURES
            ],
            "fields": [
                (field_label(name), field["baseline"], field["candidate"], shown(field["delta"], "ratio", change=True))
                for name, field in comparison["fields"].items()
            ],
        }
        return TemplateResponse(request, "admin/evaluation/experimentrun/compare.html", context)
