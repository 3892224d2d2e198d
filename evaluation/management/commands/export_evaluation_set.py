"""Export an evaluation set as a folder of .eml files plus expected.json."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext, ngettext

from evaluation.errors import EvaluationError
from evaluation.models import EvaluationSet
from evaluation.transfer import evaluation_set_export


class Command(BaseCommand):
    help = "Write an evaluation set to a new folder: one .eml file per case and expected.json."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Name of the set.")
        parser.add_argument("folder", help="A new or empty folder.")

    def handle(self, *args, name, folder, **options):
        evaluation_set = EvaluationSet.objects.filter(name=name).first()
        if evaluation_set is None:
            raise CommandError(gettext("No evaluation set named “%(name)s”.") % {"name": name})
        try:
            count = evaluation_set_export(evaluation_set=evaluation_set, folder=folder)
        except (EvaluationError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(ngettext(
            "%(count)s case of “%(name)s” written to %(folder)s.",
            "%(count)s cases of “%(name)s” written to %(folder)s.", count,
        ) % {"count": count, "name": name, "folder": folder})
