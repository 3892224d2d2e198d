"""Activation validators for the gate's tests (configured through PROMPT_ACTIVATION_VALIDATORS)."""

from django.core.exceptions import ValidationError

from prompts.errors import ActivationBlocked


class MaximumVersionValidator:
    """Blocks versions above `maximum`; notes which version passed."""

    def __init__(self, maximum):
        self.maximum = maximum

    def validate(self, *, template, active):
        if template.version > self.maximum:
            raise ActivationBlocked(f"v{template.version} is above v{self.maximum}")
        return f"v{template.version} ≤ v{self.maximum}, replacing {active}"


class ModelNameValidator:
    """Blocks versions of another model, the way Django's validators do (a ValidationError)."""

    def __init__(self, model_name):
        self.model_name = model_name

    def validate(self, *, template, active):
        if template.model_name != self.model_name:
            raise ValidationError(f"model {template.model_name} is not {self.model_name}")
        return None


def gate(*validators):
    """A PROMPT_ACTIVATION_VALIDATORS value: (class name, options) pairs from this module."""
    return [{"NAME": f"{__name__}.{name}", "OPTIONS": options} for name, options in validators]
