"""The active-prompt cache: fast when warm, never stale for longer than the TTL, in any process."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devtools.databases import database_url
from prompts import selectors
from prompts.errors import NoActivePrompt
from prompts.models import PromptTemplate
from prompts.selectors import get_active_prompt
from prompts.services import prompt_activate, prompt_create_version


def new_version(source):
    return prompt_create_version(source=source, created_by="erika", description="Test")


@pytest.mark.django_db
def test_get_active_prompt_returns_the_active_version(intent_v1):
    assert get_active_prompt("classification", "email_intent").pk == intent_v1.pk


@pytest.mark.django_db
def test_no_active_version_raises_no_active_prompt():
    with pytest.raises(NoActivePrompt, match="validation.missing"):
        get_active_prompt("validation", "missing")


@pytest.mark.django_db
def test_a_warm_cache_costs_no_query(intent_v1, django_assert_num_queries):
    get_active_prompt("classification", "email_intent")
    with django_assert_num_queries(0):
        get_active_prompt("classification", "email_intent")


@pytest.mark.django_db
def test_after_the_ttl_one_id_only_query_confirms_the_cached_version(intent_v1, settings):
    settings.PROMPT_CACHE_TTL_SECONDS = 0
    cached = get_active_prompt("classification", "email_intent")
    with CaptureQueriesContext(connection) as queries:
        assert get_active_prompt("classification", "email_intent") is cached
    [query] = queries.captured_queries
    selected = query["sql"].split(" FROM ")[0]
    assert selected == f'SELECT "{PromptTemplate._meta.pk.column}"'
    assert "ORDER BY" not in query["sql"] and "is_active" in query["sql"]


@pytest.mark.django_db
def test_after_the_ttl_a_changed_version_costs_one_more_query_for_its_row(intent_v1, settings):
    settings.PROMPT_CACHE_TTL_SECONDS = 0
    get_active_prompt("classification", "email_intent")
    v2 = new_version(intent_v1)
    PromptTemplate.objects.filter(pk=intent_v1.pk).update(is_active=False)
    PromptTemplate.objects.filter(pk=v2.pk).update(is_active=True)
    with CaptureQueriesContext(connection) as queries:
        assert get_active_prompt("classification", "email_intent") == v2
    assert len(queries) == 2


@pytest.mark.django_db
def test_the_freshness_check_is_answered_from_the_partial_index_of_active_versions(intent_v1):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The seeded table is tiny; forbid the sequential scan a planner would choose for it.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {selectors._ACTIVE_VERSION_ID_SQL}", ["classification", "email_intent"])
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {selectors._ACTIVE_VERSION_ID_SQL}", ["classification", "email_intent"])
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "prompt_one_active_version" in plan


@pytest.mark.django_db
def test_the_routing_key_is_accepted_and_changes_nothing_without_a_rollout(intent_v1):
    assert get_active_prompt("classification", "email_intent", routing_key=42) == intent_v1


@pytest.mark.django_db
def test_an_activation_by_another_process_is_picked_up_after_the_ttl(intent_v1, settings):
    settings.PROMPT_CACHE_TTL_SECONDS = 0
    assert get_active_prompt("classification", "email_intent").version == 1
    v2 = new_version(intent_v1)
    # Simulate another process: change the rows without going through this process's cache hooks.
    PromptTemplate.objects.filter(pk=intent_v1.pk).update(is_active=False)
    PromptTemplate.objects.filter(pk=v2.pk).update(is_active=True)
    assert get_active_prompt("classification", "email_intent").version == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_activation_is_seen_by_a_second_process_within_the_ttl():
    intent_v1 = get_active_prompt("classification", "email_intent")
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PROMPT_CACHE_TTL_SECONDS": "1"}
    probe = subprocess.Popen(
        [sys.executable, "-m", "prompts.tests.active_prompt_probe"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=settings.BASE_DIR,
    )

    def ask():
        probe.stdin.write("get\n")
        probe.stdin.flush()
        version, queries = probe.stdout.readline().split()
        return int(version), int(queries)

    try:
        assert ask() == (1, 2)  # cold: the active version's id, then its row
        assert ask() == (1, 0)  # warm: no query at all
        prompt_activate(template=new_version(intent_v1), activated_by="erika")
        activated_at = time.monotonic()
        # However the probe's cache entry is aged, one TTL after the commit it must see v2.
        time.sleep(max(0.0, 1.0 - (time.monotonic() - activated_at)) + 0.05)
        assert ask() == (2, 2)  # one query sees the new version's id, one fetches its row
        assert ask() == (2, 0)
    finally:
        probe.stdin.close()
        probe.wait(timeout=10)
