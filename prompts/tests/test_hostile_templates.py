"""Server-side template injection: hostile prompt templates are refused on save and again on render.

Every payload goes through the three ways operator-written text reaches Jinja2: `render_template`
(what the pipeline calls), the admin's add form and its new-version form (then the preview page).
A template outside the prompt template language (`prompts.template_language`) is refused when saved,
as a form error naming the construct and its line, and again when it is compiled for rendering, so a
row stored without the check (a fixture, an import, raw SQL) never renders either. What only shows
at render time (a value that is not plain, text too long) is a TemplateRenderError. Every refusal
comes quickly, and no output or error message ever shows Python internals or a planted secret.
"""

import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from jinja2 import TemplateSyntaxError

from prompts.errors import TemplateRenderError
from prompts.models import PromptTemplate
from prompts.rendering import MAX_OUTPUT_SIZE, check_template, render_template
from prompts.selectors import get_active_prompt
from prompts.services import prompt_activate, prompt_create_version
from prompts.tests.ssti_payloads import LITERAL_TEXT, NO_LOADER, PAYLOADS

API_KEY = "sk-ant-test-SECRET-do-not-leak"
SECRET_KEY = "django-SECRET-planted-by-the-hostile-template-tests"
DATABASE_PASSWORD = "db-SECRET-planted-password"
# What a leak looks like: a repr of a Python object, a module, a command's output, or a secret.
LEAK_MARKERS = (
    "<class", "<function", "<module", "<built-in", "<bound method", "<generator", " object at 0x",
    "<TemplateReference", "<jinja2", "uid=", "root:x:", "[extensions]",
)
# A refusal has to come quickly: the CPU and memory payloads must not run to completion.
SECONDS_PER_PAYLOAD = 5

# Valid in the prompt template language, so refused only when rendered (no variable `settings`; 1 // 0).
REFUSED_ONLY_AT_RENDER = {"{{ settings.SECRET_KEY }}", "{{ 10 // 0 }}"}
LEGITIMATE = [
    ("Betreff: {{ subject }}", {"subject": "Forderung"}, "Betreff: Forderung"),
    ("{{ amounts|join(', ') }}", {"amounts": ["1,00 €", "2,00 €"]}, "1,00 €, 2,00 €"),
    ("{{ [1, 'a'] }} {{ {'k': 2} }}", {}, "[1, 'a'] {'k': 2}"),
    ("{% for a in amounts %}{{ loop.index }}={{ a }}{% if not loop.last %}, {% endif %}{% endfor %}",
     {"amounts": [3, 4]}, "1=3, 2=4"),
    ("{{ body|length }}", {"body": "ä" * 60_000}, "60000"),
    ("{{ total * 2 }} {{ (total / 3)|round(2) }} {{ '12'|int + 1 }}", {"total": 10}, "20 3.33 13"),
    ("{{ body|truncate(10) }}", {"body": "Sehr geehrte Damen und Herren"}, "Sehr..."),
    ("{{ facts|tojson }}", {"facts": {"total": "1.234,56 €", "accepts": True}},
     '{"accepts": true, "total": "1.234,56 €"}'),
    ("{% if sender is defined %}{{ sender|lower }}{% else %}-{% endif %} {{ name|default('?')|title }}",
     {"sender": "INKASSO@EXAMPLE.DE"}, "inkasso@example.de ?"),
]
# Each attack of issue 10, on line 2 of a template, and what its refusal names.
ISSUE_10_ATTACKS = [
    ("self-nesting lists built in a loop with namespace",
     "{% set n = namespace(l=[]) %}{% for i in items %}{% set n.l = [n.l, n.l] %}{% endfor %}{{ n.l }}", "{% set %}"),
    ("recursive loop(...) calls", "{% for i in items recursive %}{{ loop(items) }}{% endfor %}", "a recursive loop"),
    ("a loop(...) call", "{% for i in items %}{{ loop(items) }}{% endfor %}", "calling loop(...)"),
    ("repeated **", "{{ 9 ** 9 ** 9 ** 9 }}", "the ** operator"),
    ("repeated squaring",
     "{% set n = namespace(v=2) %}{% for i in items %}{% set n.v = n.v * n.v %}{% endfor %}{{ n.v }}", "{% set %}"),
    ("wordwrap with a huge width", "{{ subject|wordwrap(999999999) }}", "the filter 'wordwrap'"),
    ("indent with a huge width", "{{ subject|indent(999999999) }}", "the filter 'indent'"),
    ("center with a huge width", "{{ subject|center(999999999) }}", "the filter 'center'"),
    ("% with a * width", "{{ '%*s' % (999999999, subject) }}", "the % operator"),
    (".format with a nested {} width", "{{ '{:{}}'.format(subject, 999999999) }}", "calling .format(...)"),
    ("the format filter", "{{ '%999999999s'|format(subject) }}", "the filter 'format'"),
    ("str.replace('', ...)", "{{ subject.replace('', subject) }}", "calling .replace(...)"),
    ("expandtabs", "{{ subject.expandtabs(999999999) }}", "calling .expandtabs(...)"),
    ("join of a large list", "{{ range(100000000)|join(',') }}", "calling range(...)"),
    ("list repetition", "{{ [subject] * 100000000 }}", "'*' on text or lists"),
    ("list doubling", "{% set l = [subject] %}{% set l = l + l %}{% set l = l + l %}{{ l|length }}", "{% set %}"),
    ("truncate to a huge length", "{{ subject|truncate(999999999) }}", "truncate's length must be"),
    ("self|string", "{{ self|string }}", "the name 'self'"),
    ("'' ~ range", "{{ '' ~ range }}", "the name 'range'"),
    ("x.upper|string", "{{ subject.upper|string }}", "the method .upper"),
    ("a macro", "{% macro m() %}x{% endmacro %}{{ m|string }}", "{% macro %}"),
    ("a call block", "{% call m(subject) %}x{% endcall %}", "{% call %}"),
    ("a set block", "{% set x %}{{ subject }}{% endset %}{{ x }}", "{% set %}...{% endset %}"),
    ("the loop object", "{% for i in items %}{{ loop|string }}{% endfor %}", "the loop object itself"),
]
ATTACK_IDS = [attack[0] for attack in ISSUE_10_ATTACKS]


@pytest.fixture
def planted_secrets(settings, monkeypatch):
    """Secrets a successful escape would find, in settings and the environment (before any log-in:
    sessions are signed with SECRET_KEY)."""
    settings.SECRET_KEY = SECRET_KEY
    settings.ANTHROPIC_API_KEY = API_KEY
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("DATABASE_PASSWORD", DATABASE_PASSWORD)


def assert_leaks_nothing(text):
    for marker in LEAK_MARKERS + (API_KEY, SECRET_KEY, DATABASE_PASSWORD):
        assert marker not in text, f"{marker!r} leaked into {text[:300]!r}"


def render_refusal(source, variables):
    """The TemplateRenderError rendering `source` raises, timed (fails the test if it renders)."""
    started = time.monotonic()
    with pytest.raises(TemplateRenderError) as excinfo:
        render_template(source, variables)
    assert time.monotonic() - started < SECONDS_PER_PAYLOAD
    return str(excinfo.value)


# Checking and rendering, as saving a version and the pipeline do it ---------------------------------

def test_the_payload_list_is_broad():
    assert len(PAYLOADS) >= 100 and len(set(PAYLOADS)) == len(PAYLOADS)
    assert REFUSED_ONLY_AT_RENDER < set(PAYLOADS)


@pytest.mark.parametrize("source", sorted(set(PAYLOADS) - REFUSED_ONLY_AT_RENDER))
def test_every_payload_is_refused_when_saved_and_leaks_nothing(planted_secrets, source):
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template(source)
    assert_leaks_nothing(excinfo.value.message)


@pytest.mark.parametrize("source", PAYLOADS)
def test_every_payload_is_refused_when_rendered_even_if_it_was_stored_unchecked(planted_secrets, source):
    assert_leaks_nothing(render_refusal(source, {"x": "value"}))


@pytest.mark.parametrize("source", NO_LOADER)
def test_includes_imports_and_extends_are_refused_on_save_and_on_render(source):
    with pytest.raises(TemplateSyntaxError, match="including or importing other templates"):
        check_template(source)
    assert "including or importing other templates" in render_refusal(source, {"x": "value"})


@pytest.mark.parametrize(("name", "source", "construct"), ISSUE_10_ATTACKS, ids=ATTACK_IDS)
def test_each_attack_of_issue_10_is_refused_when_checked_naming_the_construct_and_line(name, source, construct):
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template(f"Betreff: {{{{ subject }}}}\n{source}")
    assert construct in excinfo.value.message
    assert excinfo.value.lineno == 2


@pytest.mark.parametrize(
    "source",
    ["{{ obj }}", "{{ obj|string }}", "{{ '' ~ obj }}", "{{ obj|tojson }}",
     "{{ obj|replace('a', 'b') }}", "{{ items|join }}", "{{ obj|upper }}", "{{ obj|default('-') }}",
     "{{ items|first }}", "{% for o in items %}{{ o }}{% endfor %}"],
)
@pytest.mark.parametrize("obj", [object(), len, lambda: 1, PromptTemplate, PromptTemplate.objects])
def test_objects_and_functions_given_as_variables_never_reach_the_prompt(source, obj):
    assert "only plain values" in render_refusal(source, {"obj": obj, "items": [obj]})


@pytest.mark.parametrize(
    ("source", "variables", "reason"),
    [
        ("{% for a in body %}{% for b in body %}{% endfor %}{% endfor %}", {"body": "x" * 60_000},
         "more than 10,000 loop iterations"),
        ("{% for a in body %}{{ body }}{% endfor %}", {"body": "x" * 60_000}, "longer than 1,000,000 characters"),
        ("{{ body|replace('', body) }}", {"body": "x" * 60_000}, "replace would build more than"),
        ("{{ items|join(body) }}", {"items": list(range(100)), "body": "x" * 60_000}, "join would build more than"),
        ("{{ body ~ body ~ body ~ body ~ body ~ body ~ body ~ body ~ body ~ body ~ body ~ body }}",
         {"body": "x" * 90_000}, "'~' would build more than"),
        ("{{ body|truncate(n) }}", {"body": "x", "n": 10**9}, "truncate's length must be"),
        ("{{ amount|round(n, 'ceil') }}", {"amount": 1.5, "n": 10**9}, "round's precision must be"),
        ("{{ facts|tojson(n) }}", {"facts": [1], "n": 10**9}, "tojson's indent must be"),
        ("{{ body * n }}", {"body": "x", "n": 10**8}, "'*' is only allowed between numbers"),
        ("{{ items + items }}", {"items": [1]}, "'+' is only allowed between numbers"),
        ("{{ -body }}", {"body": "x"}, "unary '-' is only allowed on numbers"),
        ("{{ body['upper'] }}", {"body": "x"}, "unsafe"),
        ("{{ 10 // 0 }}", {}, "could not be rendered"),
    ],
)
def test_what_only_shows_at_render_time_is_refused_quickly_and_says_which_limit_was_hit(source, variables, reason):
    check_template(source)
    assert reason in render_refusal(source, variables)


def test_the_rendered_prompt_is_capped_in_size():
    render_template("{{ body }}", {"body": "x" * MAX_OUTPUT_SIZE})
    with pytest.raises(TemplateRenderError, match="longer than"):
        render_template("{{ body }}{{ body }}", {"body": "x" * MAX_OUTPUT_SIZE})


@pytest.mark.parametrize("source", LITERAL_TEXT)
def test_other_engines_syntax_is_sent_as_plain_text(planted_secrets, source):
    check_template(source)
    expected = source.removeprefix("{% raw %}").removesuffix("{% endraw %}")
    assert render_template(source, {}) == expected


@pytest.mark.parametrize("payload", PAYLOADS[:20] + LITERAL_TEXT)
def test_variable_values_are_data_never_template_code(payload):
    assert render_template("Betreff: {{ subject }}", {"subject": payload}) == f"Betreff: {payload}"


@pytest.mark.parametrize(("source", "variables", "expected"), LEGITIMATE)
def test_ordinary_prompts_pass_the_check_and_render(source, variables, expected):
    check_template(source)
    assert render_template(source, variables) == expected


# The admin forms, the service and the preview page --------------------------------------------------

def add_form_data(source):
    return {
        "task_type": "validation", "name": "hostile", "description": "SSTI test", "system_prompt": "",
        "user_prompt_template": source, "model_name": "claude-haiku-4-5", "temperature": "0",
        "max_tokens": "100", "output_schema": "",
    }


def refusal_by_the_form(response, field="user_prompt_template"):
    """The form's error on `field`, checked to leak nothing."""
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    message = " ".join(errors[field])
    assert_leaks_nothing(message)
    return message


def assert_render_refused_on_the_preview(client, template):
    """A saved payload: rendering it fails, and the preview page shows that plainly, leaking nothing.

    Only the payloads' `x` and the prompt's `subject` are filled in; any other name stays undefined.
    """
    variables = {name: "value" if name in ("x", "subject") else "" for name in template.variables}
    with pytest.raises(TemplateRenderError) as excinfo:
        template.render({name: value for name, value in variables.items() if value})
    assert_leaks_nothing(str(excinfo.value))
    url = reverse("admin:prompts_prompttemplate_preview", args=[template.pk])
    response = client.post(url, variables)
    assert response.status_code == 200
    assert response.context["rendered"] is None
    assert response.context["render_error"]
    assert_leaks_nothing(response.context["render_error"])
    page = response.content.decode()
    assert "Could not render this version" in page
    for secret in (API_KEY, SECRET_KEY, DATABASE_PASSWORD):
        assert secret not in page


@pytest.mark.django_db
@pytest.mark.parametrize("source", PAYLOADS)
def test_every_payload_through_the_admin_add_form_is_refused_or_never_renders(planted_secrets, admin_client, source):
    before = PromptTemplate.objects.count()
    response = admin_client.post(reverse("admin:prompts_prompttemplate_add"), add_form_data(source))
    if source not in REFUSED_ONLY_AT_RENDER:
        refusal_by_the_form(response)
        assert PromptTemplate.objects.count() == before
        return
    assert response.status_code == 302
    saved = PromptTemplate.objects.get(task_type="validation", name="hostile")
    assert_render_refused_on_the_preview(admin_client, saved)


@pytest.mark.django_db
@pytest.mark.parametrize("source", PAYLOADS)
def test_every_payload_through_the_new_version_form_is_refused_or_never_renders(
    planted_secrets, admin_client, intent_v1, source
):
    before = PromptTemplate.objects.count()
    data = {
        "description": "SSTI test", "system_prompt": source, "user_prompt_template": "{{ subject }}",
        "model_name": intent_v1.model_name, "temperature": "0", "max_tokens": "100", "output_schema": "",
    }
    response = admin_client.post(reverse("admin:prompts_prompttemplate_new_version", args=[intent_v1.pk]), data)
    if source not in REFUSED_ONLY_AT_RENDER:
        refusal_by_the_form(response, "system_prompt")
        assert PromptTemplate.objects.count() == before
        return
    assert response.status_code == 302
    assert_render_refused_on_the_preview(admin_client, PromptTemplate.objects.get(name="email_intent", version=2))


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source", "construct"), ISSUE_10_ATTACKS, ids=ATTACK_IDS)
def test_each_attack_of_issue_10_is_a_form_error_naming_the_construct_and_line(admin_client, name, source, construct):
    data = add_form_data(f"Betreff: {{{{ subject }}}}\n{source}")
    message = refusal_by_the_form(admin_client.post(reverse("admin:prompts_prompttemplate_add"), data))
    assert message.startswith("Template error on line 2: ") and construct in message
    assert not PromptTemplate.objects.filter(name="hostile").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source", "construct"), ISSUE_10_ATTACKS, ids=ATTACK_IDS)
def test_each_attack_of_issue_10_is_refused_by_the_service(intent_v1, name, source, construct):
    with pytest.raises(ValidationError) as excinfo:
        prompt_create_version(source=intent_v1, created_by="mallory", description="Attack",
                              user_prompt_template=f"Betreff: {{{{ subject }}}}\n{source}")
    assert construct in excinfo.value.message_dict["user_prompt_template"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source", "construct"), ISSUE_10_ATTACKS, ids=ATTACK_IDS)
def test_an_active_version_stored_before_the_check_with_each_attack_of_issue_10_never_renders(
    intent_v1, django_capture_on_commit_callbacks, name, source, construct
):
    # As a version from before the whitelist, a fixture or a raw SQL import would be: no form, no clean().
    stored = prompt_create_version(source=intent_v1, created_by="import", description="Old row")
    PromptTemplate.objects.filter(pk=stored.pk).update(user_prompt_template=f"Betreff: {{{{ subject }}}}\n{source}")
    with django_capture_on_commit_callbacks(execute=True):
        prompt_activate(template=stored, activated_by="import")
    active = get_active_prompt("classification", "email_intent")
    started = time.monotonic()
    with pytest.raises(TemplateRenderError) as excinfo:
        active.render({"subject": "Forderung", "truncated_body": "Text", "items": [1, 2]})
    assert time.monotonic() - started < SECONDS_PER_PAYLOAD
    assert str(excinfo.value).startswith("Template refused on line 2: ") and construct in str(excinfo.value)


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["{{ config }}", "{% include '/etc/passwd' %}", "${7*7}"])
def test_preview_variables_are_rendered_as_data(admin_client, intent_v1, payload):
    url = reverse("admin:prompts_prompttemplate_preview", args=[intent_v1.pk])
    response = admin_client.post(url, {"subject": payload, "truncated_body": "Text"})
    assert payload in response.context["rendered"].user
