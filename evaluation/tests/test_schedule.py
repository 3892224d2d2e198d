"""The monitor's schedule: registered by migrate, once, every minute, and run by django-q2's scheduler."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from evaluation.schedules import SCHEDULES
from evaluation.tests.calls import record_calls

pytestmark = pytest.mark.django_db

NAME = SCHEDULES[0]["name"]


def test_the_monitor_schedule_exists_exactly_once_after_migrating_twice():
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    schedule = Schedule.objects.get(name=NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("evaluation.tasks.check_rollouts", "I", 1)


def test_a_due_check_runs_through_django_q_and_rolls_back_a_failing_canary(rollout):
    start = rollout.started_at - timedelta(seconds=1)
    rollout.started_at = start
    rollout.save(update_fields=["started_at"])
    record_calls(rollout.candidate, calls=20, failures=15, start=start + timedelta(milliseconds=1))
    Schedule.objects.filter(name=NAME).update(next_run=timezone.now() - timedelta(seconds=1))

    scheduler()  # the cluster's scheduler loop; Q_CLUSTER sync=True runs the task inline

    rollout.refresh_from_db()
    assert rollout.state == "rolled_back"
    assert Schedule.objects.get(name=NAME).next_run > timezone.now()
