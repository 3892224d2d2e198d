"""The evaluation app's activation validator (for PROMPT_ACTIVATION_VALIDATORS, see prompts.gate):

    {"NAME": "evaluation.gate.ExperimentGateValidator",
     "OPTIONS": {"evaluation_set": "Reviewed November", "min_cases": 50, "max_regression_points": 1.0}}

A version may serve only after a finished experiment of it on the named set, with at least `min_cases`
scored cases and an accuracy no more than `max_regression_points` percentage points below the active
version's latest finished run on the same set. Its note in the audit names the runs that passed.
"""

from decimal import Decimal

from django.utils.translation import gettext

from config.formatting import format_number, format_percent
from evaluation.models import EvaluationSet
from evaluation.selectors import latest_finished_run
from extraction.answering import PROMPT_KEYS
from prompts.errors import ActivationBlocked


class ExperimentGateValidator:
    def __init__(self, evaluation_set, min_cases=20, max_regression_points=1.0):
        if int(min_cases) < 1 or float(max_regression_points) < 0:
            raise TypeError("min_cases must be at least 1 and max_regression_points not negative")
        self.set_name = evaluation_set
        self.min_cases = int(min_cases)
        self.max_regression_points = float(max_regression_points)

    def validate(self, *, template, active):
        if (template.task_type, template.name) not in PROMPT_KEYS:
            return None  # no experiment can measure it
        evaluation_set = EvaluationSet.objects.filter(name=self.set_name).first()
        if evaluation_set is None:
            raise ActivationBlocked(gettext(
                "The gate needs an experiment on the evaluation set “%(set)s”, which does not exist."
            ) % {"set": self.set_name})
        run = latest_finished_run(template=template, evaluation_set=evaluation_set)
        if run is None:
            raise ActivationBlocked(gettext(
                "%(version)s has no finished experiment on %(set)s: run it (“compare with active”) first."
            ) % {"version": template, "set": evaluation_set})
        figures = run.summary()
        if figures["scored"] < self.min_cases or figures["accuracy"] is None:
            raise ActivationBlocked(gettext(
                "Experiment run #%(run)s of %(version)s scored %(scored)s cases on %(set)s; "
                "the gate needs at least %(min_cases)s."
            ) % {"run": run.pk, "version": template, "scored": figures["scored"], "set": evaluation_set,
                 "min_cases": self.min_cases})
        values = {"run": run.pk, "set": evaluation_set, "accuracy": format_percent(figures["accuracy"]),
                  "scored": figures["scored"], "version": template}
        if active is None:
            return gettext("experiment run #%(run)s on %(set)s: accuracy %(accuracy)s over %(scored)s cases") % values
        baseline = latest_finished_run(template=active, evaluation_set=evaluation_set)
        if baseline is None or baseline.summary()["accuracy"] is None:
            raise ActivationBlocked(gettext(
                "The active %(version)s has no finished experiment on %(set)s to compare with: "
                "run “compare with active” first."
            ) % {"version": active, "set": evaluation_set})
        points = (figures["accuracy"] - baseline.summary()["accuracy"]) * 100
        values.update(baseline_accuracy=format_percent(baseline.summary()["accuracy"]), active=active.version,
                      baseline_run=baseline.pk, points=format_number(-points, 1),
                      allowed=format_number(Decimal(f"{self.max_regression_points:g}")))
        if points < -self.max_regression_points:
            raise ActivationBlocked(gettext(
                "%(version)s answers worse than the active version on %(set)s: experiment run #%(run)s: accuracy "
                "%(accuracy)s over %(scored)s cases against %(baseline_accuracy)s of the active v%(active)s "
                "(run #%(baseline_run)s), %(points)s points lower (the gate allows %(allowed)s)."
            ) % values)
        return gettext(
            "experiment run #%(run)s on %(set)s: accuracy %(accuracy)s over %(scored)s cases, against "
            "%(baseline_accuracy)s of the active v%(active)s (run #%(baseline_run)s)"
        ) % values
