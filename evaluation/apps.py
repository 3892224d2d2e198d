from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    """Judges prompt versions: the canary monitor (live), and evaluation sets and experiments (offline)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "evaluation"
    verbose_name = _("Evaluation")

    def ready(self):
        from evaluation import checks  # noqa: F401 - registers the system check
        from evaluation.schedules import register_schedules

        # Schedules are rows of django_q's table: register them once per migrate, when django_q's turn comes.
        post_migrate.connect(
            register_schedules, sender=apps.get_app_config("django_q"), dispatch_uid="evaluation_register_schedules"
        )
