"""The one way the pipeline records metrics.

The collector writes with the ORM on the default database and never commits or opens a transaction
of its own: a metric recorded inside the caller's `transaction.atomic()` is rolled back with it.
Rows refer to an e-mail by its id only (`email_id=`): metrics do not depend on the app that owns e-mails.
"""

from decimal import Decimal

from django.conf import settings

from metrics.models import MetricType, OperationalMetrics, PromptPerformanceMetrics

# A confidence of at least this is "high"; below REVIEW_CONFIDENCE_THRESHOLD (manual review) is "low".
HIGH_CONFIDENCE = 0.9


def confidence_bucket(score):
    """`high`, `medium` or `low`; `low` is exactly the range that is sent to manual review."""
    if score >= HIGH_CONFIDENCE:
        return "high"
    if score >= settings.REVIEW_CONFIDENCE_THRESHOLD:
        return "medium"
    return "low"


def _exact_decimal(value):
    # str() first so a float such as 0.1 becomes Decimal("0.1"), not its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(str(value))


class MetricsCollector:
    """Records prompt-call and operational metrics; one `record_*` method per metric type."""

    def record_prompt_call(
        self,
        *,
        prompt_version,
        email_id=None,
        input_tokens,
        output_tokens,
        cost_usd,
        success,
        confidence=None,
        needs_review=False,
        execution_time_ms,
        recorded_at=None,
    ):
        """One LLM call made with `prompt_version` (cost in USD, exact)."""
        metric = PromptPerformanceMetrics(
            prompt_version=prompt_version,
            email_id=email_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=_exact_decimal(cost_usd),
            success=success,
            confidence=confidence,
            needs_review=needs_review,
            execution_time_ms=int(round(execution_time_ms)),
        )
        if recorded_at is not None:
            metric.recorded_at = recorded_at
        metric.save()
        return metric

    def record_call(self, *, model, operation, **prompt_call):
        """Everything one answered LLM call records: its prompt-call row (`prompt_call` are the arguments
        of `record_prompt_call`), its tokens per model and operation, its duration as the operation's
        processing time, its confidence, and an `unusable_answer` error when the answer could not be used.
        Returns the prompt-call row."""
        metric = self.record_prompt_call(**prompt_call)
        about = {"email_id": metric.email_id, "recorded_at": metric.recorded_at}
        tokens = metric.input_tokens + metric.output_tokens
        self.record_token_usage(model=model, operation=operation, tokens=tokens, **about)
        self.record_processing_time(stage=operation, duration_ms=prompt_call["execution_time_ms"], **about)
        if metric.confidence is not None:
            self.record_confidence(score=metric.confidence, **about)
        if not metric.success:
            self.record_error(stage=operation, error_type="unusable_answer", **about)
        return metric

    def record_queue_depth(self, *, queue, depth, recorded_at=None):
        return self._record(MetricType.QUEUE_DEPTH, depth, {"queue": queue}, recorded_at=recorded_at)

    def record_processing_time(self, *, stage, duration_ms, email_id=None, recorded_at=None):
        return self._record(
            MetricType.PROCESSING_TIME_MS, duration_ms, {"stage": stage}, email_id=email_id, recorded_at=recorded_at
        )

    def record_error(self, *, stage, error_type, email_id=None, recorded_at=None):
        # One row per error with value 1: the daily sum is the error count.
        labels = {"stage": stage, "error_type": error_type}
        return self._record(MetricType.ERROR_COUNT, 1, labels, email_id=email_id, recorded_at=recorded_at)

    def record_token_usage(self, *, model, operation, tokens, email_id=None, recorded_at=None):
        labels = {"model": model, "operation": operation}
        return self._record(MetricType.TOKEN_USAGE, tokens, labels, email_id=email_id, recorded_at=recorded_at)

    def record_confidence(self, *, score, email_id=None, recorded_at=None):
        labels = {"bucket": confidence_bucket(score)}
        return self._record(MetricType.CONFIDENCE_SCORE, score, labels, email_id=email_id, recorded_at=recorded_at)

    def _record(self, metric_type, value, labels, *, email_id=None, recorded_at=None):
        # Label values are short identifiers; cap them so labels_key always fits its column.
        labels = {key: str(value)[:100] for key, value in labels.items()}
        metric = OperationalMetrics(metric_type=metric_type, value=float(value), labels=labels, email_id=email_id)
        if recorded_at is not None:
            metric.recorded_at = recorded_at
        metric.save()
        return metric
