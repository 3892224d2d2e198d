"""System checks (run by `manage.py check`, `migrate` and the servers): the IMAP settings and the review
sample rate are usable."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def imap_settings_check(app_configs, **kwargs):
    """An unusable IMAP_URL or IMAP_CA_FILE is reported at start-up (password masked), not every minute."""
    if not settings.IMAP_URL:
        return []
    from extraction import imap

    try:
        imap.parse_url(settings.IMAP_URL)
        imap.tls_context()
    except (ImproperlyConfigured, OSError, ValueError) as exc:
        return [Error(str(exc), id="extraction.E001")]
    return []


@register()
def review_sample_rate_check(app_configs, **kwargs):
    """REVIEW_SAMPLE_RATE is a probability; anything else would silently sample all or nothing."""
    rate = settings.REVIEW_SAMPLE_RATE
    if not 0 <= rate <= 1:
        return [Error(f"REVIEW_SAMPLE_RATE must be between 0 and 1, not {rate!r}.", id="extraction.E002")]
    return []
