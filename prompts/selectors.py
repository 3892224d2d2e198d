"""Reads of prompts, including the per-process cache of active prompts.

The cache: every process keeps `(task_type, name) -> (version, checked_at)`. A hit younger than
PROMPT_CACHE_TTL_SECONDS (1 s) costs no query. An older one costs one query for the active row,
answered by the partial unique index on (task_type, name) WHERE is_active. So an activation
made in any process is seen by every other process within the TTL, and no call ever costs more
than one single-row indexed query. The activating process drops its own
entry when the transaction commits, so it sees its change at once. Compiled Jinja2 templates are
cached separately by source text (`prompts.rendering.compile_template`).
"""

import time

from django.conf import settings

from prompts.errors import NoActivePrompt
from prompts.models import PromptActivation, PromptTemplate

_active_cache = {}


def get_active_prompt(task_type, name):
    """The active version of a prompt, cached per process with bounded staleness."""
    key = (task_type, name)
    now = time.monotonic()
    cached = _active_cache.get(key)
    if cached is not None and now - cached[1] < settings.PROMPT_CACHE_TTL_SECONDS:
        return cached[0]
    template = PromptTemplate.objects.filter(task_type=task_type, name=name, is_active=True).first()
    if template is None:
        _active_cache.pop(key, None)
        raise NoActivePrompt(task_type, name)
    if cached is not None and cached[0].pk == template.pk:
        template = cached[0]  # same immutable version: keep the object callers may already hold
    _active_cache[key] = (template, now)
    return template


def forget_active_prompt(task_type, name):
    _active_cache.pop((task_type, name), None)


def clear_active_prompt_cache():
    _active_cache.clear()


def prompt_versions(*, task_type, name):
    """All versions of one prompt, newest first, with their activation history."""
    return PromptTemplate.objects.filter(task_type=task_type, name=name).order_by("-version")


def prompt_activation_history(*, task_type, name):
    return PromptActivation.objects.filter(task_type=task_type, name=name).select_related(
        "from_version", "to_version"
    )


def active_prompts():
    """The active version of every prompt, for overviews."""
    return PromptTemplate.objects.filter(is_active=True).order_by("task_type", "name")
