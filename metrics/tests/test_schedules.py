"""Schedules are registered by migrate, once, in Berlin time, and django-q2 actually runs them."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from extraction.models import IncomingEmail
from metrics.models import OperationalMetrics, PromptPerformanceDaily, RollupDay
from metrics.schedules import SCHEDULES, register_schedules
from metrics.services import record_queue_depths
from metrics.tests.helpers import calls_per_day, make_version

pytestmark = pytest.mark.django_db

NAMES = [spec["name"] for spec in SCHEDULES]
PROMPT_NIGHTLY = NAMES[0]


def test_schedules_exist_exactly_once_after_migrating_twice():
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    for name in NAMES:
        assert Schedule.objects.filter(name=name).count() == 1


@pytest.mark.parametrize(("name", "local_time"), [(NAMES[0], (1, 0)), (NAMES[1], (1, 30))])
def test_nightly_schedules_run_at_their_berlin_wall_clock_time(name, local_time):
    next_run = timezone.localtime(Schedule.objects.get(name=name).next_run)
    assert (next_run.hour, next_run.minute) == local_time
    assert next_run > timezone.now()


def test_a_changed_cron_is_restored_with_a_recomputed_next_run():
    Schedule.objects.filter(name=PROMPT_NIGHTLY).update(cron="0 5 * * *", next_run=timezone.now() + timedelta(days=9))
    register_schedules()
    schedule = Schedule.objects.get(name=PROMPT_NIGHTLY)
    assert schedule.cron == "0 1 * * *"
    assert timezone.localtime(schedule.next_run).hour == 1
    assert schedule.next_run < timezone.now() + timedelta(days=1, minutes=1)


def test_a_due_nightly_schedule_runs_through_django_q():
    version = make_version()
    yesterday = timezone.localdate() - timedelta(days=1)
    calls_per_day(version, [yesterday], per_day=2)
    Schedule.objects.filter(name=PROMPT_NIGHTLY).update(next_run=timezone.now() - timedelta(minutes=1))

    scheduler()  # the cluster's scheduler loop; Q_CLUSTER sync=True runs the task inline

    assert PromptPerformanceDaily.objects.get(date=yesterday).call_count == 2
    assert RollupDay.objects.filter(kind="prompt", day=yesterday).exists()
    assert Schedule.objects.get(name=PROMPT_NIGHTLY).next_run > timezone.now()


def test_queue_depth_counts_waiting_emails_and_the_task_queue():
    for number, status in enumerate(["received", "queued", "queued", "processing", "failed"]):
        IncomingEmail.objects.create(message_id=f"<{number}@test>", sender="glaeubiger@example.de", status=status)
    record_queue_depths()
    depths = dict(OperationalMetrics.objects.values_list("labels_key", "value"))
    assert depths == {"queue=emails_waiting": 3.0, "queue=django_q": 0.0}
