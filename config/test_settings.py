"""Test settings: the product's settings with tasks run inline and fast password hashing."""

import os
import tempfile

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

# django-q2 reads Q_CLUSTER once at import, so sync mode has to be set here, not per test.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PROMPT_CACHE_TTL_SECONDS = 1.0

# A file, not an in-memory database, so tests can start a second process that sees the same data;
# one per pytest process, so parallel runs never share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"creditor-mail-test-{os.getpid()}.sqlite3")
    }

# The suite's assertions read in English, whatever the product's default; the German interface (the default) is
# proven by config/tests/test_translations.py and the browser tour in both languages.
LANGUAGE_CODE = "en"
