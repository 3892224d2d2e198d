"""Write fixtures/demo.json, the demo for `loaddata demo`: the same file on every run and every machine."""

import json
import os
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext

from dashboard import demo
from devtools.databases import migrate, throwaway_database


class Command(BaseCommand):
    help = (
        "Build the demo (dashboard/demo.py) in a throw-away SQLite database and write it to fixtures/demo.json. "
        "Deterministic: the same file on every run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "fixtures" / "demo.json"))
        parser.add_argument(
            "--in-this-database", action="store_true",
            help="Build in the configured database instead; it must be freshly migrated (nothing is kept in it).",
        )

    def handle(self, *args, output, in_this_database, **options):
        if in_this_database:
            try:
                rows = demo.build()
            except demo.DemoBuildError as exc:
                raise CommandError(str(exc)) from exc
            with open(output, "w", encoding="utf-8") as file:
                # One row per line: a regenerated file diffs row by row.
                file.write("[\n" + ",\n".join(
                    json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) for row in rows
                ) + "\n]\n")
            self.stdout.write(
                gettext("Wrote %(count)s rows ending %(day)s to %(path)s.")
                % {"count": len(rows), "day": demo.END.isoformat(), "path": output}
            )
            return
        # A fresh database every time, whatever the configured one holds: a throw-away SQLite file, migrated
        # and used by child processes (the configured database is never touched).
        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings")
        with throwaway_database(prefix="demo_build") as database:
            migrate(database.url, settings_module=settings_module)
            finished = subprocess.run(
                [sys.executable, "manage.py", "build_demo_fixture", "--in-this-database", "--output",
                 os.path.abspath(output)],
                cwd=settings.BASE_DIR, env={**os.environ, "DATABASE_URL": database.url}, capture_output=True,
                text=True, check=False,
            )
        if finished.returncode:
            raise CommandError(gettext("Building the demo failed:") + f"\n{finished.stderr}")
        self.stdout.write(finished.stdout, ending="")
