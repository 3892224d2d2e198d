"""Export an evaluation set as a folder of .eml files plus expected.json."""

from django.core.management.base import BaseCommand, CommandError

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
            raise CommandError(f"No evaluation set named {name!r}.")
        try:
            count = evaluation_set_export(evaluation_set=evaluation_set, folder=folder)
        except (EvaluationError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{count} case(s) of {name!r} written to {folder}.")
