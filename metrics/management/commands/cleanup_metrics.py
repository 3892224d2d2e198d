"""Delete expired raw metrics of rolled-up days, as the nightly jobs do, with progress and a summary."""

from django.conf import settings
from django.core.management.base import BaseCommand
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
        verb = "Would delete" if dry_run else "Deleted"
        parts = [f"{count} {kind}" for kind, count in counts.items()]
        per_kind = " and ".join(filter(None, [", ".join(parts[:-1]), parts[-1]]))
        self.stdout.write(
            f"{verb} {per_kind} raw row(s) (retention {settings.METRICS_RAW_RETENTION_DAYS} days, rolled-up days only)."
        )
