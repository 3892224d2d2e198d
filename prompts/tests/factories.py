"""Small helpers for tests that need operators, their permissions and extra prompt versions."""

from django.contrib.auth.models import Permission, User

from prompts.services import prompt_create_version

VIEW = "prompts.view_prompttemplate"
CREATE_VERSION = "prompts.create_version"
ACTIVATE_VERSION = "prompts.activate_version"
VIEW_ACTIVATIONS = "prompts.view_promptactivation"
OPERATOR_PERMISSIONS = (VIEW, CREATE_VERSION, ACTIVATE_VERSION, VIEW_ACTIVATIONS)


def make_staff_user(username, *permissions):
    """A staff user (not a superuser) holding exactly `permissions` ("app_label.codename")."""
    user = User.objects.create_user(username=username, password="unused", is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def login(client, username, *permissions):
    """Sign `client` in as a new staff user with `permissions`; returns the client."""
    client.force_login(make_staff_user(username, *permissions))
    return client


def make_version(source, *, created_by="erika", description="Test change", **changes):
    """The next version of `source`'s prompt, through the service (inactive)."""
    return prompt_create_version(source=source, created_by=created_by, description=description, **changes)
