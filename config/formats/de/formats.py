"""German formats as the practice writes them: 20.11.2026 and 20.11.2026 17:45, never "20. November 2026"."""

# Django's own German module is the base; only the long forms change, so the admin's lists, detail pages and
# our own pages all show the short form an office expects beside the dates it types into the forms.
from django.conf.locale.de.formats import *  # noqa: F403

DATE_FORMAT = "d.m.Y"
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
