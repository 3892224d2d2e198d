"""What the activation pages show about how well a version answers, supplied by the apps that know it.

`prompts` sits below every other app and knows nothing of reviews or experiments. As with the gate's validators,
PROMPT_ACTIVATION_EVIDENCE names functions

    evidence(*, template, active) -> str

(HTML; "" when there is nothing to show) that the activation confirmation and the release page put between the
diff and the button: an operator decides with the version's experiment and accuracy in front of them.
"""

from django.conf import settings
from django.utils.html import conditional_escape
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe


def activation_evidence(*, template, active):
    """The configured evidence for activating `template` in place of `active` (or None), as one HTML fragment."""
    parts = [import_string(path)(template=template, active=active) for path in settings.PROMPT_ACTIVATION_EVIDENCE]
    # A supplier's rendered template is already safe; anything else it returns is text and escaped.
    return mark_safe("".join(conditional_escape(part) for part in parts))  # noqa: S308 - every part escaped above
