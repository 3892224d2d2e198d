"""The product's django-q2 schedules, registered (idempotently) after every `migrate`.

Cron strings are evaluated by django-q2 in settings.TIME_ZONE (Europe/Berlin), so "0 1 * * *"
is 01:00 Berlin time in winter and summer alike.
"""

from django.db import DEFAULT_DB_ALIAS, connections
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "metrics: nightly prompt rollup, catch-up and cleanup",
        "func": "metrics.tasks.nightly_prompt_metrics",
        "schedule_type": Schedule.CRON,
        "cron": "0 1 * * *",
    },
    {
        "name": "metrics: nightly operational rollup, catch-up and cleanup",
        "func": "metrics.tasks.nightly_operational_metrics",
        "schedule_type": Schedule.CRON,
        "cron": "30 1 * * *",
    },
    {
        "name": "metrics: sample queue depth",
        "func": "metrics.tasks.sample_queue_depth",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        # The Redis broker forgets tasks a killed worker had fetched; this finds their e-mails.
        "name": "extraction: re-queue e-mails stranded by a killed worker",
        "func": "extraction.tasks.recover_stranded_emails",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
]


def register_schedules(using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate receiver: create or update each schedule by name, exactly one row per name."""
    if not schedules_table_exists(using):
        return  # django_q is migrated to zero; nothing to register into
    for spec in SCHEDULES:
        schedule_register(spec=spec, using=using)


def schedules_table_exists(using=DEFAULT_DB_ALIAS):
    return Schedule._meta.db_table in connections[using].introspection.table_names()


def schedule_register(*, spec, using=DEFAULT_DB_ALIAS):
    """Create or update one schedule by its name (other apps register theirs with this too)."""
    schedules = Schedule.objects.db_manager(using)
    defaults = {"cron": None, "minutes": None, "repeats": -1, **spec}
    name = defaults.pop("name")
    existing = schedules.filter(name=name).order_by("pk")
    # Schedule.name is not unique; remove duplicates a manual edit may have left behind.
    for duplicate in existing[1:]:
        duplicate.delete()
    schedule = existing.first()
    if schedule is None:
        schedules.create(name=name, **defaults)
        return
    changed = any(getattr(schedule, key) != value for key, value in defaults.items())
    if changed:
        for key, value in defaults.items():
            setattr(schedule, key, value)
        # Schedule.save() only computes next_run for new rows; a changed cron needs it recomputed.
        if schedule.schedule_type == Schedule.CRON:
            schedule.next_run = schedule.calculate_next_run()
        schedule.save(using=using)
