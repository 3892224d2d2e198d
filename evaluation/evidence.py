"""The evidence on a version's activation pages (PROMPT_ACTIVATION_EVIDENCE): its latest experiment beside the
active version's run on the same set, and both versions' accuracy on the operators' reviews of the last 30 days."""

from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from evaluation.models import ExperimentRun
from evaluation.selectors import latest_finished_run
from metrics.days import local_day
from metrics.selectors import prompt_accuracy

ACCURACY_DAYS = 30


def activation_evidence(*, template, active):
    """The fragment for activating `template` in place of `active` (None when nothing serves yet)."""
    today = local_day(timezone.now())
    start = today - timedelta(days=ACCURACY_DAYS - 1)
    versions = [template] if active is None or active == template else [template, active]
    return render_to_string("admin/evaluation/activation_evidence.html", {
        "template": template,
        "active": active,
        "experiment": latest_experiment(template=template, active=active),
        "accuracy": [(version, prompt_accuracy(template=version, start=start, end=today)) for version in versions],
        "accuracy_days": ACCURACY_DAYS,
    })


def latest_experiment(*, template, active):
    """{"run", "summary", "baseline", "baseline_summary", "delta"} of `template`'s latest finished run, the
    baseline being the active version's latest finished run on the same set (None when it has none); None when
    `template` never finished a run."""
    run = (
        ExperimentRun.objects.filter(template=template, status=ExperimentRun.Status.FINISHED)
        .select_related("evaluation_set").order_by("-finished_at", "-pk").first()
    )
    if run is None:
        return None
    baseline = None
    if active is not None and active != template:
        baseline = latest_finished_run(template=active, evaluation_set=run.evaluation_set)
    summary = run.summary()
    baseline_summary = baseline.summary() if baseline is not None else None
    delta = None
    if baseline_summary and summary["accuracy"] is not None and baseline_summary["accuracy"] is not None:
        delta = summary["accuracy"] - baseline_summary["accuracy"]
    return {"run": run, "summary": summary, "baseline": baseline, "baseline_summary": baseline_summary,
            "delta": delta}
