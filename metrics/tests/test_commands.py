"""rollup_metrics and cleanup_metrics: the nightly services by hand, with a summary line."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from metrics.models import PromptPerformanceDaily, PromptPerformanceMetrics, RollupDay
from metrics.tests.helpers import calls_per_day, days_before, make_version

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_rollup_metrics_rolls_up_one_date():
    version = make_version()
    calls_per_day(version, [date(2026, 3, 29)], per_day=4)
    output = run("rollup_metrics", "--date", "2026-03-29", "--kind", "prompt")
    assert PromptPerformanceDaily.objects.get().call_count == 4
    assert output.strip() == "Rolled up prompt: 1 day(s), 1 daily row(s)."


def test_rollup_metrics_backfills_a_range_for_both_tables():
    version = make_version()
    calls_per_day(version, [date(2026, 10, 24), date(2026, 10, 26)])
    output = run("rollup_metrics", "--from", "2026-10-24", "--to", "2026-10-26")
    assert sorted(PromptPerformanceDaily.objects.values_list("date", flat=True)) == [date(2026, 10, 24),
                                                                                   date(2026, 10, 26)]
    assert RollupDay.objects.filter(kind="operational").count() == 3
    assert "prompt: 3 day(s), 2 daily row(s); operational: 3 day(s), 0 daily row(s); accuracy: 3 day(s)" in output


def test_rollup_metrics_without_dates_catches_up_every_missing_day():
    version = make_version()
    days = days_before(timezone.localdate(), 12)
    calls_per_day(version, days, per_day=1)
    run("rollup_metrics", "--kind", "prompt")
    assert PromptPerformanceDaily.objects.count() == 12


def test_rollup_metrics_skips_days_that_were_already_cleaned():
    version = make_version()
    day = date(2026, 1, 5)
    calls_per_day(version, [day])
    run("rollup_metrics", "--date", str(day), "--kind", "prompt")
    RollupDay.objects.update(deleted_rows=1)
    output = run("rollup_metrics", "--date", str(day), "--kind", "prompt")
    assert "1 cleaned day(s) skipped" in output


@pytest.mark.parametrize(
    "args",
    [("--date", "2026-01-01", "--from", "2026-01-01", "--to", "2026-01-02"), ("--from", "2026-01-01"),
     ("--from", "2026-01-03", "--to", "2026-01-02")],
)
def test_rollup_metrics_refuses_inconsistent_dates(args):
    with pytest.raises(CommandError):
        run("rollup_metrics", *args)


def test_cleanup_metrics_dry_run_counts_and_deletes_nothing():
    version = make_version()
    day = timezone.localdate() - timedelta(days=45)
    calls_per_day(version, [day], per_day=5)
    run("rollup_metrics", "--date", str(day))
    output = run("cleanup_metrics", "--dry-run")
    assert output.startswith("Would delete 5 prompt, 0 operational and 0 accuracy raw row(s)")
    assert PromptPerformanceMetrics.objects.count() == 5
    output = run("cleanup_metrics")
    assert output.startswith("Deleted 5 prompt, 0 operational and 0 accuracy raw row(s)")
    assert PromptPerformanceMetrics.objects.count() == 0
