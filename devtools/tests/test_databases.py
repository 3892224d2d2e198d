"""The one throw-away-database helper: a unique database per use, reached through DATABASE_URL, always dropped."""

import json
import os
import subprocess
import sys

import psycopg2
import pytest
from django.conf import settings
from django.db import connection

from devtools import databases

POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", databases.DEFAULT_POSTGRES_SERVER)
PROBE = """
import json, sys
from devtools.databases import django_on_throwaway_database
server = sys.argv[1] or None
with django_on_throwaway_database(prefix="probe", server_url=server) as database:
    from django.conf import settings
    from django.db import connection
    from prompts.models import PromptTemplate
    print(json.dumps({"url": database.url, "vendor": connection.vendor, "name": str(connection.settings_dict["NAME"]),
                      "media": str(settings.MEDIA_ROOT), "directory": str(database.directory),
                      "active_prompts": PromptTemplate.objects.filter(is_active=True).count()}))
"""


def postgres_databases():
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database")
            return {name for (name,) in cursor.fetchall()}
    finally:
        conn.close()


def run_probe(server=""):
    result = subprocess.run([sys.executable, "-c", PROBE, server], cwd=settings.BASE_DIR, capture_output=True,
                            text=True, env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow  # a process of its own migrating a new database
def test_a_process_gets_a_migrated_sqlite_file_of_its_own_that_is_gone_afterwards():
    probe = run_probe()
    assert probe["vendor"] == "sqlite" and probe["active_prompts"] == 4  # migrated: the v1 prompts are seeded
    assert probe["name"].startswith(probe["directory"]) and probe["media"].startswith(probe["directory"])
    assert not os.path.exists(probe["directory"])


@pytest.mark.slow
@pytest.mark.postgres_only
def test_a_process_gets_a_migrated_postgresql_database_of_its_own_that_is_dropped_afterwards():
    probe = run_probe(POSTGRES_SERVER)
    name = probe["url"].rsplit("/", 1)[1]
    assert probe["vendor"] == "postgresql" and probe["active_prompts"] == 4 and name.startswith("probe_")
    assert name not in postgres_databases()


@pytest.mark.postgres_only
def test_a_throwaway_postgresql_database_is_dropped_even_when_the_job_fails():
    with pytest.raises(RuntimeError, match="job failed"), databases.throwaway_database(
        prefix="failing", server_url=POSTGRES_SERVER
    ) as database:
        assert database.url.rsplit("/", 1)[1] in postgres_databases()
        raise RuntimeError("job failed")
    assert not any(name.startswith(f"failing_{os.getpid()}_") for name in postgres_databases())


@pytest.mark.slow  # a process of its own migrating a new database
def test_a_subprocess_can_be_given_a_throwaway_database_and_migrate_it():
    with databases.throwaway_database(prefix="sub") as database, \
            databases.throwaway_database(prefix="sub") as other:
        assert database.url != other.url
        databases.migrate(database.url)
        assert os.path.getsize(database.url.removeprefix("sqlite:///")) > 0
    assert not database.directory.exists()


def test_setting_up_on_a_throwaway_database_after_django_setup_is_refused():
    with pytest.raises(RuntimeError, match="must run before django.setup"), \
            databases.django_on_throwaway_database(prefix="late"):
        pass


@pytest.mark.django_db
def test_the_url_of_the_test_database_points_a_subprocess_at_the_same_database():
    url = databases.database_url(connection.settings_dict)
    assert url.endswith(str(connection.settings_dict["NAME"]))
    assert databases.is_postgres(url) == (connection.vendor == "postgresql")
