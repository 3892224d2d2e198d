"""The prompt template language: a whitelist over Jinja2's nodes, checked at save and again at render."""

import importlib
import inspect
import json
from pathlib import Path

import jinja2
import pytest
from django.conf import settings
from django.urls import reverse
from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError

from prompts import rendering, template_language
from prompts.errors import TemplateRenderError
from prompts.rendering import MAX_LOOP_ITERATIONS, check_template, render_template
from prompts.template_language import ALLOWED_NODES, JINJA2_VERSION, REFUSED_NODES

SEED = importlib.import_module("prompts.migrations.0002_seed_v1_prompts")
ABSTRACT_NODES = {nodes.Node, nodes.Stmt, nodes.Expr, nodes.Helper, nodes.BinExpr, nodes.UnaryExpr, nodes.Literal}


def test_the_whitelist_is_written_for_the_pinned_jinja2_version():
    # A Jinja2 upgrade may add node types or change the sandbox hooks: re-read jinja2.nodes and
    # jinja2.sandbox, classify every new node in template_language, then move this pin.
    assert jinja2.__version__ == JINJA2_VERSION
    requirements = (Path(settings.BASE_DIR) / "requirements.txt").read_text()
    assert f"Jinja2=={JINJA2_VERSION}" in requirements.splitlines()


def test_every_jinja2_node_type_is_either_allowed_or_refused_with_a_reason():
    concrete = {
        cls for cls in vars(nodes).values()
        if inspect.isclass(cls) and issubclass(cls, nodes.Node) and cls not in ABSTRACT_NODES
        and not cls.__name__.startswith("_")
    }
    assert concrete == set(ALLOWED_NODES) | set(REFUSED_NODES)
    assert not set(ALLOWED_NODES) & set(REFUSED_NODES)


def test_a_refusal_names_the_construct_and_its_line():
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template("Betreff: {{ subject }}\n\nText: {{ body.splitlines() }}")
    assert excinfo.value.lineno == 3
    assert excinfo.value.message.startswith("calling .splitlines(...) is not allowed in a prompt template")


@pytest.mark.parametrize("depth", [65, 5000])
def test_templates_nested_too_deep_are_refused_at_save_and_render_without_crashing(depth):
    source = "{{ " + "[" * depth + "1" + "]" * depth + " }}"
    with pytest.raises(TemplateSyntaxError, match="nest"):
        check_template(source)
    with pytest.raises(TemplateRenderError, match="nest"):
        render_template(source, {})


def test_a_template_nested_within_the_bound_renders():
    assert render_template("{{ " + "[" * 30 + "1" + "]" * 30 + "|length }}", {}) == "1"


@pytest.mark.parametrize(
    ("source", "refusal"),
    [
        ("{% for i in items %}{{ loop }}{% endfor %}", "the loop object itself"),
        ("{% for i in items %}{{ loop.cycle }}{% endfor %}", "loop.cycle"),
        ("{% for i in items %}{{ loop.changed }}{% endfor %}", "loop.changed"),
        ("{{ facts.items }}", "x['items'] for a key of that name"),
        ("{{ subject.format }}", "the method .format"),
        ("{{ subject|truncate(10000000) }}", "truncate's length must be a whole number from 0 to 1,000,000"),
        ("{{ subject|truncate(length=10000000) }}", "truncate's length"),
        ("{{ amount|round(16) }}", "round's precision"),
        ("{{ amount|int(0, 99) }}", "int's base"),
        ("{{ facts|tojson(indent=100) }}", "tojson's indent"),
        ("{{ subject|replace('a', 'b', 10000000) }}", "replace's count"),
        ("{{ subject|truncate(10, width=5) }}", "the argument 'width' of the filter 'truncate'"),
        ("{{ subject|upper(1) }}", "more than 0 argument(s) to the filter 'upper'"),
        ("{{ subject|truncate(*sizes) }}", "*args or **kwargs"),
        ("{{ subject is divisibleby(3) }}", "the test 'divisibleby'"),
        ("{{ subject is callable }}", "the test 'callable'"),
        ("{{ _private }}", "the name '_private'"),
        ("{{ subject['__class__'] }}", "access to '__class__'"),
        ("{{ 'Betreff: ' + subject }}", "'+' on text or lists"),
        ("{% autoescape true %}{{ subject }}{% endautoescape %}", "{% autoescape %}"),
        ("{% block x %}{{ subject }}{% endblock %}", "{% block %}"),
    ],
)
def test_constructs_outside_the_language_are_refused_at_save_with_a_reason(source, refusal):
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template(source)
    assert refusal in excinfo.value.message


def test_the_allowed_language_renders_what_a_prompt_needs():
    source = (
        "Betreff: {{ subject|trim|truncate(40) }}\n"
        "{% for amount in amounts if amount > 0 %}{{ loop.index }}. {{ amount|round(2) }} €"
        "{% if not loop.last %}, {% endif %}{% else %}keine Beträge{% endfor %}\n"
        "{{ facts['creditor']|upper }} / {{ facts.reference|default('ohne Zeichen') }} / {{ facts|length }}\n"
        "{% if debtor is defined and debtor is string %}{{ debtor|title }}{% elif debtor is none %}-{% endif %} "
        "{{ 'ja' if accepts else 'nein' }} {{ (total * 100 // 1)|int }} {{ names|join(', ')|lower }} "
        "{{ names|first }}~{{ names|last ~ '!' }} {{ '3,5'|replace(',', '.')|float + 1 }} {{ total|string }}\n"
        "{{ facts|tojson }}"
    )
    variables = {
        "subject": "  AW: Ihr Zeichen 4711  ", "amounts": [0, 12.345, 7], "debtor": "jürgen weiß",
        "facts": {"creditor": "Inkasso Süd", "reference": None}, "accepts": False, "total": 2.5,
        "names": ["Anna", "Ben"],
    }
    assert render_template(source, variables) == (
        "Betreff: AW: Ihr Zeichen 4711\n"
        "1. 12.35 €, 2. 7 €\n"
        "INKASSO SÜD / None / 2\n"
        "Jürgen Weiß nein 250 anna, ben Anna~Ben! 4.5 2.5\n"
        '{"creditor": "Inkasso Süd", "reference": null}'
    )


@pytest.mark.parametrize(
    "source",
    ["{{ subject.upper() }}", "{{ subject.upper }}", "{{ subject.format }}", "{{ 2 ** 3 }}", "{{ '%s' % subject }}",
     "{{ subject * 3 }}", "{{ subject + subject }}", "{{ subject['upper'] }}", "{{ subject|wordwrap(5) }}"],
)
def test_the_sandbox_refuses_calls_methods_and_operators_even_for_a_template_that_skipped_the_check(source):
    # The second line of defence: compiled straight from source, without template_language's walk.
    with pytest.raises((SecurityError, TemplateSyntaxError)):
        rendering._environment.from_string(source).render(subject="Forderung")


def test_the_sandbox_has_no_globals():
    assert rendering._environment.globals == {}


def test_loops_share_one_iteration_budget_per_render():
    nested = "{% for a in items %}{% for b in items %}.{% endfor %}{% endfor %}"
    allowed = int(MAX_LOOP_ITERATIONS ** 0.5) - 1
    assert len(render_template(nested, {"items": range(allowed)})) == allowed * allowed
    # A second render starts with a fresh budget.
    assert len(render_template(nested, {"items": range(allowed)})) == allowed * allowed
    with pytest.raises(TemplateRenderError, match="loop iterations"):
        render_template(nested, {"items": list(range(allowed + 2))})


def test_a_compiled_template_rendered_directly_is_budgeted_too():
    compiled = rendering.compile_template("{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}")
    with pytest.raises(SecurityError, match="loop iterations"):
        compiled.render(items=list(range(400)))


def demo_fixture_prompts():
    fixture = json.loads((Path(settings.BASE_DIR) / "fixtures" / "demo.json").read_text())
    return [row["fields"] for row in fixture if row["model"] == "prompts.prompttemplate"]


@pytest.mark.parametrize("prompt", SEED.PROMPTS + demo_fixture_prompts(), ids=lambda p: f"{p['name']}")
def test_the_seeded_and_demo_prompts_are_in_the_language_and_render(prompt):
    for text in (prompt["system_prompt"], prompt["user_prompt_template"]):
        check_template(text)
        render_template(text, dict.fromkeys(prompt["variables"], "Beispiel"))


@pytest.mark.django_db
def test_the_admin_forms_explain_the_allowed_language(client):
    from prompts.tests.factories import CREATE_VERSION, VIEW, login

    page = login(client, "erika", VIEW, CREATE_VERSION).get(reverse("admin:prompts_prompttemplate_add"))
    content = page.content.decode()
    assert "the filters default, upper, lower" in content
    assert "Not allowed: calling functions or methods" in content
    assert "(== != &lt; &gt; &lt;= &gt;= in)" in content
    assert template_language.ALLOWED_LANGUAGE.count("{% set %}") == 1


def test_a_list_that_contains_itself_twice_is_checked_once_not_walked_forever():
    shared = []
    shared.extend([shared, shared])  # walked naively, 2**32 paths before the depth bound
    assert render_template("{{ items|length }}", {"items": shared}) == "2"
