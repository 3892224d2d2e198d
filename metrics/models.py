"""Per-call prompt metrics, operational metrics, their daily rollups and the rollup ledger.

Raw rows are kept for METRICS_RAW_RETENTION_DAYS; daily rows are kept forever. A raw row is only
ever deleted for a day that `RollupDay` says is rolled up, so nothing is lost to retention.
Metrics import only `prompts`: the apps above (extraction, dashboard) write and read them.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.days import day_bounds
from metrics.ratios import CallRatios
from prompts.models import PromptTemplate

# Metrics are a leaf app: they keep the id of the e-mail a row was recorded for, not a foreign key to
# it, so `metrics` never depends on the app that owns e-mails (extraction reads metrics by this id).
LOCAL_DAY_HELP = _("Local calendar day (TIME_ZONE).")
P95_HELP = _("95th percentile, linear interpolation.")
EMAIL_ID_HELP = _("Id of the e-mail the row was recorded for (a plain id: metrics does not depend on e-mails).")


class PromptPerformanceMetrics(models.Model):
    """One LLM call made with a prompt version: tokens, cost, outcome, latency. Raw, 30-day retention."""

    prompt_version = models.ForeignKey(
        PromptTemplate,
        on_delete=models.PROTECT,
        related_name="performance_metrics",
        verbose_name=_("prompt version"),
        # The composite (prompt_version, recorded_at) index below serves every lookup by version.
        db_index=False,
    )
    email_id = models.BigIntegerField(
        _("e-mail id"), null=True, blank=True, db_index=True, help_text=EMAIL_ID_HELP
    )
    input_tokens = models.PositiveIntegerField(_("input tokens"))
    output_tokens = models.PositiveIntegerField(_("output tokens"))
    cost_usd = models.DecimalField(
        _("cost (USD)"), max_digits=16, decimal_places=8, help_text=_("Exact cost of the call in USD.")
    )
    success = models.BooleanField(_("success"))
    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    needs_review = models.BooleanField(_("needs review"), default=False)
    execution_time_ms = models.PositiveIntegerField(_("latency (ms)"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("prompt call metric")
        verbose_name_plural = _("prompt call metrics (raw)")
        indexes = [
            # Admin filter by version, newest first; also the PROTECT lookup on version delete.
            models.Index(fields=["prompt_version", "recorded_at"], name="metrics_ppm_version_time_idx"),
        ]

    def __str__(self):
        return f"{self.prompt_version_id} @ {self.recorded_at:%Y-%m-%d %H:%M:%S}"


class PromptPerformanceDaily(CallRatios, models.Model):
    """Per (prompt version, local Europe/Berlin day) rollup of PromptPerformanceMetrics. Kept forever."""

    prompt_version = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="daily_performance", verbose_name=_("prompt version")
    )
    date = models.DateField(_("date"), help_text=LOCAL_DAY_HELP)
    call_count = models.PositiveIntegerField(_("calls"))
    success_count = models.PositiveIntegerField(_("successes"))
    review_count = models.PositiveIntegerField(_("manual reviews"))
    total_input_tokens = models.BigIntegerField(_("input tokens"))
    total_output_tokens = models.BigIntegerField(_("output tokens"))
    total_cost_usd = models.DecimalField(_("total cost (USD)"), max_digits=20, decimal_places=8)
    avg_confidence = models.FloatField(
        _("average confidence"), null=True, blank=True, help_text=_("Over calls that reported a confidence.")
    )
    avg_execution_time_ms = models.FloatField(_("average latency (ms)"))
    p95_execution_time_ms = models.FloatField(_("p95 latency (ms)"), help_text=P95_HELP)
    rolled_up_at = models.DateTimeField(_("rolled up at"), default=timezone.now)

    class Meta:
        verbose_name = _("prompt performance (daily)")
        verbose_name_plural = _("prompt performance (daily)")
        constraints = [
            models.UniqueConstraint(fields=["prompt_version", "date"], name="metrics_ppd_version_date_unique"),
        ]
        indexes = [models.Index(fields=["date"], name="metrics_ppd_date_idx")]

    def __str__(self):
        return f"{self.prompt_version_id} on {self.date}"


class PromptAccuracyMetrics(models.Model):
    """How one review scored one prompt version that contributed to the reviewed e-mail. Raw, 30-day retention.

    Written only by metrics.services.accuracy_replace: a re-review replaces its review's rows.
    """

    prompt_version = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="accuracy_metrics", db_index=False,
        verbose_name=_("prompt version"),
    )
    review_id = models.BigIntegerField(
        _("review id"), db_index=True, help_text=_("Id of the e-mail review (a plain id, like email_id).")
    )
    email_id = models.BigIntegerField(_("e-mail id"), null=True, blank=True, help_text=EMAIL_ID_HELP)
    fields_checked = models.PositiveIntegerField(_("facts checked"))
    fields_correct = models.PositiveIntegerField(_("facts correct"))
    intent_checked = models.PositiveIntegerField(_("intents checked"))
    intent_correct = models.PositiveIntegerField(_("intents correct"))
    recorded_at = models.DateTimeField(
        _("recorded at"), default=timezone.now, db_index=True, help_text=_("When the review was saved.")
    )

    class Meta:
        verbose_name = _("prompt accuracy metric")
        verbose_name_plural = _("prompt accuracy metrics (raw)")
        indexes = [models.Index(fields=["prompt_version", "recorded_at"], name="metrics_pam_version_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fields_correct__lte=models.F("fields_checked"))
                & models.Q(intent_correct__lte=models.F("intent_checked")),
                name="metrics_pam_correct_within_checked",
            ),
        ]

    def __str__(self):
        return f"{self.prompt_version_id} review {self.review_id}"


class PromptAccuracyDaily(models.Model):
    """Per (prompt version, local day of the review) rollup of PromptAccuracyMetrics. Kept forever.

    A table of its own rather than columns on PromptPerformanceDaily: its days are the reviews' days, not
    the calls', and its rollup owns whole rows (the upsert and the removal of stale rows are per table).
    """

    prompt_version = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="daily_accuracy", verbose_name=_("prompt version")
    )
    date = models.DateField(_("date"), help_text=_("Local calendar day (TIME_ZONE) of the reviews."))
    review_count = models.PositiveIntegerField(_("reviews"))
    fields_checked = models.PositiveIntegerField(_("facts checked"))
    fields_correct = models.PositiveIntegerField(_("facts correct"))
    intent_checked = models.PositiveIntegerField(_("intents checked"))
    intent_correct = models.PositiveIntegerField(_("intents correct"))
    rolled_up_at = models.DateTimeField(_("rolled up at"), default=timezone.now)

    class Meta:
        verbose_name = _("prompt accuracy (daily)")
        verbose_name_plural = _("prompt accuracy (daily)")
        constraints = [
            models.UniqueConstraint(fields=["prompt_version", "date"], name="metrics_pad_version_date_unique"),
        ]
        indexes = [models.Index(fields=["date"], name="metrics_pad_date_idx")]

    def __str__(self):
        return f"{self.prompt_version_id} on {self.date}"


class MetricType(models.TextChoices):
    QUEUE_DEPTH = "queue_depth", _("Queue depth")
    PROCESSING_TIME_MS = "processing_time_ms", _("Processing time (ms)")
    ERROR_COUNT = "error_count", _("Error count")
    TOKEN_USAGE = "token_usage", _("Token usage")
    CONFIDENCE_SCORE = "confidence_score", _("Confidence score")


def canonical_labels_key(labels):
    """The grouping key of a labels dict: sorted `k=v` pairs joined by commas, e.g. `model=x,operation=y`."""
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels or {}))


def parse_labels_key(labels_key):
    """A labels key back into its labels dict (values as the collector stored them: short strings)."""
    return dict(pair.split("=", 1) for pair in labels_key.split(",") if "=" in pair)


class OperationalMetrics(models.Model):
    """One operational sample (queue depth, stage duration, an error, tokens, a confidence). Raw, 30 days."""

    Type = MetricType

    metric_type = models.CharField(_("metric"), max_length=30, choices=MetricType.choices)
    value = models.FloatField(_("value"))
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    labels_key = models.CharField(
        _("labels key"), max_length=255, blank=True, editable=False,
        help_text=_("Canonical form of labels; the rollup groups by it."),
    )
    email_id = models.BigIntegerField(
        _("e-mail id"), null=True, blank=True, db_index=True, help_text=EMAIL_ID_HELP
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("operational metric")
        verbose_name_plural = _("operational metrics (raw)")
        indexes = [
            models.Index(fields=["metric_type", "recorded_at"], name="metrics_om_type_time_idx"),
        ]

    def __str__(self):
        return f"{self.metric_type}{{{self.labels_key}}} = {self.value:g}"

    def save(self, *args, **kwargs):
        # Derived on every save so the rollup's GROUP BY never disagrees with the labels.
        self.labels_key = canonical_labels_key(self.labels)
        super().save(*args, **kwargs)


class OperationalMetricsDaily(models.Model):
    """Per (metric type, local day, labels) rollup of OperationalMetrics. Kept forever."""

    metric_type = models.CharField(_("metric"), max_length=30, choices=MetricType.choices)
    date = models.DateField(_("date"), help_text=LOCAL_DAY_HELP)
    labels_key = models.CharField(_("labels key"), max_length=255, blank=True)
    sample_count = models.PositiveIntegerField(_("samples"))
    sum_value = models.FloatField(_("sum"))
    avg_value = models.FloatField(_("average"))
    min_value = models.FloatField(_("minimum"))
    max_value = models.FloatField(_("maximum"))
    p95_value = models.FloatField(_("95th percentile"), help_text=P95_HELP)
    rolled_up_at = models.DateTimeField(_("rolled up at"), default=timezone.now)

    class Meta:
        verbose_name = _("operational metric (daily)")
        verbose_name_plural = _("operational metrics (daily)")
        constraints = [
            models.UniqueConstraint(
                fields=["metric_type", "date", "labels_key"], name="metrics_omd_type_date_labels_unique"
            ),
        ]
        indexes = [models.Index(fields=["date"], name="metrics_omd_date_idx")]

    def __str__(self):
        return f"{self.metric_type}{{{self.labels_key}}} on {self.date}"


class RollupDay(models.Model):
    """Ledger: a local day of one raw table is rolled up (and later, its raw rows cleaned).

    Retention deletes raw rows only for days listed here, so a day that was never rolled up
    (the worker was down) keeps its raw rows until the catch-up has rolled it up.
    """

    class Kind(models.TextChoices):
        PROMPT = "prompt", _("Prompt performance")
        OPERATIONAL = "operational", _("Operational")
        ACCURACY = "accuracy", _("Prompt accuracy")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    day = models.DateField(_("day"))
    rolled_up_at = models.DateTimeField(_("rolled up at"), help_text=_("When the day was last aggregated."))
    source_rows = models.PositiveIntegerField(_("raw rows read"), help_text=_("Raw rows the last aggregation read."))
    source_max_id = models.BigIntegerField(
        _("highest raw id read"), null=True, blank=True,
        help_text=_("Highest raw id the last aggregation read; cleanup deletes none above it."),
    )
    deleted_rows = models.PositiveIntegerField(
        _("raw rows deleted"), default=0, help_text=_("Raw rows of the day deleted so far.")
    )
    cleaned_at = models.DateTimeField(
        _("cleaned at"), null=True, blank=True, help_text=_("When its raw rows were all deleted.")
    )

    class Meta:
        verbose_name = _("rollup day")
        verbose_name_plural = _("rollup days")
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="metrics_rollupday_kind_day_unique")]

    def __str__(self):
        return f"{self.kind} {self.day}"

    @property
    def is_final(self):
        """Once cleanup has deleted any raw row of the day, its daily rows can no longer be recomputed."""
        return self.cleaned_at is not None or self.deleted_rows > 0

    def was_complete_when_rolled_up(self):
        """False when the rollup ran before the day was over (e.g. a manual run for today)."""
        return self.rolled_up_at >= day_bounds(self.day)[1]
