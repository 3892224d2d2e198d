"""System check: the canary monitor's PROMPT_ROLLOUT_* settings make a valid rule (else no canary is judged)."""

from django.conf import settings
from django.core import checks

from evaluation.sequential import RolloutRule


@checks.register()
def check_rollout_rule(app_configs=None, **kwargs):
    try:
        RolloutRule.from_settings(settings)
    except (TypeError, ValueError) as exc:
        return [checks.Error(f"The canary monitor's settings are invalid: {exc}", id="evaluation.E001",
                             hint="Fix the PROMPT_ROLLOUT_* settings.")]
    return []
