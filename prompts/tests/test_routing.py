"""The canary split: stable per e-mail, the configured share within ±1.5 points, seen within the cache's TTL."""

import os
import subprocess
import sys

import pytest

from prompts.routing import routes_to_candidate, routing_bucket
from prompts.selectors import get_active_prompt
from prompts.services import rollout_start, rollout_stop
from prompts.tests.factories import make_version

KEYS = range(1, 10_001)


@pytest.mark.parametrize("percent", [1, 5, 10, 20, 33, 50])
@pytest.mark.parametrize("rollout_id", [1, 2, 977])
def test_the_candidate_gets_the_configured_share_of_10000_keys_within_one_and_a_half_points(percent, rollout_id):
    share = sum(routes_to_candidate(key, rollout_id=rollout_id, percent=percent) for key in KEYS) / len(KEYS)
    assert abs(share * 100 - percent) <= 1.5


def test_a_key_always_lands_in_the_same_bucket_in_every_process():
    code = "from prompts.routing import routing_bucket; print([routing_bucket(k, salt=5) for k in range(200)])"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{[routing_bucket(k, salt=5) for k in range(200)]}\n"}


def test_each_rollout_draws_its_own_emails():
    first = {key for key in KEYS if routes_to_candidate(key, rollout_id=1, percent=20)}
    second = {key for key in KEYS if routes_to_candidate(key, rollout_id=2, percent=20)}
    # Independent draws of 20 % overlap on about 4 %, not on all 20 %.
    assert abs(len(first & second) / len(KEYS) - 0.04) < 0.01


@pytest.mark.django_db
def test_get_active_prompt_sends_a_stable_share_of_emails_to_the_candidate(
    intent_v1, django_capture_on_commit_callbacks
):
    v2 = make_version(intent_v1)
    with django_capture_on_commit_callbacks(execute=True):
        rollout_start(candidate=v2, percent=30, started_by="erika")
    served = {key: get_active_prompt("classification", "email_intent", routing_key=key).version for key in range(2000)}
    assert 0.27 <= sum(version == 2 for version in served.values()) / 2000 <= 0.33
    assert all(
        get_active_prompt("classification", "email_intent", routing_key=key).version == version
        for key, version in served.items()
    )
    assert get_active_prompt("classification", "email_intent") == intent_v1  # no key: the active version


@pytest.mark.django_db
def test_after_a_stop_every_email_gets_the_active_version_again(intent_v1, django_capture_on_commit_callbacks):
    v2 = make_version(intent_v1)
    with django_capture_on_commit_callbacks(execute=True):
        rollout = rollout_start(candidate=v2, percent=50, started_by="erika")
    assert {get_active_prompt("classification", "email_intent", routing_key=k).version for k in range(50)} == {1, 2}
    with django_capture_on_commit_callbacks(execute=True):
        rollout_stop(rollout=rollout, stopped_by="erika", reason="done")
    assert {get_active_prompt("classification", "email_intent", routing_key=k).version for k in range(50)} == {1}


@pytest.mark.django_db
def test_a_canary_started_by_another_process_is_seen_after_the_ttl(intent_v1, settings):
    settings.PROMPT_CACHE_TTL_SECONDS = 60
    v2 = make_version(intent_v1)
    assert get_active_prompt("classification", "email_intent", routing_key=1) == intent_v1  # caches "no canary"
    # Another process: the rollout row appears without this process's cache hooks running.
    rollout_start(candidate=v2, percent=50, started_by="erika")  # on_commit never runs in this test's transaction
    keys = range(100)
    assert {get_active_prompt("classification", "email_intent", routing_key=k).version for k in keys} == {1}
    settings.PROMPT_CACHE_TTL_SECONDS = 0
    assert {get_active_prompt("classification", "email_intent", routing_key=k).version for k in keys} == {1, 2}


@pytest.mark.django_db
def test_with_a_warm_cache_routing_costs_no_query(intent_v1, django_assert_num_queries, settings):
    settings.PROMPT_CACHE_TTL_SECONDS = 60
    rollout_start(candidate=make_version(intent_v1), percent=50, started_by="erika")
    for key in range(10):
        get_active_prompt("classification", "email_intent", routing_key=key)
    with django_assert_num_queries(0):
        for key in range(100):
            get_active_prompt("classification", "email_intent", routing_key=key)
