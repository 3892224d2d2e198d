"""Throw-away databases for benchmarks, the soak run and tests: the one helper they all use.

A throw-away database is created empty under a unique name (a SQLite file in a temporary directory,
or a PostgreSQL database `<prefix>_<pid>_<random>` on a given server) and dropped afterwards, whatever
happened. Django reaches it the public way only: its URL goes into DATABASE_URL *before*
`django.setup()` (`django_on_throwaway_database`, for a process of its own such as a benchmark or
the soak run), or into the environment of a subprocess. Nothing here writes to Django's connection
settings or internals.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class ThrowawayDatabase:
    url: str  # DATABASE_URL of the new database
    directory: Path  # a temporary directory beside it (media files, logs), removed with it


def configured_database_url():
    """DATABASE_URL as the product would read it (environment, then .env), or None for the SQLite default."""
    if "DATABASE_URL" in os.environ:
        return os.environ["DATABASE_URL"]
    dotenv = BASE_DIR / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "DATABASE_URL":
                return value.strip().strip("'\"")
    return None


def database_url(settings_dict):
    """The DATABASE_URL of a connection's settings (e.g. the test database), for a subprocess."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict["USER"] or "", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict["PASSWORD"] else ""
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def is_postgres(url):
    return url is not None and urlsplit(url).scheme in ("postgres", "postgresql", "pgsql", "postgis")


def _connect(server_url, dbname):
    import psycopg2

    parts = urlsplit(server_url)
    connection = psycopg2.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password and unquote(parts.password), dbname=dbname,
    )
    connection.autocommit = True
    return connection


def _maintenance(server_url, sql):
    connection = _connect(server_url, urlsplit(server_url).path.lstrip("/") or "postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def unique_name(prefix):
    """`<prefix>_<pid>_<random>`: no two processes or runs share a throw-away database."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}".lower()


@contextlib.contextmanager
def throwaway_database(*, prefix, server_url=None):
    """Create an empty database and yield a ThrowawayDatabase; drop it (and its directory) afterwards.

    `server_url`: a postgres:// URL of the server to create it on (its path names the database to
    connect to for CREATE/DROP), or None for a SQLite file.
    """
    name = unique_name(prefix)
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    try:
        if not is_postgres(server_url):
            yield ThrowawayDatabase(url=f"sqlite:///{directory / (name + '.sqlite3')}", directory=directory)
            return
        _maintenance(server_url, f'CREATE DATABASE "{name}"')
        try:
            parts = urlsplit(server_url)
            yield ThrowawayDatabase(url=urlunsplit(parts._replace(path=f"/{name}")), directory=directory)
        finally:
            _maintenance(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def migrate(url, *, settings_module="config.settings"):
    """Run `manage.py migrate` against `url` in a subprocess (for a database this process does not use)."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": settings_module}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=BASE_DIR, env=env,
                   check=True)


@contextlib.contextmanager
def django_on_throwaway_database(*, prefix, server_url=None, settings_module="config.settings", media=True):
    """Set this process's Django up on a new, migrated throw-away database; drop it afterwards.

    Must run before `django.setup()` (settings are read once). With `media`, MEDIA_ROOT points into
    the database's temporary directory too. Yields the ThrowawayDatabase.
    """
    import django
    from django.apps import apps

    if apps.ready:
        raise RuntimeError(
            "django_on_throwaway_database() must run before django.setup(): Django reads DATABASE_URL once. "
            "Run the job in a process of its own (or give a subprocess the URL of throwaway_database())."
        )
    with throwaway_database(prefix=prefix, server_url=server_url) as database:
        os.environ["DATABASE_URL"] = database.url
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        if media:
            os.environ["MEDIA_ROOT"] = str(database.directory / "media")
        django.setup()
        from django.core.management import call_command
        from django.db import connections

        try:
            call_command("migrate", verbosity=0, interactive=False)
            yield database
        finally:
            connections.close_all()  # PostgreSQL: DROP DATABASE waits for no session of ours


def sequences_past_the_rows(connection):
    """Move every model's id sequence past its table's highest id (PostgreSQL; nothing to do on SQLite).

    A test that flushes (which restarts sequences) and puts rows back with their ids leaves the sequences below
    them: the next row inserted without an id would collide ("Key (id)=(1) already exists").
    """
    from django.apps import apps
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
            cursor.execute(statement)
