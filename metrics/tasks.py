"""django-q2 entry points. Thin on purpose: each calls one service; all are safe to run twice."""

from metrics import services
from metrics.models import RollupDay


def nightly_prompt_metrics():
    """01:00: roll up missing and recent days of prompt metrics, then clean expired raw rows."""
    result = services.run_nightly_metrics(kind=RollupDay.Kind.PROMPT)
    return {"rolled_up_days": [str(day) for day in result.rolled_up_days], "deleted_rows": result.deleted_rows}


def nightly_operational_metrics():
    """01:30: the same for operational metrics."""
    result = services.run_nightly_metrics(kind=RollupDay.Kind.OPERATIONAL)
    return {"rolled_up_days": [str(day) for day in result.rolled_up_days], "deleted_rows": result.deleted_rows}


def sample_queue_depth():
    """Every minute: e-mails waiting and the django-q2 queue size."""
    return [metric.value for metric in services.record_queue_depths()]
