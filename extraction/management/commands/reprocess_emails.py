"""Queue e-mails in a given status (by default: failed) for processing again."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

from extraction import selectors, services
from extraction.models import IncomingEmail


class Command(BaseCommand):
    help = "Re-queue e-mails for processing, e.g. after a missing API key or an API outage was fixed."

    def add_arguments(self, parser):
        parser.add_argument(
            "--status", action="append", choices=sorted(services.REQUEUEABLE),
            help="Status of the e-mails to re-queue (repeatable); default: failed.",
        )
        parser.add_argument("--limit", type=int, default=None, help="Re-queue at most this many.")

    def handle(self, *args, status=None, limit=None, **options):
        statuses = status or [IncomingEmail.Status.FAILED]
        emails = selectors.emails_with_status(statuses=statuses)
        if limit is not None:
            if limit < 1:
                raise CommandError(gettext("--limit must be at least 1."))
            emails = emails[:limit]
        queued = sum(services.email_requeue(email=email) for email in emails.iterator())
        self.stdout.write(gettext("%(count)s e-mail(s) re-queued (status: %(statuses)s).")
                          % {"count": queued, "statuses": ", ".join(statuses)})
