"""Create the first admin account if there is none, so a fresh install can be logged into."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Command(BaseCommand):
    help = _(
        "Create a superuser if no superuser exists. Credentials come from ADMIN_USERNAME / "
        "ADMIN_PASSWORD; without ADMIN_PASSWORD a random password is generated and printed once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(gettext("An admin account exists already; nothing to do."))
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        given = os.environ.get("ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(gettext("Created admin account '%(name)s'.") % {"name": username}))
        if not given:  # an empty ADMIN_PASSWORD counts as none: the generated one must be shown
            self.stdout.write(gettext("Its password (shown only this once): %(password)s") % {"password": password})
