"""The prompt lookup on an LLM call's path: cache hit, TTL-expired freshness check, bare render, uncached.

A worker's calls are seconds apart, so in production the cache's TTL (1 s) has nearly always
expired and a call takes the freshness check: one id-only lookup in the partial index of active
versions, the full row only when the active version changed. Target (issue 11): the expired path
costs at most 4× a bare compiled render plus one raw indexed SELECT, both measured in this run.
Runs on SQLite and PostgreSQL (the runner gives each a throw-away database), with DEBUG off as in
production (DEBUG logs every query).
"""

import statistics
import time

from devtools.timing import median_seconds

DATABASES = ("sqlite", "postgresql")

VARIABLES = {
    "subject": "AW: Vergleichsangebot Ihr Zeichen 2025/4711 – Mandant Müller",
    "truncated_body": "Sehr geehrte Damen und Herren, wir stimmen dem Vergleich über 1.234,56 € zu. " * 20,
}
KEY = ("classification", "email_intent")
TARGET_RATIO = 4


def interleaved_medians(functions, *, repeat, warmup):
    """Median time of one call of each function, their calls interleaved so that a busy machine
    slows all of them alike and their ratio stays meaningful."""
    samples = [[] for _ in functions]
    for round_number in range(warmup + repeat):
        for function, timings in zip(functions, samples, strict=True):
            started = time.perf_counter()
            function()
            if round_number >= warmup:
                timings.append(time.perf_counter() - started)
    return [statistics.median(timings) for timings in samples]


def main():
    from django.db import connection
    from django.test.utils import override_settings

    from prompts import selectors
    from prompts.models import PromptTemplate
    from prompts.rendering import compile_template

    with override_settings(DEBUG=False):
        selectors.clear_active_prompt_cache()
        source = selectors.get_active_prompt(*KEY).user_prompt_template
        compiled = compile_template(source)

        def cache_hit():
            selectors.get_active_prompt(*KEY).render(VARIABLES)

        def ttl_expired():
            selectors.get_active_prompt(*KEY).render(VARIABLES)

        def bare_render():
            compiled.render(VARIABLES)

        def uncached():
            PromptTemplate.objects.get(task_type=KEY[0], name=KEY[1], is_active=True).render(VARIABLES)

        def first_render_in_a_process():
            template = PromptTemplate.objects.get(task_type=KEY[0], name=KEY[1], is_active=True)
            compile_template.__wrapped__(template.user_prompt_template).render(VARIABLES)  # check + compile

        def raw_indexed_select():
            with connection.cursor() as cursor:
                cursor.execute(selectors._ACTIVE_VERSION_ID_SQL, KEY)
                cursor.fetchone()

        with override_settings(PROMPT_CACHE_TTL_SECONDS=3600):
            hit = median_seconds(cache_hit, repeat=20000, warmup=1000)
        with override_settings(PROMPT_CACHE_TTL_SECONDS=0):
            expired, bare, raw = interleaved_medians(
                [ttl_expired, bare_render, raw_indexed_select], repeat=5000, warmup=200
            )
        fetched = median_seconds(uncached, repeat=2000, warmup=100)
        first = median_seconds(first_render_in_a_process, repeat=300, warmup=20)
    ratio = expired / (bare + raw)
    print(f"   cache hit get_active_prompt().render():      {hit * 1e6:8.1f} µs (median of 20000)")
    print(f"   TTL expired (id-only check) + render:        {expired * 1e6:8.1f} µs (median of 5000, interleaved")
    print(f"   bare compiled render:                        {bare * 1e6:8.1f} µs  with the next two")
    print(f"   one raw indexed SELECT:                      {raw * 1e6:8.1f} µs  so that load hits all alike)")
    print(f"   uncached: fetch + cached compile + render:   {fetched * 1e6:8.1f} µs (median of 2000)")
    print(f"   first use: fetch + check + compile + render: {first * 1e6:8.1f} µs (median of 300)")
    print(f"   expired / (bare render + raw SELECT):        {ratio:8.2f}×  target ≤ {TARGET_RATIO}× "
          f"{'OK' if ratio <= TARGET_RATIO else 'MISSED'}")
