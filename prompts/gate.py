"""The activation gate: validators from PROMPT_ACTIVATION_VALIDATORS decide whether a version may serve.

Configured like AUTH_PASSWORD_VALIDATORS: a list of {"NAME": "dotted.path.Class", "OPTIONS": {...}}. Each
class is built with its OPTIONS as keyword arguments and has

    validate(*, template, active) -> str | None

`template` is the version about to serve (activation or canary), `active` the version serving now (or None).
It raises `prompts.errors.ActivationBlocked` (or a `ValidationError`) to refuse, and may return a short note
for the audit, e.g. which evaluation run passed. A rollback is never gated: it restores a version that served.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from prompts.errors import ActivationBlocked


def activation_validators():
    """The configured validators, built from PROMPT_ACTIVATION_VALIDATORS."""
    validators = []
    for entry in settings.PROMPT_ACTIVATION_VALIDATORS:
        try:
            validator = import_string(entry["NAME"])(**entry.get("OPTIONS", {}))
        except (ImportError, KeyError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"PROMPT_ACTIVATION_VALIDATORS: cannot load {entry.get('NAME')!r} ({exc})."
            ) from exc
        validators.append((entry["NAME"], validator))
    return validators


def gate_verdict(*, template, active):
    """{"passed": [{"validator", "note"}], "blocked": [reason, ...]}: what each validator says about `template`."""
    passed, blocked = [], []
    for name, validator in activation_validators():
        try:
            note = validator.validate(template=template, active=active)
        except ActivationBlocked as exc:
            blocked.extend(exc.reasons)
        except ValidationError as exc:
            blocked.extend(exc.messages)
        else:
            passed.append({"validator": name, "note": note or ""})
    return {"passed": passed, "blocked": blocked}


def gate_check(*, template, active, override_reason=None):
    """The gate's verdict for the audit; raises ActivationBlocked unless it passes or is overridden with a reason.

    Whoever passes `override_reason` must hold `prompts.override_activation_gate` (the admin checks it).
    """
    verdict = gate_verdict(template=template, active=active)
    if verdict["blocked"]:
        if not (override_reason or "").strip():
            raise ActivationBlocked(verdict["blocked"])
        verdict["overridden"] = True
    return verdict


class RequireOutputSchemaValidator:
    """Refuse versions without an output schema (their answers cannot be checked), for the given task types."""

    def __init__(self, task_types=("classification", "extraction")):
        self.task_types = tuple(task_types)

    def validate(self, *, template, active):
        if template.task_type in self.task_types and template.output_schema is None:
            raise ActivationBlocked(
                gettext("%(version)s has no output schema; %(task_type)s answers must be checked against one.")
                % {"version": template, "task_type": template.task_type}
            )
        return gettext("has an output schema") if template.output_schema is not None else None
