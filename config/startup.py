"""What `bin/start` asks before and while it starts the product: is the configuration usable, and is the
web server listening yet. Each problem is one short message an operator can act on, never a traceback.

    python -m config.startup check           settings load, the database answers, the API key is there
    python -m config.startup wait ADDRESS PID    returns once ADDRESS (host:port) accepts connections,
                                                 or fails when process PID ends first

Exit status: 0 usable, 2 not (the message says why and what to do).

The messages about a configuration that does not load stay untranslated: the settings that choose the
language are what failed. The API key notice comes after the settings loaded and is translatable.
"""

import argparse
import os
import socket
import sys
import time

from django.utils.translation import gettext_lazy

NOT_USABLE = 2

NO_API_KEY = gettext_lazy(
    "Note: ANTHROPIC_API_KEY is not set, so the worker cannot ask Claude: every e-mail would fail at its first "
    "model call.\n"
    "  Set it in the environment or in .env (ANTHROPIC_API_KEY=sk-ant-...), then start again;\n"
    "  or try the product without one: bin/start --demo (demo data in its own database, and a fake model on "
    "127.0.0.1 that reads the e-mails itself)."
)


class StartupProblem(Exception):
    """Something that keeps the product from starting; its message says what to do."""


def load_settings():
    """Set Django up; a configuration error (settings.py raises them) becomes a StartupProblem."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        django.setup()
    except (ImproperlyConfigured, ValueError) as exc:
        raise StartupProblem(f"the configuration is not usable: {exc}") from None


def check_database():
    """Open a connection to the default database, as migrate will."""
    from django.db import DatabaseError, connection

    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StartupProblem(
            f"the database {describe_database(connection.settings_dict)} cannot be used: {first_line}\n"
            "  Check DATABASE_URL (environment or .env), or unset it for the SQLite default."
        ) from None
    finally:
        connection.close()


def describe_database(settings_dict):
    """The database as an operator recognises it, without its password: "PostgreSQL h_db on 127.0.0.1:5432"."""
    engine = settings_dict["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"SQLite {settings_dict['NAME']}"
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"{engine} {settings_dict['NAME']} on {host}{port}"


def api_key_notice():
    """The notice to print when no API key is configured, else None (the product still starts without one)."""
    from django.conf import settings

    return None if settings.ANTHROPIC_API_KEY else str(NO_API_KEY)


def check(out=sys.stdout, err=sys.stderr):
    try:
        load_settings()
        check_database()
    except StartupProblem as exc:
        print(f"Cannot start: {exc}", file=err)
        return NOT_USABLE
    notice = api_key_notice()
    if notice:
        print(notice, file=out)
    return 0


def host_and_port(address):
    """runserver's address ("8000", "127.0.0.1:8000", "[::1]:8000") as (host to connect to, port)."""
    host, _sep, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return ("127.0.0.1" if host == "0.0.0.0" else "::1" if host == "::" else host), int(port)


def wait_until_listening(address, pid, *, timeout=120.0, interval=0.2):
    """True once `address` accepts a connection; False when process `pid` ends first or `timeout` passes."""
    host, port = host_and_port(address)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=interval):
                return True
        except OSError:
            pass
        if not process_alive(pid):
            return False
        time.sleep(interval)
    return False


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that has exited but not been reaped yet is a zombie: ended, for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m config.startup", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="settings, database and API key")
    wait = commands.add_parser("wait", help="until the web server listens")
    wait.add_argument("address")
    wait.add_argument("pid", type=int)
    wait.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check()
    return 0 if wait_until_listening(args.address, args.pid, timeout=args.timeout) else NOT_USABLE


if __name__ == "__main__":
    sys.exit(main())
