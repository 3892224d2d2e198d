"""django-q2 entry points. Thin on purpose: each calls one service; all are safe to run twice."""

from metrics import services
from metrics.models import RollupDay


def nightly_prompt_metrics():
    """01:00: roll up missing and recent days of prompt metrics, then clean expired raw rows; then the same
    for the prompt versions' review accuracy."""
    return {**_nightly(RollupDay.Kind.PROMPT), "accuracy": _nightly(RollupDay.Kind.ACCURACY)}


def nightly_operational_metrics():
    """01:30: the same for operational metrics."""
    return _nightly(RollupDay.Kind.OPERATIONAL)


def _nightly(kind):
    result = services.run_nightly_metrics(kind=kind)
    return {"rolled_up_days": [str(day) for day in result.rolled_up_days], "deleted_rows": result.deleted_rows}
