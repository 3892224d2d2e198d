"""Delete expired raw metrics of rolled-up days, as the nightly jobs do, with progress and a summary."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext
from tqdm import tqdm

from metrics import services


class Command(BaseCommand):
    help = (
        "Delete raw metric rows older than METRICS_RAW_RETENTION_DAYS, only for days already rolled up, "
        "in batches of METRICS_CLEANUP_BATCH_SIZE. --dry-run only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, dry_run, **options):
        counts = services.cleanup_raw_metrics(
            dry_run=dry_run, progress=lambda days: tqdm(days, unit="day", disable=None)
        )
        # The kinds are the --kind values of rollup_metrics (prompt, operational, accuracy): not translated.
        parts = [f"{count} {kind}" for kind, count in counts.items()]
        per_kind = parts[-1] if len(parts) == 1 else (
            # Translators: the end of a list: "5 prompt, 0 operational and 0 accuracy".
            gettext("%(first)s and %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}
        )
        values = {"per_kind": per_kind, "days": settings.METRICS_RAW_RETENTION_DAYS}
        if dry_run:
            message = gettext("Would delete %(per_kind)s raw row(s) (retention %(days)s days, rolled-up days only).")
        else:
            message = gettext("Deleted %(per_kind)s raw row(s) (retention %(days)s days, rolled-up days only).")
        self.stdout.write(message % values)
