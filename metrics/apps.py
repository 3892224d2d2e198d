from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self):
        from metrics.aggregates import register_sqlite_functions
        from metrics.schedules import register_schedules

        connection_created.connect(register_sqlite_functions, dispatch_uid="metrics_sqlite_functions")
        # sender=self: run once per migrate (after this app), not once per installed app.
        post_migrate.connect(register_schedules, sender=self, dispatch_uid="metrics_register_schedules")
