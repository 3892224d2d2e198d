"""The operators' admin site: the stock admin plus the performance and operations pages and an index overview."""

from django.contrib import admin
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard import selectors, views
from metrics.days import local_day


class OperatorsAdminSite(admin.AdminSite):
    site_header = _("Creditor-answer analysis")
    site_title = _("Creditor-answer analysis")
    # index_title stays the stock admin's "Site administration" (Django's catalogue translates it).
    index_template = "dashboard/index.html"

    def get_urls(self):
        # Ours first: the stock catch-all `<app_label>/` pattern would otherwise answer these paths.
        return [
            path(
                "performance/<str:task_type>/<str:name>/",
                self.admin_view(self.performance_view),
                name="prompt_performance",
            ),
            path("operations/", self.admin_view(self.operations_view), name="operations"),
        ] + super().get_urls()

    def performance_view(self, request, task_type, name):
        return views.performance(request, site=self, task_type=task_type, name=name)

    def operations_view(self, request):
        return views.operations(request, site=self)

    def index(self, request, extra_context=None):
        extra_context = {
            **selectors.index_overview(user=request.user, today=local_day(timezone.now())),
            **(extra_context or {}),
        }
        return super().index(request, extra_context)
