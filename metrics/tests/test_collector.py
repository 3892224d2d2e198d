"""MetricsCollector: one record_* method per metric type, exact cost, no commit of its own."""

from decimal import Decimal

import pytest
from django.db import transaction

from metrics.collector import MetricsCollector
from metrics.models import OperationalMetrics, PromptPerformanceMetrics
from metrics.tests.helpers import make_version

pytestmark = pytest.mark.django_db


def test_a_prompt_call_keeps_its_cost_as_an_exact_decimal():
    version = make_version()
    MetricsCollector().record_prompt_call(
        prompt_version=version, input_tokens=1200, output_tokens=300, cost_usd=0.0000123,
        success=True, execution_time_ms=812.6,
    )
    stored = PromptPerformanceMetrics.objects.get()
    assert stored.cost_usd == Decimal("0.00001230")
    assert (stored.execution_time_ms, stored.needs_review, stored.confidence) == (813, False, None)


def test_each_operational_method_records_its_type_and_labels():
    collector = MetricsCollector()
    collector.record_queue_depth(queue="emails_waiting", depth=7)
    collector.record_processing_time(stage="extraction", duration_ms=1530)
    collector.record_error(stage="classification", error_type="RateLimitError")
    collector.record_token_usage(model="claude-sonnet-4-6", operation="extraction", tokens=2048)
    collector.record_confidence(score=0.42)
    stored = list(OperationalMetrics.objects.order_by("pk").values_list("metric_type", "value", "labels_key"))
    assert stored == [
        ("queue_depth", 7.0, "queue=emails_waiting"),
        ("processing_time_ms", 1530.0, "stage=extraction"),
        ("error_count", 1.0, "error_type=RateLimitError,stage=classification"),
        ("token_usage", 2048.0, "model=claude-sonnet-4-6,operation=extraction"),
        ("confidence_score", 0.42, "bucket=low"),
    ]


@pytest.mark.parametrize(
    ("success", "confidence", "samples"),
    [
        (True, 0.93, [
            ("token_usage", 1250.0, "model=claude-haiku-4-5,operation=classify"),
            ("processing_time_ms", 840.0, "stage=classify"),
            ("confidence_score", 0.93, "bucket=high"),
        ]),
        (False, None, [
            ("token_usage", 1250.0, "model=claude-haiku-4-5,operation=classify"),
            ("processing_time_ms", 840.0, "stage=classify"),
            ("error_count", 1.0, "error_type=unusable_answer,stage=classify"),
        ]),
    ],
)
def test_a_call_records_its_prompt_row_and_its_operational_samples_for_the_email(success, confidence, samples):
    call = MetricsCollector().record_call(
        prompt_version=make_version(), model="claude-haiku-4-5", operation="classify", email_id=42,
        input_tokens=1200, output_tokens=50, cost_usd=Decimal("0.00145"), success=success, confidence=confidence,
        needs_review=not success, execution_time_ms=840,
    )
    assert (call.email_id, call.success, call.confidence, call.needs_review) == (42, success, confidence, not success)
    stored = OperationalMetrics.objects.order_by("pk")
    assert list(stored.values_list("metric_type", "value", "labels_key")) == samples
    assert set(stored.values_list("email_id", flat=True)) == {42}


@pytest.mark.parametrize(("score", "bucket"), [(0.95, "high"), (0.9, "high"), (0.75, "medium"), (0.69, "low")])
def test_confidence_bucket_follows_the_review_threshold(score, bucket):
    assert MetricsCollector().record_confidence(score=score).labels == {"bucket": bucket}


def test_labels_key_is_recomputed_from_labels_on_every_save():
    metric = OperationalMetrics.objects.create(metric_type="queue_depth", value=1, labels={"b": "2", "a": "1"})
    assert metric.labels_key == "a=1,b=2"
    metric.labels = {"queue": "x"}
    metric.save()
    assert OperationalMetrics.objects.get().labels_key == "queue=x"


def test_metrics_roll_back_with_the_callers_transaction():
    version = make_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        MetricsCollector().record_prompt_call(
            prompt_version=version, input_tokens=1, output_tokens=1, cost_usd="0.1", success=False,
            execution_time_ms=5,
        )
        MetricsCollector().record_error(stage="extraction", error_type="Boom")
        raise RuntimeError("the caller fails after recording")
    assert not PromptPerformanceMetrics.objects.exists()
    assert not OperationalMetrics.objects.exists()
