"""Roll metrics up by hand: one day, a range (backfill), or, without arguments, the nightly catch-up."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext
from tqdm import tqdm

from metrics import selectors, services
from metrics.days import days_between, parse_day

KINDS = list(services.ROLLUPS)


class Command(BaseCommand):
    help = (
        "Aggregate raw metrics into the daily tables for --date D or --from D --to D (local days, YYYY-MM-DD). "
        "Without dates: every day not yet rolled up plus the last METRICS_REAGGREGATE_DAYS days. "
        "Days whose raw rows were already cleaned are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=parse_day, help="One local day.")
        parser.add_argument("--from", dest="first", type=parse_day, help="First day of a range (inclusive).")
        parser.add_argument("--to", dest="last", type=parse_day, help="Last day of a range (inclusive).")
        parser.add_argument("--kind", choices=[*KINDS, "all"], default="all", help="Which raw table (default all).")

    def handle(self, *args, date, first, last, kind, **options):
        kinds = KINDS if kind == "all" else [kind]
        days_by_kind = self._days(kinds, date, first, last)
        summary = {}
        with tqdm(total=sum(len(days) for days in days_by_kind.values()), unit="day", disable=None) as bar:

            def progress(items):
                for item in items:
                    yield item
                    bar.update()

            for k, days in days_by_kind.items():
                summary[k] = services.rollup_days(kinds=[k], days=days, progress=progress)[k]
        # The kinds are the --kind values (prompt, operational, accuracy): not translated.
        parts = [
            (
                gettext("%(kind)s: %(days)s day(s), %(rows)s daily row(s), %(skipped)s cleaned day(s) skipped")
                if s["skipped"] else gettext("%(kind)s: %(days)s day(s), %(rows)s daily row(s)")
            ) % {"kind": k, **s}
            for k, s in summary.items()
        ]
        self.stdout.write(gettext("Rolled up %(summary)s.") % {"summary": "; ".join(parts)})

    def _days(self, kinds, date, first, last):
        if date and (first or last):
            raise CommandError(gettext("Use either --date or --from/--to, not both."))
        if bool(first) != bool(last):
            raise CommandError(gettext("--from and --to go together."))
        if first and first > last:
            raise CommandError(gettext("--from must not be after --to."))
        if date:
            return {k: [date] for k in kinds}
        if first:
            return {k: days_between(first, last) for k in kinds}
        today = timezone.localdate()
        return {
            k: selectors.days_needing_rollup(kind=k, today=today, reaggregate_days=settings.METRICS_REAGGREGATE_DAYS)
            for k in kinds
        }
