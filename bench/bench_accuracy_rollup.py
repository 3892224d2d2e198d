"""The accuracy rollup's extra time on the nightly run: 1M prompt-call rows and 100k reviews in one day.

PostgreSQL. The nightly job rolls up the prompt calls (metrics.tasks.nightly_prompt_metrics) and then the
reviews' accuracy rows; each half is `run_nightly_metrics(kind=...)` (catch-up, rollup, cleanup check).
100k reviews are 300k raw accuracy rows (classification, body and PDF version of each review). Target: the
accuracy half takes ≤ 20 % of the prompt half. Medians of REPEAT runs, alternating.
"""

import statistics
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench.bench_metrics_rollup import insert_postgres_rows, make_versions, timed

DATABASES = ("postgresql",)
CALLS = 1_000_000
REVIEWS = 100_000
VERSIONS_PER_REVIEW = 3
REPEAT = 3


def insert_accuracy_rows(version_ids, *, reviews, start, end):
    """`reviews` reviews evenly spread over [start, end), each scoring VERSIONS_PER_REVIEW versions."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            """
            INSERT INTO metrics_promptaccuracymetrics (prompt_version_id, review_id, email_id, fields_checked,
                fields_correct, intent_checked, intent_correct, recorded_at)
            SELECT (%(versions)s::bigint[])[1 + (r * %(per)s + v) %% %(n)s], r, r,
                   CASE WHEN v = 0 THEN 0 ELSE 9 END, CASE WHEN v = 0 THEN 0 ELSE 9 - (random() * 2)::int END,
                   CASE WHEN v = 0 THEN 1 ELSE 0 END, CASE WHEN v = 0 AND random() < 0.9 THEN 1 ELSE 0 END,
                   %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) * (r::float8 / %(reviews)s)
            FROM generate_series(0, %(reviews)s - 1) AS r, generate_series(0, %(per)s - 1) AS v
            """,
            {"versions": version_ids, "n": len(version_ids), "per": VERSIONS_PER_REVIEW, "reviews": reviews,
             "start": start, "end": end},
        )
        cursor.execute("VACUUM ANALYZE metrics_promptaccuracymetrics")


def main():
    from metrics.days import day_bounds, local_day
    from metrics.models import PromptAccuracyDaily, PromptPerformanceDaily, RollupDay
    from metrics.services import run_nightly_metrics

    yesterday = local_day(timezone.now()) - timedelta(days=1)
    start, end = day_bounds(yesterday)
    versions = make_versions()
    started = time.perf_counter()
    insert_postgres_rows(versions, rows=CALLS, start=start, end=end)
    insert_accuracy_rows(versions, reviews=REVIEWS, start=start, end=end)
    print(f"   generated {CALLS:,} call rows and {REVIEWS:,} reviews in {time.perf_counter() - started:.1f} s",
          flush=True)

    def nightly(kind):
        return lambda: run_nightly_metrics(kind=kind)

    prompt_times, accuracy_times = [], []
    for _ in range(REPEAT + 1):  # the first round warms the cache and is not counted
        prompt_times.append(timed(nightly(RollupDay.Kind.PROMPT)))
        accuracy_times.append(timed(nightly(RollupDay.Kind.ACCURACY)))
    calls = sum(PromptPerformanceDaily.objects.values_list("call_count", flat=True))
    reviews = sum(PromptAccuracyDaily.objects.values_list("review_count", flat=True))
    prompt_s, accuracy_s = statistics.median(prompt_times[1:]), statistics.median(accuracy_times[1:])
    share = accuracy_s / prompt_s
    print(f"   nightly prompt rollup, {calls:,} calls (median of {REPEAT}):         {prompt_s:6.3f} s")
    print(f"   nightly accuracy rollup, {reviews:,} version scores (median of {REPEAT}): {accuracy_s:6.3f} s")
    print(f"   accuracy / prompt: {share:.1%}  target ≤ 20 % {'OK' if share <= 0.2 else 'MISSED'}")
