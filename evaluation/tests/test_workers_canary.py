"""End to end: a canary served by a real `qcluster` against the fake Messages API, judged by the monitor's schedule.

The cluster routes 20 % of the e-mails to v2 of the classification prompt; its scheduler runs the every-minute
canary check. A degraded v2 (its answers are prose, not JSON) is rolled back by itself; an equal one promoted.
"""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone
from django_q.models import Schedule

from devtools.clusters import enqueueing_for
from devtools.fake_api import Reply, good_answer, message_body
from devtools.fake_model import is_classification
from evaluation.schedules import SCHEDULES
from extraction.models import IncomingEmail
from extraction.tests.clusters import all_final, ingest_copies, wait_until
from metrics.models import PromptPerformanceMetrics
from prompts.models import PromptActivation, PromptRollout
from prompts.selectors import get_active_prompt
from prompts.services import MONITOR, rollout_start
from prompts.tests.factories import make_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EMAILS = 150
CANDIDATE_MARK = "(Kanarienvogel)"
# The cluster's scheduler first looks ~30 s after it starts, then every ~30 s.
SCHEDULER_WAIT_SECONDS = 90


def degraded_candidate(payload):
    """The candidate's classifications are prose (unusable answers); everything else is answered well."""
    if is_classification(payload) and CANDIDATE_MARK in payload["messages"][0]["content"][-1]["text"]:
        return Reply(200, message_body("Das ist wohl eine Forderungsaufstellung.", model=payload["model"]))
    return good_answer(payload)


@pytest.fixture
def run_canary(fake_api_server, worker_env, start_cluster):
    """Start a 20 % canary of the classification prompt, process EMAILS e-mails, let the schedule judge it."""

    def run(answer, **settings_env):
        fake_api_server.answer = answer
        v1 = get_active_prompt("classification", "email_intent")
        v2 = make_version(v1, user_prompt_template=f"{v1.user_prompt_template}\n{CANDIDATE_MARK}")
        rollout = rollout_start(candidate=v2, percent=20, started_by="erika", reason="End-to-end canary")
        env = worker_env("canary", **settings_env)
        cluster = start_cluster(env, "canary")
        wait_until(lambda: cluster.is_up(), timeout=60, what="cluster up", clusters=[cluster])
        with enqueueing_for(env):
            ids = ingest_copies(EMAILS, prefix=f"canary-{rollout.pk}")
        wait_until(lambda: all_final(ids), timeout=180, what="all e-mails processed", clusters=[cluster])
        Schedule.objects.filter(name=SCHEDULES[0]["name"]).update(next_run=timezone.now() - timedelta(seconds=1))
        wait_until(
            lambda: PromptRollout.objects.get(pk=rollout.pk).state != "running",
            timeout=SCHEDULER_WAIT_SECONDS, what="the canary monitor's decision", clusters=[cluster],
        )
        rollout.refresh_from_db()
        return rollout, ids

    return run


def calls_per_version(ids):
    rows = PromptPerformanceMetrics.objects.filter(email_id__in=ids, prompt_version__name="email_intent")
    return dict(rows.values_list("prompt_version__version").annotate(n=Count("pk")))


def test_a_degraded_candidate_at_20_percent_is_rolled_back_by_itself(run_canary):
    rollout, ids = run_canary(degraded_candidate)

    assert (rollout.state, rollout.ended_by) == ("rolled_back", MONITOR)
    # The worker writes the reason in the product's language (German unless LANGUAGE_CODE says otherwise).
    assert rollout.end_reason.startswith("der Kandidat ist bei")
    assert rollout.figures["candidate"]["failures"] == rollout.figures["candidate"]["calls"] >= 10
    assert get_active_prompt("classification", "email_intent").version == 1
    # The split served about a fifth of the e-mails with v2, and exactly those went to manual review.
    served = calls_per_version(ids)
    assert 0.1 < served[2] / EMAILS < 0.3
    assert IncomingEmail.objects.filter(pk__in=ids, status="manual_review").count() == served[2]


def test_an_equal_candidate_is_promoted_after_the_configured_calls(run_canary):
    rollout, ids = run_canary(good_answer, PROMPT_ROLLOUT_PROMOTE_AFTER_CALLS=15)

    assert (rollout.state, rollout.ended_by) == ("promoted", MONITOR)
    assert rollout.end_reason.startswith("keine Verschlechterung nach")
    assert "0,0\u00a0% fehlgeschlagen" in rollout.end_reason  # German numbers in the German sentence
    assert get_active_prompt("classification", "email_intent").version == 2
    activation = PromptActivation.objects.get(to_version=rollout.candidate)
    assert (activation.kind, activation.activated_by, activation.rollout) == ("promote", MONITOR, rollout)
    assert rollout.figures["candidate"]["failures"] == 0
    assert not IncomingEmail.objects.filter(pk__in=ids, status="failed").exists()
