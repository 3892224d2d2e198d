"""Evaluation sets (reviewed e-mails with their expected answers) and experiments (a version run over a set).

The canary monitor of this app keeps its state on prompts.PromptRollout; these models are the offline half.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from evaluation import expected
from extraction.models import Intent


class EvaluationSet(models.Model):
    """A named set of reviewed e-mails that prompt versions are measured on."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class EvaluationCase(models.Model):
    """One reviewed e-mail in a set, with the review's answer as it was when the case was added.

    The snapshot is what every run of the set is scored against: a later re-review of the e-mail does not
    change the meaning of a past (or future) run of this set.
    """

    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.CASCADE, related_name="cases")
    email = models.ForeignKey(
        "extraction.IncomingEmail", on_delete=models.PROTECT, related_name="evaluation_cases",
        help_text="An e-mail cannot be deleted while a case refers to it.",
    )
    expected_intent = models.CharField(max_length=40, choices=Intent.choices)
    expected_facts = models.JSONField(
        default=dict, blank=True,
        help_text="The nine facts as reviewed (amounts as strings like \"1234.56\", dates as YYYY-MM-DD).",
    )
    review_revision = models.PositiveIntegerField(
        null=True, blank=True, help_text="The review's revision the snapshot was taken from (empty: imported)."
    )
    imported = models.BooleanField(
        default=False, help_text="The expected values came from an imported set, not from a review here."
    )
    added_by = models.CharField(max_length=150)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["evaluation_set", "id"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation_set", "email"], name="evaluation_case_once_per_set"),
        ]

    def __str__(self):
        return f"case {self.pk} ({self.email_id}) of {self.evaluation_set}"

    def expected_values(self):
        """The expected intent and facts as Python values (Decimal, date, bool, str, None)."""
        return {"intent": self.expected_intent, **expected.facts_from_json(self.expected_facts)}


class ExperimentRun(models.Model):
    """One prompt version run over one evaluation set, on the worker; its per-case results are its rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.PROTECT, related_name="runs")
    template = models.ForeignKey("prompts.PromptTemplate", on_delete=models.PROTECT, related_name="experiment_runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    started_by = models.CharField(max_length=150)
    max_cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True,
        help_text="The run stops once its calls cost this much; the cases not yet run are skipped.",
    )
    estimated_cost_usd = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    stop_reason = models.TextField(blank=True, help_text="Why the run stopped before its last case, when it did.")
    error = models.TextField(blank=True, help_text="Why the run failed, when it did.")
    figures = models.JSONField(default=dict, blank=True, help_text="The summary, kept when the run ended.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it (a stale one is resumed)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["template", "evaluation_set", "status"], name="experiment_run_lookup_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_cost_usd__isnull=True) | Q(max_cost_usd__gt=0), name="experiment_run_budget_positive"
            ),
        ]

    def __str__(self):
        return f"run {self.pk}: {self.template} on {self.evaluation_set}"

    @property
    def ended(self):
        return self.status in (self.Status.FINISHED, self.Status.FAILED, self.Status.CANCELLED)

    def summary(self):
        """The run's figures (see evaluation.figures.run_summary): kept once it ended, computed while it runs."""
        from evaluation.figures import run_summary

        if self.ended and self.figures:
            return expected.summary_from_json(self.figures)
        return run_summary(self)


class ExperimentCaseResult(models.Model):
    """What one run's version answered for one case, and how it scored; exactly one row per (run, case).

    The rows are created with the run (pending); a worker claims pending rows in chunks and writes each
    answer with a conditional UPDATE on the pending row, so no case is answered into a run twice.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        SCORED = "scored", "Scored"
        NOT_APPLICABLE = "not_applicable", "Not applicable"
        SKIPPED = "skipped", "Skipped"

    run = models.ForeignKey(ExperimentRun, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(EvaluationCase, on_delete=models.PROTECT, related_name="results")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    answered = models.JSONField(default=dict, blank=True, help_text="The version's answer, normalised (JSON).")
    correct = models.JSONField(default=dict, blank=True, help_text="Per checked field: answered as expected.")
    fields_checked = models.PositiveSmallIntegerField(default=0)
    fields_correct = models.PositiveSmallIntegerField(default=0)
    calls = models.PositiveSmallIntegerField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    latency_ms = models.FloatField(null=True, blank=True, help_text="The case's calls, end to end.")
    error = models.TextField(blank=True, help_text="Why an answer was unusable (it is scored as empty).")
    skip_reason = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "case"]
        indexes = [models.Index(fields=["run", "outcome"], name="experiment_result_outcome_idx")]
        constraints = [
            models.UniqueConstraint(fields=["run", "case"], name="experiment_result_once_per_case"),
            models.CheckConstraint(condition=Q(fields_correct__lte=models.F("fields_checked")),
                                   name="experiment_result_correct_within_checked"),
        ]

    def __str__(self):
        return f"{self.case} in run {self.run_id}: {self.get_outcome_display()}"

    @property
    def exact(self):
        """Every checked field answered as expected (None when nothing was checked)."""
        return self.fields_correct == self.fields_checked if self.fields_checked else None
