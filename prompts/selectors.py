"""Reads of prompts, including the per-process cache of active prompts.

The cache: every process keeps `(task_type, name) -> (version, checked_at)`. A hit younger than
PROMPT_CACHE_TTL_SECONDS (1 s) costs no query. An older hit costs one indexed query for the
active version's primary key (the partial unique index answers it); only if that changed is the
new version loaded. So an activation made in any process is seen by every other process within
the TTL, and no call ever costs more than one cheap query. The activating process drops its own
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
    if cached is not None:
        template, checked_at = cached
        if now - checked_at < settings.PROMPT_CACHE_TTL_SECONDS:
            return template
        active_pk = (
            PromptTemplate.objects.filter(task_type=task_type, name=name, is_active=True)
            .values_list("pk", flat=True)
            .first()
        )
        if active_pk == template.pk:
            _active_cache[key] = (template, now)
            return template
    template = PromptTemplate.objects.filter(task_type=task_type, name=name, is_active=True).first()
    if template is None:
        _active_cache.pop(key, None)
        raise NoActivePrompt(task_type, name)
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
