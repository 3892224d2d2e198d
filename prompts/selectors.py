"""Reads of prompts, including the per-process cache of active prompts.

The cache: every process keeps `(task_type, name) -> (version, checked_at)`. A hit younger than
PROMPT_CACHE_TTL_SECONDS (1 s) costs no query. An older one costs one query that reads only the
active version's id from the partial unique index on (task_type, name) WHERE is_active; the full
row is fetched only when that id changed. A worker's calls are seconds apart, so in production
nearly every call takes that freshness check: it is kept to the one indexed lookup. An activation
made in any process is seen by every other process within the TTL; the activating process drops its
own entry when the transaction commits, so it sees its change at once. Compiled Jinja2 templates are
cached separately by source text (`prompts.rendering.compile_template`).
"""

import time

from django.conf import settings
from django.db import connection

from prompts.errors import NoActivePrompt
from prompts.models import PromptActivation, PromptTemplate

_active_cache = {}

# Written out once instead of built by the ORM on each call: building the query costs several
# times the indexed lookup itself (see `bin/bench prompt_cache`). The WHERE clause repeats the
# index's condition ("is_active") so both SQLite and PostgreSQL answer it from the partial index.
_ACTIVE_VERSION_ID_SQL = (
    f'SELECT "{PromptTemplate._meta.pk.column}" FROM "{PromptTemplate._meta.db_table}" '
    'WHERE "task_type" = %s AND "name" = %s AND "is_active"'
)


def get_active_prompt(task_type, name, *, routing_key=None):
    """The active version of a prompt, cached per process; an activation is seen within the TTL.

    `routing_key` (the e-mail being processed) is for staged rollouts; without one running, every
    key gets the active version.
    """
    key = (task_type, name)
    now = time.monotonic()
    cached = _active_cache.get(key)
    if cached is not None and now - cached[1] < settings.PROMPT_CACHE_TTL_SECONDS:
        return cached[0]
    active_id = active_version_id(task_type=task_type, name=name)
    if active_id is None:
        _active_cache.pop(key, None)
        raise NoActivePrompt(task_type, name)
    if cached is not None and cached[0].pk == active_id:
        template = cached[0]  # versions are immutable: the cached one is still the active one
    else:
        template = PromptTemplate.objects.get(pk=active_id)
    _active_cache[key] = (template, now)
    return template


def active_version_id(*, task_type, name):
    """The id of the active version of a prompt, or None: one lookup in the partial unique index."""
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_VERSION_ID_SQL, [task_type, name])
        row = cursor.fetchone()
    return row[0] if row else None


def forget_active_prompt(task_type, name):
    """Drop this process's cached active version of one prompt (after an activation commits)."""
    _active_cache.pop((task_type, name), None)


def clear_active_prompt_cache():
    """Drop every cached active version of this process."""
    _active_cache.clear()


def prompt_versions(*, task_type, name):
    """All versions of one prompt, newest first."""
    return PromptTemplate.objects.filter(task_type=task_type, name=name).order_by("-version")


def prompt_activation_history(*, task_type, name):
    """Every activation and rollback of one prompt, newest first, with the versions it switched between."""
    return PromptActivation.objects.filter(task_type=task_type, name=name).select_related(
        "from_version", "to_version"
    )
