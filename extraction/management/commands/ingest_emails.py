"""Import creditor e-mails from .eml files, mbox files and directories, and queue each new one."""

import contextlib
import logging

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from tqdm import tqdm

from extraction import ingest, services


class Command(BaseCommand):
    help = (
        "Import e-mails from .eml files, mbox files and directories (walked for *.eml / *.mbox). "
        "Duplicates (same Message-ID) are skipped; each new e-mail is queued for processing."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args, paths, **options):
        with _quiet_queue_log():
            counts, files = self._import(paths)
        self.stdout.write(gettext(
            "%(new)s new e-mail(s) queued, %(duplicate)s duplicate(s) skipped, %(failed)s failed, "
            "from %(files)s file(s)."
        ) % {**counts, "files": len(files)})
        if counts["failed"]:
            raise CommandError(gettext("%(failed)s message(s) could not be imported; see the errors above.") % counts)

    def _import(self, paths):
        counts = {"new": 0, "duplicate": 0, "failed": 0}
        files = list(ingest.expand_paths(paths))
        # tqdm hides itself when stderr is not a terminal (cron, CI, tests).
        with tqdm(total=len(files), unit="file", desc="Importing", disable=None) as progress:
            current_file = None
            for path, label, raw in ingest.iter_messages(files):
                if path != current_file:
                    if current_file is not None:
                        progress.update(1)
                    current_file = path
                outcome = self._ingest_one(label, raw)
                counts[outcome] += 1
                progress.set_postfix(counts, refresh=False)
            if current_file is not None:
                progress.update(1)
        return counts, files

    def _ingest_one(self, label, raw):
        if isinstance(raw, Exception):
            return self._error(label, gettext("cannot read the file: %(error)s") % {"error": raw})
        try:
            email = services.ingest_message(raw)
        except ingest.MalformedMessage as exc:
            return self._error(label, gettext("not a usable e-mail: %(error)s") % {"error": exc})
        except Exception as exc:  # one odd message must not stop an import of thousands
            return self._error(label, f"{type(exc).__name__}: {exc}")
        return "duplicate" if email.is_duplicate else "new"

    def _error(self, label, message):
        # Clear the progress bar while the line is written, so the error stays readable.
        with tqdm.external_write_mode():
            self.stderr.write(f"ERROR {label}: {message}")
        return "failed"


@contextlib.contextmanager
def _quiet_queue_log():
    # django-q2 logs one INFO line per queued task; thousands of them would bury the progress bar
    # and the error lines. The summary says how many were queued.
    logger = logging.getLogger("django-q")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
