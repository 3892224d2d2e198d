"""Nightly prompt rollup of 1M raw rows in one day over 8 prompt versions.

PostgreSQL: `rollup_prompt_metrics` (ORM aggregates + upsert + ledger) against one hand-written
INSERT ... SELECT ... percentile_cont ... ON CONFLICT statement on the same data. Target ratio ≤ 1.3.
SQLite: the same ORM rollup (the percentile is a Python aggregate there). Target ≤ 10 s.

The runner gives each part a throw-away database of its own (on BENCH_POSTGRES_URL's server, a
temporary SQLite file), never the project's database. Also reused by bench_metrics_admin.
"""

import statistics
import time
from datetime import UTC, date

from django.db import connection

DATABASES = ("postgresql", "sqlite")
DAY = date(2026, 3, 29)  # a 23-hour DST day, for good measure
ROWS = 1_000_000
VERSIONS = 8
REPEAT = 3

HAND_WRITTEN_ROLLUP = """
INSERT INTO metrics_promptperformancedaily (
    prompt_version_id, date, call_count, success_count, review_count, total_input_tokens, total_output_tokens,
    total_cost_usd, avg_confidence, avg_execution_time_ms, p95_execution_time_ms, rolled_up_at)
SELECT prompt_version_id, %(day)s, count(*), count(*) FILTER (WHERE success), count(*) FILTER (WHERE needs_review),
       sum(input_tokens), sum(output_tokens), sum(cost_usd), avg(confidence), avg(execution_time_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time_ms), now()
FROM metrics_promptperformancemetrics
WHERE recorded_at >= %(start)s AND recorded_at < %(end)s
GROUP BY prompt_version_id
ON CONFLICT (prompt_version_id, date) DO UPDATE SET
    call_count = EXCLUDED.call_count, success_count = EXCLUDED.success_count, review_count = EXCLUDED.review_count,
    total_input_tokens = EXCLUDED.total_input_tokens, total_output_tokens = EXCLUDED.total_output_tokens,
    total_cost_usd = EXCLUDED.total_cost_usd, avg_confidence = EXCLUDED.avg_confidence,
    avg_execution_time_ms = EXCLUDED.avg_execution_time_ms, p95_execution_time_ms = EXCLUDED.p95_execution_time_ms,
    rolled_up_at = EXCLUDED.rolled_up_at
"""


def make_versions(count=VERSIONS):
    from prompts.models import PromptTemplate

    return [
        PromptTemplate.objects.create(
            task_type="validation", name="bench", version=number, user_prompt_template="{{ x }}",
            created_by="bench", model_name="claude-haiku-4-5-20251001",
        ).pk
        for number in range(1, count + 1)
    ]


def insert_postgres_rows(version_ids, *, rows, start, end):
    """`rows` raw prompt calls evenly spread over [start, end), round-robin over the versions."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            """
            INSERT INTO metrics_promptperformancemetrics (prompt_version_id, email_id, input_tokens, output_tokens,
                cost_usd, success, confidence, needs_review, execution_time_ms, recorded_at)
            SELECT (%(versions)s::bigint[])[1 + i %% %(n)s], NULL, 500 + (random() * 3000)::int,
                   50 + (random() * 800)::int, round((random() * 0.05)::numeric, 8), random() < 0.92,
                   CASE WHEN random() < 0.95 THEN random() END, random() < 0.08,
                   (80 + random() * random() * 6000)::int,
                   %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz) * (i::float8 / %(rows)s)
            FROM generate_series(0, %(rows)s - 1) AS i
            """,
            {"versions": version_ids, "n": len(version_ids), "rows": rows, "start": start, "end": end},
        )
        cursor.execute("VACUUM ANALYZE metrics_promptperformancemetrics")


def insert_sqlite_rows(version_ids, *, rows, start, end):
    span = (end - start).total_seconds()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE series(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM series WHERE i < {rows - 1})
            INSERT INTO metrics_promptperformancemetrics (prompt_version_id, email_id, input_tokens, output_tokens,
                cost_usd, success, confidence, needs_review, execution_time_ms, recorded_at)
            SELECT json_extract(%s, '$[' || (i %% {len(version_ids)}) || ']'), NULL,
                   500 + abs(random() %% 3000), 50 + abs(random() %% 800), abs(random() %% 5000000) / 1e8,
                   abs(random() %% 100) < 92, CASE WHEN abs(random() %% 100) < 95 THEN abs(random() %% 1000) / 1e3 END,
                   abs(random() %% 100) < 8, 80 + abs(random() %% 6000),
                   strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || (i * {span / rows}) || ' seconds')
            FROM series
            """,
            [str(version_ids), start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")],
        )


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def postgres_part():
    from metrics.days import day_bounds
    from metrics.models import PromptPerformanceDaily
    from metrics.services import rollup_prompt_metrics

    start, end = day_bounds(DAY)
    started = time.perf_counter()
    insert_postgres_rows(make_versions(), rows=ROWS, start=start, end=end)
    print(f"   PostgreSQL: generated {ROWS:,} rows in {time.perf_counter() - started:.1f} s", flush=True)

    def hand_written():
        with connection.cursor() as cursor:
            cursor.execute(HAND_WRITTEN_ROLLUP, {"day": DAY, "start": start, "end": end})

    def orm():
        rollup_prompt_metrics(day=DAY)

    orm()  # warm the cache for both
    calls = sum(PromptPerformanceDaily.objects.values_list("call_count", flat=True))
    orm_times, sql_times = [], []
    for _ in range(REPEAT):  # alternate so neither gets a warmer cache
        orm_times.append(timed(orm))
        sql_times.append(timed(hand_written))
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()[0]
    orm_s, sql_s = statistics.median(orm_times), statistics.median(sql_times)
    print(f"   PostgreSQL ORM rollup of {calls:,} rows (median of {REPEAT}): {orm_s:6.3f} s")
    print(f"   PostgreSQL hand-written SQL rollup, same data:       {sql_s:6.3f} s   (work_mem {work_mem})")
    print(f"   ratio ORM / SQL: {orm_s / sql_s:.2f}  target ≤ 1.3 {'OK' if orm_s / sql_s <= 1.3 else 'MISSED'}")


def sqlite_part():
    from metrics.days import day_bounds
    from metrics.models import PromptPerformanceDaily
    from metrics.services import rollup_prompt_metrics

    start, end = day_bounds(DAY)
    started = time.perf_counter()
    insert_sqlite_rows(make_versions(), rows=ROWS, start=start, end=end)
    print(f"   SQLite: generated {ROWS:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    seconds = timed(lambda: rollup_prompt_metrics(day=DAY))
    calls = sum(PromptPerformanceDaily.objects.values_list("call_count", flat=True))
    verdict = "OK" if seconds <= 10 else "MISSED"
    print(f"   SQLite ORM rollup of {calls:,} rows: {seconds:6.2f} s  target ≤ 10 s {verdict}")


def main():
    postgres_part() if connection.vendor == "postgresql" else sqlite_part()
