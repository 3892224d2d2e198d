"""Canary rollouts: one running per prompt (enforced by the database), stop, roll back, promote, and the audit."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from prompts.errors import ReleaseRefused
from prompts.models import PromptActivation, PromptRollout, PromptTemplate
from prompts.selectors import get_active_prompt
from prompts.services import (
    MONITOR,
    prompt_activate,
    prompt_rollback,
    rollout_promote,
    rollout_roll_back,
    rollout_start,
    rollout_stop,
)
from prompts.tests.factories import make_version, outcomes_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def v2(intent_v1):
    return make_version(intent_v1)


def start(candidate, percent=20, by="erika"):
    return rollout_start(candidate=candidate, percent=percent, started_by=by, reason="Shorter prompt, same answers")


def test_a_canary_runs_the_candidate_beside_the_active_version(intent_v1, v2):
    rollout = start(v2)
    assert (rollout.baseline, rollout.candidate, rollout.percent, rollout.state) == (intent_v1, v2, 20, "running")
    assert (rollout.started_by, rollout.reason) == ("erika", "Shorter prompt, same answers")
    assert rollout.ended_at is None


@pytest.mark.parametrize("percent", [0, 51, 100, -5, None, 12.5])
def test_a_canary_serves_1_to_50_percent(v2, percent):
    with pytest.raises(ReleaseRefused, match="1 to 50 %"):
        start(v2, percent=percent)


@pytest.mark.parametrize("percent", [0, 51])
def test_the_database_refuses_a_percent_outside_1_to_50(intent_v1, v2, percent):
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptRollout.objects.create(
            task_type=v2.task_type, name=v2.name, baseline=intent_v1, candidate=v2, percent=percent, started_by="x"
        )


def test_a_second_canary_of_the_same_prompt_is_refused(intent_v1, v2):
    start(v2)
    v3 = make_version(intent_v1)
    with pytest.raises(ReleaseRefused, match="already running"):
        start(v3)
    assert PromptRollout.objects.filter(state="running").count() == 1


def test_the_database_allows_one_running_canary_per_prompt(intent_v1, v2):
    start(v2)
    v3 = make_version(intent_v1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptRollout.objects.create(
            task_type=v3.task_type, name=v3.name, baseline=intent_v1, candidate=v3, percent=10, started_by="x"
        )


def test_canaries_of_different_prompts_run_side_by_side(v2):
    body_v1 = get_active_prompt("extraction", "email_body")
    start(v2)
    start(make_version(body_v1))
    assert PromptRollout.objects.filter(state="running").count() == 2


def test_the_database_refuses_a_running_canary_with_an_end_or_an_ended_one_without(intent_v1, v2):
    rollout = start(v2)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptRollout.objects.filter(pk=rollout.pk).update(ended_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptRollout.objects.filter(pk=rollout.pk).update(state="stopped")


def test_a_canary_of_the_active_version_or_without_an_active_one_is_refused(intent_v1):
    with pytest.raises(ReleaseRefused, match="already active"):
        start(intent_v1)
    orphan = PromptTemplate.objects.create(
        task_type="validation", name="new_check", version=1, user_prompt_template="{{ x }}", created_by="t",
        model_name="claude-haiku-4-5-20251001",
    )
    with pytest.raises(ReleaseRefused, match="no active version"):
        start(orphan)


def test_stopping_needs_a_reason_and_records_who_and_why(v2):
    rollout = start(v2)
    with pytest.raises(ReleaseRefused, match="why"):
        rollout_stop(rollout=rollout, stopped_by="olga", reason="")
    stopped = rollout_stop(rollout=rollout, stopped_by="olga", reason="Creditor complained")
    assert (stopped.state, stopped.ended_by, stopped.end_reason) == ("stopped", "olga", "Creditor complained")
    assert stopped.ended_at is not None


def test_an_ended_canary_cannot_end_again(v2):
    rollout = start(v2)
    rollout_stop(rollout=rollout, stopped_by="olga", reason="Enough")
    with pytest.raises(ReleaseRefused, match="already ended: stopped by olga"):
        rollout_roll_back(rollout=rollout, reason="regression", figures={})


def test_the_monitors_rollback_records_its_figures_and_leaves_the_active_version(intent_v1, v2):
    rollout = rollout_roll_back(rollout=start(v2), reason="failure rate regression", figures={"threshold": 200})
    assert (rollout.state, rollout.ended_by, rollout.figures) == ("rolled_back", MONITOR, {"threshold": 200})
    intent_v1.refresh_from_db()
    assert intent_v1.is_active


def test_promotion_activates_the_candidate_and_the_audit_links_the_canary(intent_v1, v2):
    rollout = rollout_promote(rollout=start(v2), promoted_by=MONITOR, reason="no regression", figures={"calls": 1})
    assert (rollout.state, rollout.ended_by, rollout.end_reason, rollout.figures) == (
        "promoted", MONITOR, "no regression", {"calls": 1}
    )
    activation = PromptActivation.objects.get(to_version=v2)
    assert (activation.kind, activation.rollout, activation.from_version, activation.activated_by) == (
        "promote", rollout, intent_v1, MONITOR
    )


def test_activating_another_version_stops_the_running_canary(intent_v1, v2):
    rollout = start(v2)
    v3 = make_version(intent_v1)
    activation = prompt_activate(template=v3, activated_by="olga")
    rollout.refresh_from_db()
    assert (rollout.state, rollout.ended_by, rollout.end_reason) == ("stopped", "olga", "v3 was activated instead")
    assert activation.rollout == rollout


def test_activating_the_candidate_directly_ends_the_canary_as_promoted(v2):
    rollout = start(v2)
    prompt_activate(template=v2, activated_by="olga")
    rollout.refresh_from_db()
    assert rollout.state == "promoted"


def test_a_rollback_of_the_prompt_stops_the_running_canary(intent_v1, v2):
    v3 = make_version(intent_v1)
    prompt_activate(template=v2, activated_by="olga")
    rollout = start(v3)
    prompt_rollback(task_type="classification", name="email_intent", activated_by="olga")
    rollout.refresh_from_db()
    assert (rollout.state, rollout.end_reason) == ("stopped", "the prompt was rolled back to v1")


def test_the_end_of_a_canary_is_mailed_to_the_alert_list(v2, settings, django_capture_on_commit_callbacks):
    settings.PROMPT_ALERT_EMAILS = ["leitung@kanzlei.example", "it@kanzlei.example"]
    rollout = start(v2)
    with django_capture_on_commit_callbacks(execute=True):
        rollout_roll_back(rollout=rollout, reason="the candidate failed 10 of its first 20 calls",
                          figures={"candidate": {"calls": 20, "failures": 10}})
    [message] = mail.outbox
    assert message.to == ["leitung@kanzlei.example", "it@kanzlei.example"]
    assert message.subject == "[prompts] Canary rolled back: classification.email_intent v2 (20 %)"
    assert "the candidate failed 10 of its first 20 calls" in message.body
    assert '"failures": 10' in message.body


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_canary_starts_leave_exactly_one_running():
    source = get_active_prompt("classification", "email_intent")
    candidates = [make_version(source) for _ in range(6)]
    outcomes = outcomes_at_once(lambda candidate: start(candidate, by=f"thread-{candidate.version}"), candidates)
    started = [outcome for outcome in outcomes if isinstance(outcome, PromptRollout)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ReleaseRefused)]
    assert (len(started), len(refused)) == (1, 5), outcomes
    assert PromptRollout.objects.filter(name="email_intent", state="running").count() == 1
