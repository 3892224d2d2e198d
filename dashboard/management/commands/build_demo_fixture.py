import json

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.demo import END, demo_fixture


class Command(BaseCommand):
    help = "Write fixtures/demo.json (the demo for `loaddata demo`); deterministic: the same file every run."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "fixtures" / "demo.json"))

    def handle(self, *args, output, **options):
        rows = demo_fixture()
        with open(output, "w", encoding="utf-8") as file:
            json.dump(rows, file, ensure_ascii=False, indent=1)
            file.write("\n")
        self.stdout.write(f"Wrote {len(rows)} rows ending {END} to {output}.")
