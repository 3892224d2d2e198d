"""The soak run, end to end: its own process, a throw-away database, real clusters, nothing lost."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from devtools import databases


@pytest.mark.slow
def test_a_small_soak_run_accounts_for_every_email_and_leaves_no_database_behind():
    # The soak creates its database on the server of DATABASE_URL (this test run's), never the test database.
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = databases.database_url({**connection.settings_dict, "NAME": "postgres"})
    result = subprocess.run(
        [sys.executable, "-m", "devtools.soak", "--emails", "24", "--fault-rate", "0.2", "--max-seconds", "150"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^24 e-mails, (1|3) cluster\(s\), orm broker, (sqlite|postgresql)", result.stdout, re.MULTILINE)
    assert re.search(r"^  lost: +0$", result.stdout, re.MULTILINE)
    assert re.search(r"^  ran more than once: +0$", result.stdout, re.MULTILINE)
    processed = int(re.search(r"^  processed: +(\d+)", result.stdout, re.MULTILINE).group(1))
    failed = int(re.search(r"^  failed with reason: +(\d+)", result.stdout, re.MULTILINE).group(1))
    assert processed + failed == 24 and processed > 0
