"""Operator-written templates run in a sandbox: missing variables and escapes are clear errors."""

import pytest
from jinja2 import TemplateSyntaxError

from prompts.errors import TemplateRenderError
from prompts.rendering import check_template, render_template, template_variables

SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ request.application.__globals__ }}",
    "{{ config.items() }}",
    "{% set x = [] %}{{ x.append(1) }}",
    "{{ {}.update(a=1) }}",
    "{{ 'a' * 100000000 }}",
    "{{ range(1000000000) | list }}",
    "{{ (999999999 ** 999999999) }}",
    "{{ [1] * 100000000 }}",
    "{{ ''|attr('__class__') }}",
    "{{ x|attr('__init__') }}",
    "{{ 'abc'.format.__globals__ }}",
    "{{ '{0.__class__}'.format('x') }}",
]


@pytest.mark.parametrize("source", SANDBOX_ESCAPES)
def test_attempts_to_reach_python_internals_fail_with_template_render_error(source):
    with pytest.raises(TemplateRenderError):
        render_template(source, {"x": "value"})


@pytest.mark.parametrize("source", SANDBOX_ESCAPES)
def test_every_escape_is_refused_at_save_or_at_render_and_never_produces_output(source):
    try:
        check_template(source)
    except TemplateSyntaxError:
        return  # refused when the version is saved
    with pytest.raises(TemplateRenderError):
        render_template(source, {"x": "value"})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ x['__globals__'] }}",
        "{{ x|attr('__init__') }}",
        "Zeile 1\n{{ cycler._private }}",
    ],
)
def test_private_attribute_access_is_refused_when_the_template_is_checked(source):
    with pytest.raises(TemplateSyntaxError, match="not allowed"):
        check_template(source)


def test_a_syntax_error_reports_its_line():
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template("eins\nzwei\n{% for x in y %}")
    assert excinfo.value.lineno == 3


def test_a_missing_variable_is_named_in_the_error():
    with pytest.raises(TemplateRenderError, match="Missing template variable 'truncated_body'"):
        render_template("{{ subject }} {{ truncated_body }}", {"subject": "Hallo"})


def test_a_missing_variable_inside_a_filter_is_named_too():
    with pytest.raises(TemplateRenderError, match="'amount'"):
        render_template("{{ amount | upper }}", {})


def test_template_render_error_is_a_value_error():
    with pytest.raises(ValueError):
        render_template("{{ nope }}", {})


def test_ordinary_jinja_features_still_work():
    source = "{% for a in amounts %}{{ loop.index }}: {{ a | default('-') }}\n{% endfor %}{{ name | title }}"
    assert render_template(source, {"amounts": ["1,00 €", "2,00 €"], "name": "müller"}) == (
        "1: 1,00 €\n2: 2,00 €\nMüller"
    )


def test_text_is_not_html_escaped_because_prompts_are_plain_text():
    assert render_template("{{ x }}", {"x": "<b>Müller & Söhne</b>"}) == "<b>Müller & Söhne</b>"


def test_template_variables_lists_undeclared_names_only():
    assert template_variables("{% set y = 1 %}{{ x }}{{ y }}{% for i in items %}{{ i }}{% endfor %}") == [
        "items", "x"
    ]
