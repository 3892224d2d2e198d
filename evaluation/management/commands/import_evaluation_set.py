"""Import an exported evaluation set: the e-mails through the normal ingestion, the expected values as reviews."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext, ngettext

from evaluation.errors import EvaluationError
from evaluation.transfer import evaluation_set_import


class Command(BaseCommand):
    help = "Create an evaluation set from a folder written by export_evaluation_set (cases marked imported)."

    def add_arguments(self, parser):
        parser.add_argument("folder")
        parser.add_argument("--by", required=True, help="User name of the operator the reviews are recorded for.")
        parser.add_argument("--name", help="Name of the new set (default: the exported set's name).")

    def handle(self, *args, folder, by, name, **options):
        user = get_user_model().objects.filter(username=by).first()
        if user is None:
            raise CommandError(gettext("No user %(name)s.") % {"name": by})
        try:
            evaluation_set = evaluation_set_import(folder=folder, reviewed_by=user, name=name)
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        count = evaluation_set.cases.count()
        self.stdout.write(ngettext(
            "Evaluation set “%(name)s” imported with %(count)s case.",
            "Evaluation set “%(name)s” imported with %(count)s cases.", count,
        ) % {"name": evaluation_set.name, "count": count})
