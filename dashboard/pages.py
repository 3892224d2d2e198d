"""What each operator page shows, put together from the selectors (queries), the figures and the charts."""

from dashboard import charts, selectors
from dashboard.figures import AccuracyFigures, RangeFigures, operation_day_totals


def prompt_performance(*, task_type, name, day_range):
    """The performance page of one prompt: charts per version, the versions compared, the empty state."""
    versions = selectors.prompt_versions(task_type=task_type, name=name)
    figures = selectors.prompt_day_figures(versions=versions, day_range=day_range)
    accuracy = selectors.prompt_day_accuracy(versions=versions, day_range=day_range)
    chart_data = charts.performance_chart_data(
        versions=versions, figures=figures, day_range=day_range, accuracy=accuracy,
        activations=selectors.activations_in_range(task_type=task_type, name=name, day_range=day_range),
        rollouts=selectors.rollouts_in_range(task_type=task_type, name=name, day_range=day_range),
    )
    has_data = any(figures.values())
    return {
        "versions": versions,
        "active_version": next((v for v in versions if v.is_active), None),
        "chart_data": chart_data,
        "chart_tables": charts.chart_tables(chart_data),
        "comparison": [
            {
                "version": version, "figures": RangeFigures(days=list(figures.get(version.pk, {}).values())),
                "accuracy": sum(accuracy.get(version.pk, {}).values(), AccuracyFigures()),
            }
            for version in versions
        ],
        "has_data": has_data,
        "last_day_with_data": None if has_data else selectors.last_prompt_day_with_data(versions=versions),
    }


def operations(*, day_range):
    """The operations page: queue depth, processing-time p95, errors and tokens per day, charted and totalled."""
    rows = selectors.operational_day_rows(day_range=day_range)
    chart_data = charts.operations_chart_data(rows=rows, day_range=day_range)
    return {
        "chart_data": chart_data,
        "chart_tables": charts.chart_tables(chart_data),
        "totals": operation_day_totals(rows=rows, dates=day_range.dates),
        "has_data": bool(rows),
        "last_day_with_data": None if rows else selectors.last_operational_day_with_data(),
    }
