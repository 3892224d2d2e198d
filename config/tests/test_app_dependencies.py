"""The apps depend on each other one way only: prompts ← metrics ← extraction ← dashboard.

`prompts` is the ground and imports no other app; `metrics` is a leaf that the apps above write to and
read from, and imports only `prompts`. A reference counts whatever its form: an import, a lazy model
reference ("extraction.IncomingEmail"), `apps.get_model("extraction", ...)`, `import_module(...)`, or a
task path ("extraction.tasks...") handed to django-q2. Migrations are left out: they record the schema as
it was (metrics 0001 had a foreign key to extraction's e-mails).
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

MAY_USE = {
    "prompts": set(),
    "metrics": {"prompts"},
    "extraction": {"prompts", "metrics"},
    "dashboard": {"prompts", "metrics", "extraction"},
}
APPS = set(MAY_USE)

# Calls whose first (string) argument names a module, a model or a task of some app.
NAMING_CALLS = {"import_module", "get_model", "ForeignKey", "OneToOneField", "ManyToManyField", "async_task",
                "schedule"}


def _name_of(func):
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _app_of(dotted):
    return dotted.split(".")[0]


def referenced_apps(source):
    """(line, app) for every app a module's source refers to."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, _app_of(alias.name)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, _app_of(node.module)))
        elif isinstance(node, ast.Call) and _name_of(node.func) in NAMING_CALLS:
            strings = [arg for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            strings += [kw.value for kw in node.keywords if kw.arg == "to" and isinstance(kw.value, ast.Constant)]
            found += [(node.lineno, _app_of(string.value)) for string in strings]
        elif isinstance(node, ast.Dict):  # schedule specs: {"func": "extraction.tasks.…"}
            found += [
                (node.lineno, _app_of(value.value))
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "func" and isinstance(value, ast.Constant)
            ]
    return [(line, app) for line, app in found if app in APPS]


def modules_of(app):
    root = Path(settings.BASE_DIR) / app
    return sorted(path for path in root.rglob("*.py") if "migrations" not in path.relative_to(root).parts)


@pytest.mark.parametrize("app", sorted(MAY_USE))
def test_an_app_refers_only_to_the_apps_below_it(app):
    wrong = [
        f"{path.relative_to(settings.BASE_DIR)}:{line} refers to {other}"
        for path in modules_of(app)
        for line, other in referenced_apps(path.read_text(encoding="utf-8"))
        if other != app and other not in MAY_USE[app]
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("source", "apps"),
    [
        ("import extraction.models", ["extraction"]),
        ("from extraction.models import IncomingEmail", ["extraction"]),
        ("from . import selectors", []),
        ("email = models.ForeignKey('extraction.IncomingEmail', on_delete=models.CASCADE)", ["extraction"]),
        ("email = models.ForeignKey(to='extraction.IncomingEmail', on_delete=models.CASCADE)", ["extraction"]),
        ("Email = apps.get_model('extraction', 'IncomingEmail')", ["extraction"]),
        ("tasks = importlib.import_module('extraction.tasks')", ["extraction"]),
        ("SCHEDULES = [{'name': 'x', 'func': 'extraction.tasks.recover_stranded_emails'}]", ["extraction"]),
        ("async_task('dashboard.tasks.x', 1)", ["dashboard"]),
        ("KEY = 'extraction.email_body'  # a prompt key, not a reference to the app", []),
        ("from django.db import models", []),
    ],
)
def test_every_form_of_reference_to_an_app_is_found(source, apps):
    assert [app for _, app in referenced_apps(source)] == apps
