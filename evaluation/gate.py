"""The evaluation app's activation validator (for PROMPT_ACTIVATION_VALIDATORS, see prompts.gate):

    {"NAME": "evaluation.gate.ExperimentGateValidator",
     "OPTIONS": {"evaluation_set": "Reviewed November", "min_cases": 50, "max_regression_points": 1.0}}

A version may serve only after a finished experiment of it on the named set, with at least `min_cases`
scored cases and an accuracy no more than `max_regression_points` percentage points below the active
version's latest finished run on the same set. Its note in the audit names the runs that passed.
"""

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
            raise ActivationBlocked(
                f"The gate needs an experiment on the evaluation set {self.set_name!r}, which does not exist."
            )
        run = latest_finished_run(template=template, evaluation_set=evaluation_set)
        if run is None:
            raise ActivationBlocked(
                f"{template} has no finished experiment on {evaluation_set}: run it (\"compare with active\") first."
            )
        figures = run.summary()
        if figures["scored"] < self.min_cases or figures["accuracy"] is None:
            raise ActivationBlocked(
                f"Experiment run #{run.pk} of {template} scored {figures['scored']} cases on {evaluation_set}; "
                f"the gate needs at least {self.min_cases}."
            )
        passed = f"experiment run #{run.pk} on {evaluation_set}: accuracy {figures['accuracy']:.1%} over " \
                 f"{figures['scored']} cases"
        if active is None:
            return passed
        baseline = latest_finished_run(template=active, evaluation_set=evaluation_set)
        if baseline is None or baseline.summary()["accuracy"] is None:
            raise ActivationBlocked(
                f"The active {active} has no finished experiment on {evaluation_set} to compare with: "
                "run \"compare with active\" first."
            )
        points = (figures["accuracy"] - baseline.summary()["accuracy"]) * 100
        against = f"{baseline.summary()['accuracy']:.1%} of the active v{active.version} (run #{baseline.pk})"
        if points < -self.max_regression_points:
            raise ActivationBlocked(
                f"{template} answers worse than the active version on {evaluation_set}: {passed} against "
                f"{against}, {-points:.1f} points lower (the gate allows {self.max_regression_points:g})."
            )
        return f"{passed}, against {against}"
