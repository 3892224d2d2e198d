"""Schedules are registered by migrate, once, in Berlin time, and django-q2 actually runs them."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from metrics.models import PromptPerformanceDaily, RollupDay
from metrics.schedules import SCHEDULES, register, register_schedules
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


def test_a_schedule_registered_under_a_previous_name_is_renamed_and_keeps_its_next_run():
    next_run = timezone.now() + timedelta(minutes=3)
    old = Schedule.objects.create(
        name="probe: old name", func="metrics.tasks.gone", schedule_type=Schedule.MINUTES, minutes=1,
        next_run=next_run,
    )
    spec = {
        "name": "probe: new name", "previous_names": ["probe: old name"],
        "func": "metrics.tasks.nightly_prompt_metrics", "schedule_type": Schedule.MINUTES, "minutes": 1,
    }
    register([spec])
    register([spec])
    assert list(Schedule.objects.filter(name__startswith="probe:").values_list("pk", "name", "func")) == [
        (old.pk, "probe: new name", "metrics.tasks.nightly_prompt_metrics")
    ]
    assert Schedule.objects.get(pk=old.pk).next_run == next_run


def test_duplicates_of_a_schedule_are_removed_and_the_oldest_kept():
    first = Schedule.objects.get(name=PROMPT_NIGHTLY)
    Schedule.objects.create(name=PROMPT_NIGHTLY, func="metrics.tasks.nightly_prompt_metrics",
                            schedule_type=Schedule.CRON, cron="0 1 * * *")
    register_schedules()
    assert list(Schedule.objects.filter(name=PROMPT_NIGHTLY).values_list("pk", flat=True)) == [first.pk]
