"""Small helpers for tests that need operators, their permissions, extra prompt versions and concurrency."""

import threading

from django.contrib.auth.models import Permission, User
from django.db import connections

from prompts.services import prompt_create_version

VIEW = "prompts.view_prompttemplate"
CREATE_VERSION = "prompts.create_version"
ACTIVATE_VERSION = "prompts.activate_version"
VIEW_ACTIVATIONS = "prompts.view_promptactivation"
OPERATOR_PERMISSIONS = (VIEW, CREATE_VERSION, ACTIVATE_VERSION, VIEW_ACTIVATIONS)
APPROVE = "prompts.approve_activation"
OVERRIDE_GATE = "prompts.override_activation_gate"
VIEW_REQUESTS = "prompts.view_activationrequest"
VIEW_ROLLOUTS = "prompts.view_promptrollout"
# An operator who may also approve other operators' requests (four-eyes) and see requests and canaries.
APPROVER_PERMISSIONS = (*OPERATOR_PERMISSIONS, APPROVE, VIEW_REQUESTS, VIEW_ROLLOUTS)


def make_staff_user(username, *permissions, email=""):
    """A staff user (not a superuser) holding exactly `permissions` ("app_label.codename")."""
    user = User.objects.create_user(username=username, password="unused", is_staff=True, email=email)
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


def outcomes_at_once(function, items):
    """Call `function(item)` for all `items` at the same moment, one thread each; their results or exceptions."""
    outcomes = []
    barrier = threading.Barrier(len(items))

    def run(item):
        try:
            barrier.wait()
            outcomes.append(function(item))
        except Exception as exc:  # noqa: BLE001 - the caller asserts on what happened
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
