"""English formats for operators who switch to English: unambiguous day-month order and a 24-hour clock.

Django's own English module writes "Nov. 20, 2026, 5:45 p.m." and "11/20/2026"; an office in Germany reading the
English interface would misread the second, so both forms are "20 Nov 2026" and "20 Nov 2026, 17:45".
"""

from django.conf.locale.en.formats import *  # noqa: F403

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
