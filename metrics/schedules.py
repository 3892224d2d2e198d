"""The metrics app's django-q2 schedules, and `register`, which every app's post_migrate receiver uses.

Each app registers its own schedules after `migrate` (idempotently): metrics the nightly rollups here,
extraction its own in `extraction/schedules.py`. Cron strings are evaluated by django-q2 in
settings.TIME_ZONE (Europe/Berlin), so "0 1 * * *" is 01:00 Berlin time in winter and summer alike.
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
]


def register(specs, *, using=DEFAULT_DB_ALIAS):
    """Create or update each schedule by name, exactly one row per name.

    A spec is the Schedule's fields; `previous_names` (optional) lists names it had before: such a row is
    renamed rather than left behind calling a function that may no longer exist.
    """
    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return  # django_q is migrated to zero; nothing to register into
    schedules = Schedule.objects.db_manager(using)
    for spec in specs:
        wanted = {"cron": None, "minutes": None, "repeats": -1, **spec}
        previous_names = wanted.pop("previous_names", ())
        # The row with the current name first, else the oldest with a previous name. Schedule.name is
        # not unique, so duplicates (a manual edit, a rename) are removed.
        existing = sorted(
            schedules.filter(name__in=[wanted["name"], *previous_names]),
            key=lambda row: (row.name != wanted["name"], row.pk),
        )
        for duplicate in existing[1:]:
            duplicate.delete()
        if not existing:
            schedules.create(**wanted)
            continue
        schedule = existing[0]
        if any(getattr(schedule, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(schedule, key, value)
            # Schedule.save() only computes next_run for new rows; a changed cron needs it recomputed.
            if schedule.schedule_type == Schedule.CRON:
                schedule.next_run = schedule.calculate_next_run()
            schedule.save(using=using)


def register_schedules(using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate receiver of the metrics app."""
    register(SCHEDULES, using=using)
