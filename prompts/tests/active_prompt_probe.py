"""A second process for test_selectors: answers `get` with the active version it sees and its query count.

Run as `python -m prompts.tests.active_prompt_probe` with DATABASE_URL pointing at the test database.
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from prompts.selectors import get_active_prompt  # noqa: E402

for _request in sys.stdin:
    with CaptureQueriesContext(connection) as queries:
        version = get_active_prompt("classification", "email_intent").version
    print(version, len(queries), flush=True)
