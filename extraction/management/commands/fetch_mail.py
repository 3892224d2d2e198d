"""Fetch the practice's IMAP mailbox (IMAP_URL) by hand: once, or every IMAP_FETCH_MINUTES until stopped."""

from time import sleep

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from tqdm import tqdm

from extraction import services
from extraction.management.commands.ingest_emails import _quiet_queue_log


class Command(BaseCommand):
    help = (
        "Fetch new mail from the IMAP mailbox (IMAP_URL), ingest each message once and move it to "
        "IMAP_PROCESSED_FOLDER. The worker's schedule does the same every minute; this is for a first "
        "import, a check of the settings, or a machine without a worker."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Fetch once and exit (else: repeat until Ctrl-C).")

    def handle(self, *args, once, **options):
        counts = self._fetch_once()
        while not once:
            try:
                sleep(max(1, settings.IMAP_FETCH_MINUTES) * 60)
            except KeyboardInterrupt:
                self.stdout.write(gettext("Stopped."))
                return
            counts = self._fetch_once()
        if counts["error"]:
            raise CommandError(
                gettext("The fetch stopped (see the error above); the next run continues where it stopped.")
            )

    def _fetch_once(self):
        # tqdm hides itself when stderr is not a terminal (cron, CI, tests).
        with tqdm(unit="msg", desc="Fetching", disable=None) as bar, _quiet_queue_log():
            def progress(counts, total):
                bar.total = total
                bar.n = counts["fetched"] + counts["vanished"]
                bar.set_postfix({k: counts[k] for k in ("ingested", "duplicates", "failed")}, refresh=True)

            counts = services.imap_fetch(progress=progress)
        if counts["skipped"]:
            self.stdout.write(gettext("%(mailbox)s: not fetched: %(skipped)s.") % counts)
            return counts
        self.stdout.write(gettext(
            "%(mailbox)s: %(fetched)s fetched, %(ingested)s new e-mail(s) queued, %(duplicates)s duplicate(s), "
            "%(failed)s unreadable (left in the mailbox), %(vanished)s deleted meanwhile; %(moved)s moved, "
            "%(flagged)s flagged."
        ) % counts)
        if counts["error"]:
            self.stderr.write(f"ERROR {counts['error']}")
        return counts
