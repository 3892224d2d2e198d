"""Admin raw prompt-metrics changelist with 10M rows on PostgreSQL: server time of page 1 and filtered lists.

Target: under 300 ms each. Timed in-process with the test client and a logged-in superuser (request
handling including template rendering). Runs in a throw-away PostgreSQL database.
"""

import time
from datetime import timedelta

from django.db import connection
from django.test.utils import setup_test_environment, teardown_test_environment
from django.utils import timezone

from bench.bench_metrics_rollup import insert_postgres_rows, make_versions
from devtools.timing import median_request_seconds

DATABASES = ("postgresql",)
ROWS = 10_000_000
DAYS = 30
REPEAT = 5
TARGET_SECONDS = 0.3
TABLE = "metrics_promptperformancemetrics"


def secondary_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'",
            [TABLE],
        )
        return cursor.fetchall()


def insert_rows_fast(version_ids, *, rows, start, end):
    """Bulk load without the secondary indexes, then build them once (much faster than row by row)."""
    indexes = secondary_indexes()
    with connection.cursor() as cursor:
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    insert_postgres_rows(version_ids, rows=rows, start=start, end=end)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"VACUUM ANALYZE {TABLE}")


def main():
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    setup_test_environment()
    try:
        end = timezone.now()
        start = end - timedelta(days=DAYS)
        started = time.perf_counter()
        versions = make_versions()
        insert_rows_fast(versions, rows=ROWS, start=start, end=end)
        print(f"   generated {ROWS:,} rows over {DAYS} days, indexed and analysed in "
              f"{time.perf_counter() - started:.0f} s", flush=True)

        client = Client()
        client.force_login(User.objects.create_superuser("bench", "bench@example.org", "bench"))
        changelist = reverse("admin:metrics_promptperformancemetrics_changelist")
        local_week_ago = timezone.localtime(end - timedelta(days=7)).replace(hour=0, minute=0, second=0)
        pages = {
            "page 1": "",
            "filtered by version": f"?prompt_version__id__exact={versions[3]}",
            "filtered by version, page 20": f"?prompt_version__id__exact={versions[3]}&p=20",
            "filtered by version + last 7 days": f"?prompt_version__id__exact={versions[3]}"
            f"&recorded_at__gte={local_week_ago.isoformat().replace('+', '%2B')}",
            "filtered by success=no": "?success__exact=0",
        }
        for label, query in pages.items():
            seconds, response = median_request_seconds(client, changelist + query, repeat=REPEAT)
            count = response.context["cl"].result_count
            verdict = "OK" if seconds < TARGET_SECONDS else "MISSED"
            print(f"   {label:36s} {seconds * 1000:7.1f} ms (median of {REPEAT}, shows ~{count:,} rows) "
                  f"target < 300 ms {verdict}", flush=True)
    finally:
        teardown_test_environment()
