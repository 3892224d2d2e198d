"""Write operations on prompts. Admin actions, commands and tests all come through here."""

import zlib

from django.db import connection, transaction

from prompts import selectors
from prompts.errors import RollbackUnavailable
from prompts.models import PromptActivation, PromptTemplate


def _lock_prompt_versions(*, task_type, name):
    """Serialise every writer of one prompt (versions, activations) and return its versions, locked.

    PostgreSQL: a transaction-scoped advisory lock on the prompt's key, which also holds while the
    prompt has no version yet (row locks cannot lock rows that do not exist, so two first versions
    would collide on the version number), then row locks. SQLite's IMMEDIATE transactions already
    serialise all writers.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"prompts:{task_type}.{name}".encode())])
    return list(
        PromptTemplate.objects.select_for_update().filter(task_type=task_type, name=name).order_by("version")
    )


def prompt_create_version(*, source, created_by, description, **changes):
    """Create the next version of `source`'s prompt, copying it with `changes` applied (inactive)."""
    unknown = set(changes) - set(PromptTemplate.EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable in a new version: {', '.join(sorted(unknown))}")
    return prompt_create_next_version(
        task_type=source.task_type, name=source.name, created_by=created_by, description=description,
        **{field: changes.get(field, getattr(source, field)) for field in PromptTemplate.EDITABLE_FIELDS},
    )


@transaction.atomic
def prompt_create_next_version(*, task_type, name, created_by, description="", **fields):
    """Create the next version of `task_type.name` from complete content (version 1 of a new prompt),
    inactive until someone activates it. Concurrent calls get consecutive numbers, never a collision."""
    versions = _lock_prompt_versions(task_type=task_type, name=name)
    template = PromptTemplate(
        task_type=task_type, name=name, version=max((v.version for v in versions), default=0) + 1,
        created_by=created_by, description=description, **fields,
    )
    template.full_clean()
    template.save()
    return template


def prompt_activate(*, template, activated_by, kind=PromptActivation.Kind.ACTIVATE):
    """Make `template` the active version of its prompt. Returns the audit row, or None if it already was."""
    with transaction.atomic():
        versions = _lock_prompt_versions(task_type=template.task_type, name=template.name)
        current = next((v for v in versions if v.is_active), None)
        if current is not None and current.pk == template.pk:
            return None
        # Deactivate first: the partial unique index allows one active row at every moment.
        if current is not None:
            PromptTemplate.objects.filter(pk=current.pk).update(is_active=False)
        PromptTemplate.objects.filter(pk=template.pk).update(is_active=True)
        activation = PromptActivation.objects.create(
            task_type=template.task_type,
            name=template.name,
            from_version=current,
            to_version=template,
            kind=kind,
            activated_by=activated_by,
        )
        transaction.on_commit(lambda: selectors.forget_active_prompt(template.task_type, template.name))
    template.is_active = True
    return activation


def prompt_rollback(*, task_type, name, activated_by):
    """Re-activate the version that was active before the current one: by the audit trail, or the
    next lower version for one activated before the audit existed."""
    with transaction.atomic():
        versions = _lock_prompt_versions(task_type=task_type, name=name)
        current = next((v for v in versions if v.is_active), None)
        if current is None:
            raise RollbackUnavailable(f"{task_type}.{name} has no active version to roll back from.")
        previous = _version_before(current, versions)
        if previous is None:
            raise RollbackUnavailable(f"{current} is the first version of {task_type}.{name}; nothing to roll back to.")
        return prompt_activate(template=previous, activated_by=activated_by, kind=PromptActivation.Kind.ROLLBACK)


def _version_before(current, versions):
    last_activation = (
        PromptActivation.objects.filter(to_version=current, from_version__isnull=False)
        .select_related("from_version")
        .first()
    )
    if last_activation is not None:
        return last_activation.from_version
    # No audit trail (e.g. activated before the audit existed): fall back to the next lower version.
    return next((v for v in reversed(versions) if v.version < current.version), None)
