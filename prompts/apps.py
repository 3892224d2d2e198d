from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PromptsConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'prompts'
    verbose_name = _("Prompts")

    def ready(self):
        from prompts import checks  # noqa: F401 - registers the system checks
