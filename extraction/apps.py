from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ExtractionConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'extraction'
    verbose_name = _("Extraction")

    def ready(self):
        from django_q.signals import post_spawn

        from extraction import checks  # noqa: F401  (registers the system checks)
        from extraction.llm import build_client_in_new_worker
        from extraction.schedules import register_schedules

        # sender=self: run once per migrate (after this app), not once per installed app.
        post_migrate.connect(register_schedules, sender=self, dispatch_uid="extraction_register_schedules")
        post_spawn.connect(build_client_in_new_worker, dispatch_uid="extraction_client_in_new_worker")
