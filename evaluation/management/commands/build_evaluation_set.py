"""Build an evaluation set from reviewed e-mails: filter by intent and date, optionally a seeded random sample."""

import datetime
import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext, ngettext

from evaluation import selectors, services
from evaluation.errors import EvaluationError
from extraction.models import Intent


def _date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(gettext("Not a date (YYYY-MM-DD): %(text)s") % {"text": text}) from exc


class Command(BaseCommand):
    help = "Create an evaluation set from reviewed e-mails (the reviews' answers are snapshotted as expected values)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Name of the new set.")
        parser.add_argument("--by", required=True, help="User name of the operator the set is created for.")
        parser.add_argument("--intent", choices=Intent.values, help="Only e-mails reviewed as this intent.")
        parser.add_argument("--from", dest="start", type=_date, help="Received on or after this local date.")
        parser.add_argument("--to", dest="end", type=_date, help="Received on or before this local date.")
        parser.add_argument("--sample", type=int, help="A random sample of this many of the matching e-mails.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the sample (the same seed, the same sample).")
        parser.add_argument("--description", default="")

    def handle(self, *args, name, by, intent, start, end, sample, seed, description, **options):
        user = get_user_model().objects.filter(username=by).first()
        if user is None:
            raise CommandError(gettext("No user %(name)s.") % {"name": by})
        ids = list(selectors.reviewed_emails(intent=intent, start=start, end=end).values_list("pk", flat=True))
        if sample is not None:
            if sample < 1:
                raise CommandError(gettext("--sample must be at least 1."))
            ids = sorted(random.Random(seed).sample(ids, min(sample, len(ids))))
        if not ids:
            raise CommandError(gettext("No reviewed e-mail matches these filters; nothing created."))
        try:
            evaluation_set = services.evaluation_set_create(
                name=name, emails=ids, created_by=user, description=description
            )
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(ngettext(
            "Evaluation set “%(name)s” created with %(count)s case.",
            "Evaluation set “%(name)s” created with %(count)s cases.", len(ids),
        ) % {"name": evaluation_set.name, "count": len(ids)})
