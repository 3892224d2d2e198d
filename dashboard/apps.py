from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The operators' pages: prompt performance, operations, and the admin index overview."""

    name = "dashboard"
    verbose_name = _("Operator dashboard")


class OperatorsAdminConfig(admin_apps.AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS so `admin.site` is the operators' site.

    Every `@admin.register` in the other apps uses `django.contrib.admin.site`, which is built from
    `default_site`: their registrations land on our site without any change to them.
    """

    default = False  # `dashboard` alone means DashboardConfig; this one is named in full in INSTALLED_APPS.
    default_site = "dashboard.sites.OperatorsAdminSite"
