"""The evaluation app's django-q2 schedules, registered (idempotently) after every `migrate`.

Like every schedule it runs once per minute in total, however many clusters there are: each cluster's
scheduler takes due schedules with SELECT ... FOR UPDATE and moves `next_run` on in the same transaction.
"""

from django.db import DEFAULT_DB_ALIAS
from django_q.models import Schedule

from metrics.schedules import register

SCHEDULES = [
    {
        "name": "evaluation: check running canaries (roll back or promote)",
        "func": "evaluation.tasks.check_rollouts",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        "name": "evaluation: resume experiments whose worker was killed",
        "func": "evaluation.tasks.resume_experiments",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


def register_schedules(using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate receiver."""
    register(SCHEDULES, using=using)
