"""The extraction app registers its own schedules on migrate; queue depth is sampled here, recorded as metrics."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from extraction.models import IncomingEmail
from extraction.sampling import queue_depths_record
from extraction.schedules import SCHEDULES, register_schedules
from metrics.models import OperationalMetrics

pytestmark = pytest.mark.django_db

QUEUE_DEPTH = "extraction: sample queue depth"


def queue_depths():
    return dict(OperationalMetrics.objects.values_list("labels_key", "value"))


def test_migrate_registers_each_extraction_schedule_exactly_once():
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    for spec in SCHEDULES:
        assert Schedule.objects.filter(name=spec["name"]).values_list("func", flat=True).get() == spec["func"]


def test_a_database_with_the_metrics_apps_queue_depth_schedule_gets_it_renamed_to_the_extraction_task():
    Schedule.objects.filter(name=QUEUE_DEPTH).update(name="metrics: sample queue depth",
                                                     func="metrics.tasks.sample_queue_depth")
    register_schedules()
    assert not Schedule.objects.filter(name="metrics: sample queue depth").exists()
    assert Schedule.objects.filter(name=QUEUE_DEPTH).values_list("func", flat=True).get() == (
        "extraction.tasks.sample_queue_depth"
    )


def test_queue_depth_counts_waiting_emails_and_the_task_queue():
    for number, status in enumerate(["received", "queued", "queued", "processing", "failed"]):
        IncomingEmail.objects.create(message_id=f"<{number}@test>", sender="glaeubiger@example.de", status=status)
    queue_depths_record()
    assert queue_depths() == {"queue=emails_waiting": 3.0, "queue=django_q": 0.0}


def test_the_due_queue_depth_schedule_records_both_queues_through_django_q():
    IncomingEmail.objects.create(message_id="<waiting@test>", sender="glaeubiger@example.de", status="queued")
    Schedule.objects.filter(name=QUEUE_DEPTH).update(next_run=timezone.now() - timedelta(minutes=1))
    scheduler()  # Q_CLUSTER sync=True runs the task inline
    assert queue_depths() == {"queue=emails_waiting": 1.0, "queue=django_q": 0.0}
