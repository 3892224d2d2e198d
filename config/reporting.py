"""What Django's error pages and mailed error reports may show."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding settings that are URLs with a password in them (IMAP_URL)."""

    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|IMAP_URL", flags=re.IGNORECASE)
