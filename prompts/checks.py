"""System checks of the release settings: the gate's validators load, and production runs four-eyes."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from prompts.gate import activation_validators


@checks.register()
def check_activation_validators(app_configs=None, **kwargs):
    """Every PROMPT_ACTIVATION_VALIDATORS entry can be loaded and built: found at start-up, not at activation."""
    try:
        validators = activation_validators()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="prompts.E001", hint="Fix PROMPT_ACTIVATION_VALIDATORS in settings.py.")]
    return [
        checks.Error(f"{name} has no validate(*, template, active) method.", id="prompts.E002")
        for name, validator in validators
        if not callable(getattr(validator, "validate", None))
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_four_eyes(app_configs=None, **kwargs):
    if settings.PROMPT_FOUR_EYES:
        return []
    return [checks.Warning(
        "PROMPT_FOUR_EYES is off: one operator alone can make a prompt version answer every creditor's e-mail.",
        hint="Set PROMPT_FOUR_EYES=True in production.", id="prompts.W001",
    )]
