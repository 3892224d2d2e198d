"""Evaluation sets (reviewed e-mails with their expected answers) and experiments (a version run over a set).

The canary monitor of this app keeps its state on prompts.PromptRollout; these models are the offline half.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from evaluation import expected
from extraction.models import Intent


class EvaluationSet(models.Model):
    """A named set of reviewed e-mails that prompt versions are measured on."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("evaluation set")
        verbose_name_plural = _("evaluation sets")

    def __str__(self):
        return self.name


class EvaluationCase(models.Model):
    """One reviewed e-mail in a set, with the review's answer as it was when the case was added.

    The snapshot is what every run of the set is scored against: a later re-review of the e-mail does not
    change the meaning of a past (or future) run of this set.
    """

    evaluation_set = models.ForeignKey(
        EvaluationSet, on_delete=models.CASCADE, related_name="cases", verbose_name=_("evaluation set")
    )
    email = models.ForeignKey(
        "extraction.IncomingEmail", on_delete=models.PROTECT, related_name="evaluation_cases",
        verbose_name=_("e-mail"), help_text=_("An e-mail cannot be deleted while a case refers to it."),
    )
    expected_intent = models.CharField(_("expected intent"), max_length=40, choices=Intent.choices)
    expected_facts = models.JSONField(
        _("expected facts"), default=dict, blank=True,
        help_text=_("The nine facts as reviewed (amounts as strings like \"1234.56\", dates as YYYY-MM-DD)."),
    )
    review_revision = models.PositiveIntegerField(
        _("review revision"), null=True, blank=True,
        help_text=_("The review's revision the snapshot was taken from (empty: imported)."),
    )
    imported = models.BooleanField(
        _("imported"), default=False,
        help_text=_("The expected values came from an imported set, not from a review here."),
    )
    added_by = models.CharField(_("added by"), max_length=150)
    added_at = models.DateTimeField(_("added at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["evaluation_set", "id"]
        verbose_name = _("evaluation case")
        verbose_name_plural = _("evaluation cases")
        constraints = [
            models.UniqueConstraint(fields=["evaluation_set", "email"], name="evaluation_case_once_per_set"),
        ]

    def __str__(self):
        return gettext("case %(pk)s (e-mail %(email)s) of %(set)s") % {
            "pk": self.pk, "email": self.email_id, "set": self.evaluation_set}

    def expected_values(self):
        """The expected intent and facts as Python values (Decimal, date, bool, str, None)."""
        return {"intent": self.expected_intent, **expected.facts_from_json(self.expected_facts)}


class ExperimentRun(models.Model):
    """One prompt version run over one evaluation set, on the worker; its per-case results are its rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    evaluation_set = models.ForeignKey(
        EvaluationSet, on_delete=models.PROTECT, related_name="runs", verbose_name=_("evaluation set")
    )
    template = models.ForeignKey(
        "prompts.PromptTemplate", on_delete=models.PROTECT, related_name="experiment_runs",
        verbose_name=_("prompt version"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    started_by = models.CharField(_("started by"), max_length=150)
    max_cost_usd = models.DecimalField(
        _("budget (USD)"), max_digits=14, decimal_places=8, null=True, blank=True,
        help_text=_("The run stops once its calls cost this much; the cases not yet run are skipped."),
    )
    estimated_cost_usd = models.DecimalField(
        _("estimated cost (USD)"), max_digits=14, decimal_places=8, null=True, blank=True
    )
    stop_reason = models.TextField(
        _("stop reason"), blank=True, help_text=_("Why the run stopped before its last case, when it did.")
    )
    error = models.TextField(_("error"), blank=True, help_text=_("Why the run failed, when it did."))
    figures = models.JSONField(
        _("figures"), default=dict, blank=True, help_text=_("The summary, kept when the run ended.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("heartbeat at"), null=True, blank=True,
        help_text=_("Last sign of life of the worker running it (a stale one is resumed)."),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("experiment run")
        verbose_name_plural = _("experiment runs")
        indexes = [models.Index(fields=["template", "evaluation_set", "status"], name="experiment_run_lookup_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_cost_usd__isnull=True) | Q(max_cost_usd__gt=0), name="experiment_run_budget_positive"
            ),
        ]

    def __str__(self):
        return gettext("run %(pk)s: %(version)s on %(set)s") % {
            "pk": self.pk, "version": self.template, "set": self.evaluation_set}

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
        PENDING = "pending", _("Pending")
        SCORED = "scored", _("Scored")
        NOT_APPLICABLE = "not_applicable", _("Not applicable")
        SKIPPED = "skipped", _("Skipped")

    run = models.ForeignKey(ExperimentRun, on_delete=models.CASCADE, related_name="results", verbose_name=_("run"))
    case = models.ForeignKey(
        EvaluationCase, on_delete=models.PROTECT, related_name="results", verbose_name=_("case")
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim_token = models.CharField(_("claim token"), max_length=32, blank=True)
    answered = models.JSONField(
        _("answered"), default=dict, blank=True, help_text=_("The version's answer, normalised (JSON).")
    )
    correct = models.JSONField(
        _("correct"), default=dict, blank=True, help_text=_("Per checked field: answered as expected.")
    )
    fields_checked = models.PositiveSmallIntegerField(_("fields checked"), default=0)
    fields_correct = models.PositiveSmallIntegerField(_("fields correct"), default=0)
    calls = models.PositiveSmallIntegerField(_("calls"), default=0)
    input_tokens = models.PositiveIntegerField(_("input tokens"), default=0)
    output_tokens = models.PositiveIntegerField(_("output tokens"), default=0)
    cost_usd = models.DecimalField(_("cost (USD)"), max_digits=14, decimal_places=8, default=0)
    latency_ms = models.FloatField(
        _("latency (ms)"), null=True, blank=True, help_text=_("The case's calls, end to end.")
    )
    error = models.TextField(_("error"), blank=True, help_text=_("Why an answer was unusable (it is scored as empty)."))
    skip_reason = models.TextField(_("skip reason"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["run", "case"]
        verbose_name = _("experiment case result")
        verbose_name_plural = _("experiment case results")
        indexes = [models.Index(fields=["run", "outcome"], name="experiment_result_outcome_idx")]
        constraints = [
            models.UniqueConstraint(fields=["run", "case"], name="experiment_result_once_per_case"),
            models.CheckConstraint(condition=Q(fields_correct__lte=models.F("fields_checked")),
                                   name="experiment_result_correct_within_checked"),
        ]

    def __str__(self):
        return gettext("%(case)s in run %(run)s: %(outcome)s") % {
            "case": self.case, "run": self.run_id, "outcome": self.get_outcome_display()}

    @property
    def exact(self):
        """Every checked field answered as expected (None when nothing was checked)."""
        return self.fields_correct == self.fields_checked if self.fields_checked else None
