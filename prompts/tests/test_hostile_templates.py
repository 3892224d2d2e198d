"""Server-side template injection: hostile prompt templates are refused on save or on render, never leak.

Every payload goes through the three ways operator-written text reaches Jinja2: `render_template`
(what the pipeline calls), the admin's add form and its new-version form (then the preview page).
Each one is refused when saved (a form error, nothing stored) or refused when rendered (a
TemplateRenderError, shown plainly on the preview page), quickly, and no output or error message
ever shows Python internals or a secret planted in settings and the environment.
"""

import time

import pytest
from django.urls import NoReverseMatch, reverse
from jinja2 import TemplateSyntaxError

from prompts.errors import TemplateRenderError
from prompts.models import PromptTemplate
from prompts.rendering import MAX_OUTPUT_SIZE, check_template, render_template
from prompts.services import prompt_activate, prompt_create_next_version, prompt_create_version

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

CLASSIC_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[2].__subclasses__()[40]('/etc/passwd').read() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ {}.__class__.__base__.__subclasses__() }}",
    "{{ x.__class__.__init__.__globals__ }}",
    "{{ x.__init__.__globals__['__builtins__']['eval']('1+1') }}",
    "{{ x.__class__.__dict__ }}",
    "{{ x.__doc__ }}",
    "{{ x.__len__() }}",
    "{{ x.__getattribute__('__class__') }}",
    "{{ x.split.__self__ }}",
    "{% with a = x %}{{ a.__class__ }}{% endwith %}",
    "{% filter upper %}{{ x.__class__ }}{% endfilter %}",
    "{% set n = namespace(v=x) %}{{ n.v.__class__ }}",
    "{% set n = namespace() %}{% set n.__class__ = 1 %}{{ n }}",
]
GADGETS = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.environ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ lipsum.__globals__.__builtins__.__import__('os').environ }}",
    "{{ range.__globals__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.environment.globals }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{{ config.__class__.__init__.__globals__['os'].environ }}",
    "{{ config.items() }}",
    "{{ settings.SECRET_KEY }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ url_for.__globals__.os.environ }}",
    "{{ self }}",
    "{{ cycler }}",
    "{{ joiner() }}",
    "{{ namespace }}",
    "{{ lipsum }}",
    "{{ range }}",
    "{{ dict }}",
    "{{ dict(a=1).items() }}",
    "{{ x.format_map }}",
    "{{ x.encode('idna') }}",
    "{{ range(3)|map('string') }}",
    "{{ caller() }}",
    "{{ super() }}",
]
FILTER_TRICKS = [
    "{{ ''|attr('__class__') }}",
    "{{ x|attr('__init__')|attr('__globals__') }}",
    "{{ ''|attr('_'*2 ~ 'class' ~ '_'*2) }}",
    "{{ x|attr(['_','_class_','_']|join) }}",
    "{{ x|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ x['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "{{ x['\\u005f\\u005fclass\\u005f\\u005f'] }}",
    "{% set c = '__cla' ~ 'ss__' %}{{ x|attr(c) }}",
    "{% set c = '__cla' ~ 'ss__' %}{{ x[c] }}",
    "{% set c = ('%c%c' % (95, 95)) ~ 'class' ~ ('%c%c' % (95, 95)) %}{{ x|attr(c) }}",
    "{{ x|attr(dict(__class__=1)|list|first) }}",
    "{{ [x]|map(attribute='__class__')|list }}",
    "{{ [x]|selectattr('__class__')|list }}",
    "{{ [x]|sum(attribute='__class__') }}",
    "{{ [x]|map('attr', '__class__')|list }}",
    "{{ x|xmlattr }}",
]
FORMAT_ESCAPES = [
    "{{ '{0.__class__.__mro__}'.format(x) }}",
    "{{ '{0[__class__]}'.format(x) }}",
    "{{ '{0.__class__}'.format('x') }}",
    "{{ '{x.__class__}'.format_map({'x': x}) }}",
    "{{ 'abc'.format.__globals__ }}",
    "{{ '%s'|format(x.__class__) }}",
    "{{ '%(a)s'|format(a=x.__init__) }}",
]
MUTATIONS = [
    "{% set l = [] %}{{ l.append(1) }}",
    "{{ {}.update(a=1) }}",
    "{% set d = {} %}{{ d.setdefault('a', 1) }}",
    "{{ x.__setattr__('a', 1) }}",
]
EXHAUSTION = [
    "{{ 'a' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ range(1000000000)|list }}",
    "{{ 999999999 ** 999999999 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{{ b }}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ 'x' * 900000 }}{% endfor %}",
    "{% set a = 'x' * 900000 %}{% set b = a ~ a ~ a ~ a %}{{ (b ~ b ~ b ~ b)|length }}",
    "{% set n = namespace(s='xx') %}{% for i in range(64) %}{% set n.s = n.s ~ n.s %}{% endfor %}{{ n.s|length }}",
    "{% set n = namespace(s='xx') %}{% for i in range(64) %}{% set n.s = n.s + n.s %}{% endfor %}{{ n.s|length }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '%.999999999f' % 1 }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ 'x'.zfill(999999999) }}",
    "{{ 'x\\ty'.expandtabs(999999999) }}",
    "{{ 'a b'|indent(999999999) }}",
    "{{ ('x' * 900000)|replace('x', 'yyyyyyyyyy') }}",
    "{{ 'ab'.replace('', 'x' * 900000) }}",
    "{{ range(100000)|join(',' * 900000) }}",
    "{{ range(99999)|map('string')|map('center', 99999)|join|length }}",
    "{{ lipsum(999999999) }}",
    "{{ 10 // 0 }}",
]
RECURSION = [
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro f(n) %}{% for i in range(1000) %}{{ f(n) }}{% endfor %}{% endmacro %}{{ f(1) }}",
    "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
    "{% for i in [1] recursive %}{{ loop([i]) }}{% endfor %}",
    "{% macro f() %}{% call f() %}x{% endcall %}{{ caller() }}{% endmacro %}{% call f() %}y{% endcall %}",
]
NO_LOADER = [
    "{% include 'x.html' %}",
    "{% include '/etc/passwd' %}",
    "{% include '../../config/settings.py' %}",
    "{% import 'os' as os %}{{ os.environ }}",
    "{% from 'config/settings.py' import SECRET_KEY %}{{ SECRET_KEY }}",
    "{% extends '/etc/passwd' %}",
    "{% extends 'admin/base.html' %}",
]
OTHER_ENGINES = [
    "{% load os %}",  # Django
    "{% debug %}",  # Django
    "{% csrf_token %}",  # Django
    "{{= 7*7 }}",  # doT
    "{% do x.append(1) %}",  # Jinja2 extension that is not enabled
    "{% for %}",
    "{{ x",
    "{% endfor %}",
]
PAYLOADS = (
    CLASSIC_ESCAPES + GADGETS + FILTER_TRICKS + FORMAT_ESCAPES + MUTATIONS + EXHAUSTION + RECURSION + NO_LOADER
    + OTHER_ENGINES
)
# Syntaxes of other template engines that mean nothing to Jinja2: sent to the LLM as they are.
LITERAL_TEXT = [
    "${7*7}",  # Mako, FreeMarker, JSP EL
    "<%= 7*7 %>",  # ERB
    "#{7*7}",  # Ruby, Thymeleaf
    "*{7*7}",  # Thymeleaf
    "@(7*7)",  # Razor
    "{7*7}",  # Smarty, Python str.format
    "{php}echo 1;{/php}",  # Smarty
    "[% 7*7 %]",  # Template Toolkit
    "<#assign ex='freemarker.template.utility.Execute'?new()>${ex('id')}",  # FreeMarker
    "{% raw %}{{ ''.__class__ }}{% endraw %}",  # Jinja2's own escape hatch for literal braces
]
LEGITIMATE = [
    ("Betreff: {{ subject }}", {"subject": "Forderung"}, "Betreff: Forderung"),
    ("{{ '{:,}'.format(1234567) }} / {{ '%.2f' % 2847.125 }}", {}, "1,234,567 / 2847.12"),
    ("{{ amounts|join(', ') }}", {"amounts": ["1,00 €", "2,00 €"]}, "1,00 €, 2,00 €"),
    ("{{ [1, 'a'] }} {{ {'k': 2} }}", {}, "[1, 'a'] {'k': 2}"),
    ("{% set n = namespace(t=0) %}{% for i in range(5) %}{% set n.t = n.t + i %}{% endfor %}{{ n.t }}", {}, "10"),
    ("{{ body|length }}", {"body": "ä" * 60_000}, "60000"),
    ("{% macro line(k, v) %}{{ k }}={{ v }}{% endmacro %}{{ line('a', 1) }}", {}, "a=1"),
    ("{{ body|truncate(10) }}", {"body": "Sehr geehrte Damen und Herren"}, "Sehr..."),
]


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


# Rendering, as the pipeline does it ---------------------------------------------------------------

def test_the_payload_list_is_broad():
    assert len(PAYLOADS) >= 50 and len(set(PAYLOADS)) == len(PAYLOADS)


@pytest.mark.parametrize("source", PAYLOADS)
def test_every_payload_is_refused_on_save_or_on_render_and_leaks_nothing(planted_secrets, source):
    try:
        check_template(source)
    except TemplateSyntaxError as exc:
        assert_leaks_nothing(exc.message)
        return
    assert_leaks_nothing(render_refusal(source, {"x": "value"}))


@pytest.mark.parametrize("source", RECURSION)
def test_endless_recursion_is_a_render_error_not_a_crash(source):
    assert "recurses too deeply" in render_refusal(source, {})


@pytest.mark.parametrize(
    "source",
    ["{{ cycler }}", "{{ range }}", "{{ dict }}", "{{ joiner() }}", "{{ self }}", "{{ x.format_map }}",
     "{{ range(3)|map('string') }}", "{{ [cycler] }}", "{{ {'k': namespace} }}", "{{ x.encode('utf-8') }}"],
)
def test_python_objects_cannot_be_printed_only_plain_values(source):
    assert "cannot be printed in a prompt" in render_refusal(source, {"x": "value"})


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop iterations"),
        ("{% set n = namespace(s='xx') %}{% for i in range(64) %}{% set n.s = n.s ~ n.s %}{% endfor %}",
         "builds more than"),
        ("{% for i in range(100000) %}{{ 'x' * 900000 }}{% endfor %}", "longer than"),
        ("{{ '{:>999999999}'.format('x') }}", "format width"),
        ("{{ 'x'|center(999999999) }}", "argument that large"),
        ("{{ range(100000)|join(',' * 900000) }}", "'join' is too large"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurses too deeply"),
    ],
)
def test_each_render_has_a_budget_and_says_which_limit_was_hit(source, reason):
    assert reason in render_refusal(source, {})


@pytest.mark.parametrize("source", NO_LOADER)
def test_includes_imports_and_extends_are_refused_on_save(source):
    with pytest.raises(TemplateSyntaxError, match="cannot extend, include or import"):
        check_template(source)


@pytest.mark.parametrize("source", NO_LOADER)
def test_includes_imports_and_extends_fail_safely_on_render_because_there_is_no_loader(source):
    assert "no loader" in render_refusal(source, {"x": "value"})


@pytest.mark.parametrize("source", LITERAL_TEXT)
def test_other_engines_syntax_is_sent_as_plain_text(planted_secrets, source):
    check_template(source)
    expected = source.removeprefix("{% raw %}").removesuffix("{% endraw %}")
    assert render_template(source, {}) == expected


@pytest.mark.parametrize("payload", PAYLOADS[:20] + LITERAL_TEXT)
def test_variable_values_are_data_never_template_code(payload):
    assert render_template("Betreff: {{ subject }}", {"subject": payload}) == f"Betreff: {payload}"


@pytest.mark.parametrize(("source", "variables", "expected"), LEGITIMATE)
def test_ordinary_prompts_still_render_within_the_budget(source, variables, expected):
    assert render_template(source, variables) == expected


def test_the_rendered_prompt_is_capped_in_size():
    render_template("{{ body }}", {"body": "x" * MAX_OUTPUT_SIZE})
    with pytest.raises(TemplateRenderError, match="longer than"):
        render_template("{{ body }}{{ body }}", {"body": "x" * MAX_OUTPUT_SIZE})


# The admin forms and the preview page ---------------------------------------------------------------

def add_form_data(source):
    return {
        "task_type": "validation", "name": "hostile", "description": "SSTI test", "system_prompt": "",
        "user_prompt_template": source, "model_name": "claude-haiku-4-5", "temperature": "0",
        "max_tokens": "100", "output_schema": "",
    }


def assert_refused_by_the_form(response, field="user_prompt_template"):
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert_leaks_nothing(" ".join(errors[field]))


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
def test_every_payload_through_the_admin_add_form_is_refused_or_saved_but_never_renders(
    planted_secrets, admin_client, source
):
    before = PromptTemplate.objects.count()
    response = admin_client.post(reverse("admin:prompts_prompttemplate_add"), add_form_data(source))
    if response.status_code == 200:
        assert_refused_by_the_form(response)
        assert PromptTemplate.objects.count() == before
        return
    assert response.status_code == 302
    saved = PromptTemplate.objects.get(task_type="validation", name="hostile")
    assert_render_refused_on_the_preview(admin_client, saved)


@pytest.mark.django_db
@pytest.mark.parametrize("source", PAYLOADS)
def test_every_payload_through_the_new_version_form_is_refused_or_saved_but_never_renders(
    planted_secrets, admin_client, intent_v1, source
):
    before = PromptTemplate.objects.count()
    data = {
        "description": "SSTI test", "system_prompt": source, "user_prompt_template": "{{ subject }}",
        "model_name": intent_v1.model_name, "temperature": "0", "max_tokens": "100", "output_schema": "",
    }
    response = admin_client.post(reverse("admin:prompts_prompttemplate_new_version", args=[intent_v1.pk]), data)
    if response.status_code == 200:
        assert_refused_by_the_form(response, "system_prompt")
        assert PromptTemplate.objects.count() == before
        return
    assert response.status_code == 302
    assert_render_refused_on_the_preview(admin_client, PromptTemplate.objects.get(name="email_intent", version=2))


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["{{ config }}", "{% include '/etc/passwd' %}", "${7*7}"])
def test_preview_variables_are_rendered_as_data(admin_client, intent_v1, payload):
    url = reverse("admin:prompts_prompttemplate_preview", args=[intent_v1.pk])
    response = admin_client.post(url, {"subject": payload, "truncated_body": "Text"})
    assert payload in response.context["rendered"].user


# Prompt text is shown escaped on every admin page -------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile_prompt(db):
    """Two versions of a prompt whose texts, description, schema and authors carry markup; v2 active."""
    v1 = prompt_create_next_version(
        task_type="validation", name="xss", created_by=IMG, description=f"Erste {SCRIPT}",
        system_prompt=f"System {SCRIPT}", user_prompt_template=f"{IMG} {{{{ x }}}} {SCRIPT}",
        model_name="claude-haiku-4-5", output_schema={"type": "object", "description": SCRIPT},
    )
    v2 = prompt_create_version(
        source=v1, created_by=SCRIPT, description=f"Zweite {IMG}", user_prompt_template=f"{SCRIPT} {{{{ x }}}}"
    )
    prompt_activate(template=v1, activated_by=IMG)
    prompt_activate(template=v2, activated_by=SCRIPT)
    return v1, v2


def prompt_pages(v1, v2):
    def admin_url(view, *args):
        return reverse(f"admin:prompts_prompttemplate_{view}", args=args)

    changelist = admin_url("changelist")
    pages = {
        "changelist": changelist,
        "search": changelist + "?q=%3Cscript%3E",
        "change view v1": admin_url("change", v1.pk),
        "change view v2": admin_url("change", v2.pk),
        "new version form": admin_url("new_version", v1.pk),
        "preview": admin_url("preview", v1.pk),
        "diff": admin_url("diff", v2.pk),
        "history": admin_url("prompt_history", "validation", "xss"),
        "activations": reverse("admin:prompts_promptactivation_changelist"),
        "admin index": reverse("admin:index"),
    }
    try:  # the operators' dashboard page about one prompt, where it exists
        pages["performance"] = reverse("admin:prompt_performance", args=["validation", "xss"])
    except NoReverseMatch:
        pass
    return pages


@pytest.mark.django_db
def test_prompt_text_descriptions_and_authors_are_escaped_on_every_prompt_page(admin_client, hostile_prompt):
    for page_name, url in prompt_pages(*hostile_prompt).items():
        response = admin_client.get(url)
        assert response.status_code == 200, page_name
        page = response.content.decode()
        for raw in (SCRIPT, IMG):
            assert raw not in page, f"raw {raw} on the {page_name} page"


@pytest.mark.django_db
@pytest.mark.parametrize("page_name", ["change view v1", "new version form", "diff", "history"])
def test_prompt_pages_show_the_markup_as_escaped_text(admin_client, hostile_prompt, page_name):
    page = admin_client.get(prompt_pages(*hostile_prompt)[page_name]).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_a_preview_rendering_markup_shows_it_escaped(admin_client, hostile_prompt):
    v1, _ = hostile_prompt
    url = reverse("admin:prompts_prompttemplate_preview", args=[v1.pk])
    page = admin_client.post(url, {"x": IMG}).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt; &lt;img src=x onerror=alert(1)&gt; &lt;script&gt;" in page
    assert SCRIPT not in page and IMG not in page
