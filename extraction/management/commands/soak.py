"""A bounded soak run on a throw-away database: e-mails processed, failed with reason, lost (must be 0)."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from extraction.soak import run_soak


class Command(BaseCommand):
    help = (
        "Soak test (development tool, loopback only): start qcluster processes on a throw-away copy of the "
        "configured database, feed them e-mails against a flaky fake Anthropic API on 127.0.0.1, and report "
        "what became of every e-mail. Stops by itself; exits non-zero if any e-mail was lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("--emails", type=int, default=1000, help="E-mails to process (default 1000).")
        parser.add_argument(
            "--clusters", type=int, default=None,
            help="qcluster processes (default 3 on PostgreSQL, 1 on SQLite, where several are unsafe).",
        )
        parser.add_argument("--fault-rate", type=float, default=0.2, help="Share of API calls that fail (0..1).")
        parser.add_argument("--max-seconds", type=int, default=600, help="Stop after this long (default 600).")
        parser.add_argument(
            "--redis", metavar="URL", default=None,
            help="Use the Redis broker at URL (e.g. redis://127.0.0.1:6379/5; its soak queue is emptied).",
        )

    def handle(self, *args, emails, clusters, fault_rate, max_seconds, redis, **options):
        sqlite = "sqlite" in settings.DATABASES["default"]["ENGINE"]
        clusters = clusters or (1 if sqlite else 3)
        if sqlite and clusters > 1:
            raise CommandError("Several clusters on SQLite are unsafe; use PostgreSQL (DATABASE_URL) or --clusters 1.")
        if not (emails > 0 and 0 <= fault_rate <= 1 and max_seconds > 0):
            raise CommandError("--emails and --max-seconds must be positive, --fault-rate between 0 and 1.")
        # One INFO line per queued e-mail would drown the report; the clusters log to their own files.
        logging.getLogger("django-q").setLevel(logging.WARNING)
        self.stdout.write(f"Soak: {emails} e-mails, {clusters} cluster(s), {fault_rate:.0%} faulty API calls ...")

        shown = []

        def progress(done, total):
            if not shown or done - shown[-1] >= total / 10 or done == total:
                shown.append(done)
                self.stdout.write(f"  {done}/{total} e-mails in a final state")

        report = run_soak(
            emails=emails, clusters=clusters, fault_rate=fault_rate, max_seconds=max_seconds, redis_url=redis,
            progress=progress,
        )
        self.stdout.write(
            f"{report.emails} e-mails, {report.clusters} cluster(s), {report.broker} broker, {report.database}, "
            f"{report.seconds:.1f} s ({report.emails / report.seconds:.1f} e-mails/s), {report.requests} API requests"
        )
        self.stdout.write(f"  API faults served:  {dict(report.served.most_common())}")
        self.stdout.write(f"  processed:          {report.processed} {dict(report.statuses.most_common())}")
        self.stdout.write(f"  failed with reason: {report.failed}")
        for reason, count in report.failure_reasons.most_common():
            self.stdout.write(f"    {count:5d}  {reason}")
        self.stdout.write(f"  ran more than once: {len(report.processed_twice)}")
        self.stdout.write(f"  lost:               {len(report.lost)}")
        if report.lost or report.processed_twice:
            raise CommandError(
                f"{len(report.lost)} e-mail(s) lost, {len(report.processed_twice)} processed more than once."
            )
