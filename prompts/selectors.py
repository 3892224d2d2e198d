"""Reads of prompts, including the per-process cache of active prompts.

The cache: every process keeps `(task_type, name) -> (version, checked_at)`. A hit younger than
PROMPT_CACHE_TTL_SECONDS (1 s) costs no query. An older one costs one query that reads only the
active version's id from the partial unique index on (task_type, name) WHERE is_active; the full
row is fetched only when that id changed. A worker's calls are seconds apart, so in production
nearly every call takes that freshness check: it is kept to the one indexed lookup. An activation
made in any process is seen by every other process within the TTL; the activating process drops its
own entry when the transaction commits, so it sees its change at once. Compiled Jinja2 templates are
cached separately by source text (`prompts.rendering.compile_template`).

Canary rollouts: with a `routing_key` (the e-mail's id), `get_active_prompt` asks `_serving_version` whether
a running rollout sends that key to its candidate. The running rollout of a prompt is cached the same way
(one query on the partial unique index of running rollouts per TTL), so starting, stopping or ending a canary
is seen everywhere within the same bound as an activation. Candidate versions are immutable: cached by id.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext

from prompts import routing
from prompts.errors import NoActivePrompt, RollbackUnavailable
from prompts.models import ActivationRequest, PromptActivation, PromptRollout, PromptTemplate

_active_cache = {}
_rollout_cache = {}
_version_cache = {}

# Written out once instead of built by the ORM on each call: building the query costs several
# times the indexed lookup itself (see `bin/bench prompt_cache`). The WHERE clause repeats the
# index's condition ("is_active") so both SQLite and PostgreSQL answer it from the partial index.
_ACTIVE_VERSION_ID_SQL = (
    f'SELECT "{PromptTemplate._meta.pk.column}" FROM "{PromptTemplate._meta.db_table}" '
    'WHERE "task_type" = %s AND "name" = %s AND "is_active"'
)
# The same for the running canary of a prompt: the state is written out (not a parameter) so that SQLite too
# can answer it from the partial unique index of running rollouts.
_RUNNING_ROLLOUT_SQL = (
    f'SELECT "id", "baseline_id", "candidate_id", "percent" FROM "{PromptRollout._meta.db_table}" '
    f'WHERE "task_type" = %s AND "name" = %s AND "state" = \'{PromptRollout.State.RUNNING.value}\''
)


def get_active_prompt(task_type, name, *, routing_key=None):
    """The version serving a call: the active one, or a running canary's candidate for the keys it draws.

    Cached per process with bounded staleness (PROMPT_CACHE_TTL_SECONDS). Without a routing key the active
    version always serves.
    """
    active = _active_version(task_type, name)
    if routing_key is None:
        return active
    return _serving_version(task_type, name, active=active, routing_key=routing_key)


def _active_version(task_type, name):
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


@dataclass(frozen=True)
class _Split:
    rollout_id: int
    baseline_id: int
    candidate_id: int
    percent: int


def _serving_version(task_type, name, *, active, routing_key):
    key = (task_type, name)
    now = time.monotonic()
    cached = _rollout_cache.get(key)
    if cached is None or now - cached[1] >= settings.PROMPT_CACHE_TTL_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute(_RUNNING_ROLLOUT_SQL, [task_type, name])
            row = cursor.fetchone()
        cached = (_Split(*row) if row else None, now)
        _rollout_cache[key] = cached
    split = cached[0]
    # Within the TTL the two caches may disagree about the active version; the baseline then serves.
    if split is None or split.baseline_id != active.pk:
        return active
    if not routing.routes_to_candidate(routing_key, rollout_id=split.rollout_id, percent=split.percent):
        return active
    candidate = _version_cache.get(split.candidate_id)
    if candidate is None:
        candidate = _version_cache[split.candidate_id] = PromptTemplate.objects.get(pk=split.candidate_id)
    return candidate


def forget_active_prompt(task_type, name):
    """Drop this process's cached active version of one prompt (after an activation commits)."""
    _active_cache.pop((task_type, name), None)


def forget_rollout(task_type, name):
    _rollout_cache.pop((task_type, name), None)


def clear_active_prompt_cache():
    """Drop every cached active version of this process."""
    _active_cache.clear()
    _rollout_cache.clear()
    _version_cache.clear()


def prompt_versions(*, task_type, name):
    """All versions of one prompt, newest first."""
    return PromptTemplate.objects.filter(task_type=task_type, name=name).order_by("-version")


def prompt_activation_history(*, task_type, name):
    """Every activation and rollback of one prompt, newest first, with the versions it switched between."""
    return PromptActivation.objects.filter(task_type=task_type, name=name).select_related(
        "from_version", "to_version"
    )


def running_rollout(*, task_type, name):
    """The prompt's running canary, or None."""
    return (
        PromptRollout.objects.filter(task_type=task_type, name=name, state=PromptRollout.State.RUNNING)
        .select_related("baseline", "candidate")
        .first()
    )


def running_rollouts():
    return PromptRollout.objects.filter(state=PromptRollout.State.RUNNING).select_related("baseline", "candidate")


def ended_rollouts(*, since):
    """Canaries that ended (rolled back, promoted, stopped) since `since`, newest first."""
    return (
        PromptRollout.objects.filter(ended_at__gte=since)
        .exclude(state=PromptRollout.State.RUNNING)
        .select_related("baseline", "candidate")
        .order_by("-ended_at")
    )


def pending_requests():
    """Four-eyes requests waiting for a decision, oldest first."""
    return (
        ActivationRequest.objects.filter(status=ActivationRequest.Status.PENDING)
        .select_related("template")
        .order_by("requested_at")
    )


def prompt_requests(*, task_type, name):
    """Every four-eyes request of one prompt, newest first."""
    return ActivationRequest.objects.filter(task_type=task_type, name=name).select_related("template")


def prompt_rollouts(*, task_type, name):
    """Every canary of one prompt, newest first."""
    return PromptRollout.objects.filter(task_type=task_type, name=name).select_related("baseline", "candidate")


def active_version(*, task_type, name):
    """The active version of a prompt (uncached), or None."""
    return PromptTemplate.objects.filter(task_type=task_type, name=name, is_active=True).first()


def version_before(current, versions):
    """The version that was active before `current` (by the audit trail), or None for a first version.

    Without an audit row (activated before the audit existed) it is the next lower of `versions`.
    """
    last_activation = (
        PromptActivation.objects.filter(to_version=current, from_version__isnull=False)
        .select_related("from_version")
        .first()
    )
    if last_activation is not None:
        return last_activation.from_version
    return next((v for v in sorted(versions, key=lambda v: -v.version) if v.version < current.version), None)


def rollback_target(*, task_type, name, versions=None):
    """(the active version, the version a rollback re-activates) of a prompt, among `versions` (the service
    passes the rows it locked; by default all of the prompt's versions).

    Raises RollbackUnavailable when no version is active or the active one has none before it.
    """
    if versions is None:
        versions = list(prompt_versions(task_type=task_type, name=name))
    current = next((v for v in versions if v.is_active), None)
    if current is None:
        raise RollbackUnavailable(
            gettext("%(prompt)s has no active version to roll back from.") % {"prompt": f"{task_type}.{name}"}
        )
    previous = version_before(current, versions)
    if previous is None:
        raise RollbackUnavailable(
            gettext("%(version)s is the first version of %(prompt)s; nothing to roll back to.")
            % {"version": current, "prompt": f"{task_type}.{name}"}
        )
    return current, previous
