"""The second review of the prompt sandbox: each hole it found, built from its payload, stays closed.

Bodies are small and the tests assert the refusal and its reason, never a timing (figures belong in
benchmarks): a payload that got through again would build gigabytes or run for minutes, and so fail.
"""

import pytest
from jinja2 import TemplateSyntaxError

from prompts import template_filters
from prompts.errors import TemplateRenderError
from prompts.rendering import check_template, render_template
from prompts.schemas import answer_schema_error
from prompts.template_filters import text_size_bound

VARIABLES = {"subject": "Forderung", "sender": "a@b.de", "body": "Sehr geehrte " * 100}


def nested_lists(depth, breadth, inner, var="subject"):
    """T3: each loop level wraps the previous loop variable `breadth` times into a new list literal."""
    source, previous = "", var
    for level in range(depth):
        source += "{% for v" + str(level) + " in [[" + ", ".join([previous] * breadth) + "]] %}"
        previous = f"v{level}"
    return "Betreff\n" + source + inner.replace("Z", previous) + "{% endfor %}" * depth


# T3: lists built from loop variables -------------------------------------------------------------

@pytest.mark.parametrize("inner", ["{{ Z }}", "{{ Z|tojson }}", "{{ Z|string }}", "{{ '' ~ Z }}", "{{ Z|join }}"])
def test_a_list_literal_holding_a_variable_is_refused_at_save_naming_it_and_its_line(inner):
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template(nested_lists(5, 10, inner))
    assert "a list literal containing something other than constants" in excinfo.value.message
    assert excinfo.value.lineno == 2


def test_a_list_literal_holding_a_variable_is_refused_when_compiled_for_render():
    with pytest.raises(TemplateRenderError, match="on line 2: a list literal containing"):
        render_template(nested_lists(4, 10, "{{ Z }}"), VARIABLES)


@pytest.mark.parametrize("source", ["{{ (subject, 1) }}", "{{ {'k': body} }}", "{{ {subject: 1} }}"])
def test_tuple_and_dict_literals_hold_only_constants_too(source):
    with pytest.raises(TemplateSyntaxError, match="literal containing something other than constants"):
        check_template(source)


def test_literals_of_constants_and_loops_over_pairs_still_work():
    source = "{{ [1, ['a', {'k': (2, 3)}]] }}{% for a, b in pairs %}{{ a }}={{ b }}{% endfor %}"
    check_template(source)
    assert render_template(source, {"pairs": [("x", 1)]}) == "[1, ['a', {'k': (2, 3)}]]x=1"


def test_a_value_shared_many_times_is_measured_as_text_before_it_is_built():
    # A caller's value can still share one list many times; its text is measured without building it.
    shared = ["x" * 1000]
    for _ in range(5):
        shared = [shared] * 10
    assert text_size_bound(shared) > 1_000_000  # stops counting once past a prompt
    for source in ("{{ v }}", "{{ v|string }}", "{{ v|tojson }}", "{{ '' ~ v }}", "{{ v|join }}"):
        with pytest.raises(TemplateRenderError, match="more than 1,000,000 characters"):
            render_template(source, {"v": shared})


# T1: CPU without bound inside the iteration cap ----------------------------------------------------

FILTER_CHAIN = "(body|upper|lower|title|capitalize|trim|replace('S','s'))"


@pytest.fixture
def small_work_budget(settings, monkeypatch):
    """A budget a twentieth of the real one and no deadline in reach, so the budget is what stops it."""
    monkeypatch.setattr(template_filters, "MAX_RENDER_WORK", 1_000_000)
    settings.PROMPT_RENDER_DEADLINE_SECONDS = 600


def test_a_filter_chain_over_the_body_in_a_loop_runs_out_of_the_work_budget(small_work_budget):
    source = "{% for a in body %}{% if " + FILTER_CHAIN + " == 'z' %}{% endif %}{% endfor %}"
    check_template(source)
    with pytest.raises(TemplateRenderError, match="characters of work in one render"):
        render_template(source, {"body": "Sehr geehrte " * 400})


def test_sixteen_concatenations_of_the_body_in_a_loop_run_out_of_the_work_budget(small_work_budget):
    source = "{% for a in body %}{% if (" + " ~ ".join(["body"] * 16) + ") == '' %}{% endif %}{% endfor %}"
    with pytest.raises(TemplateRenderError, match="characters of work in one render"):
        render_template(source, {"body": "Sehr geehrte " * 400})


def test_the_two_nested_loops_of_the_payload_stop_at_the_lowered_iteration_cap(settings):
    settings.PROMPT_RENDER_DEADLINE_SECONDS = 600  # the cap, not the deadline on a loaded machine, stops it
    inner = "{% if " + FILTER_CHAIN + " == 'z' %}{% endif %}"
    source = "{% for a in body %}{% for b in body %}" + inner + "{% endfor %}{% endfor %}"
    with pytest.raises(TemplateRenderError, match="more than 10,000 loop iterations"):
        render_template(source, {"body": "Sehr geehrte " * 10})


def test_a_render_over_the_deadline_is_stopped_with_a_clear_error(settings):
    settings.PROMPT_RENDER_DEADLINE_SECONDS = 0
    with pytest.raises(TemplateRenderError, match="took longer than 0 seconds to render"):
        render_template("{% for a in items %}{{ a }}{% endfor %}", {"items": ["a", "b"]})


def test_each_render_has_its_own_budget(settings):
    settings.PROMPT_RENDER_DEADLINE_SECONDS = 600
    source = "{% for a in items %}{% if body|upper == '' %}{% endif %}{% endfor %}."
    variables = {"items": list(range(1000)), "body": "x" * 10_000}  # half the budget per render
    for _ in range(3):
        assert render_template(source, variables) == "."


# T2: huge integers --------------------------------------------------------------------------------

def hex_text(digit):
    """A text of 1,000,000 hex digits built in the template from one character (the payload)."""
    return "(f|replace('f', '" + digit * 1000 + "')|replace('" + digit + "', '" + digit * 1000 + "')|int(0, 16))"


def test_int_of_a_long_hex_text_is_refused():
    source = "{% for f in ['f'] %}{% if (" + hex_text("f") + " * " + hex_text("f") + ") // " + hex_text("e") \
        + " == 0 %}{% endif %}{% endfor %}done"
    check_template(source)
    with pytest.raises(TemplateRenderError, match="int only converts text of up to 50 characters"):
        render_template(source, {})


@pytest.mark.parametrize("operator", ["*", "//", "/"])
def test_multiplying_or_dividing_integers_above_128_bits_is_refused(operator):
    assert render_template("{{ n " + operator + " 3 }}", {"n": 2**127}) in {str(2**127 * 3), str(2**127 // 3),
                                                                         str(2**127 / 3)}
    with pytest.raises(TemplateRenderError, match="up to 128 bits"):
        render_template("{{ n " + operator + " 3 }}", {"n": 2**129})
    with pytest.raises(TemplateRenderError, match="up to 128 bits"):
        render_template("{{ 0x" + "f" * 200 + " " + operator + " 3 }}", {})


def test_ordinary_integer_text_still_converts():
    assert render_template("{{ ('12'|int) * 2 }} {{ 'ff'|int(0, 16) }}", {}) == "24 255"


# T4-T7: what failed at save or later -------------------------------------------------------------

@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 1" + "0" * 5000 + " }}", "a value the template language cannot read"),  # T4: was an HTTP 500
        ("{{ subject }}" * 8_000, "longer than 100,000 characters"),  # T5
        ("{% for a in subject %}" * 21 + "x" + "{% endfor %}" * 21, "too complex to compile"),  # T6
    ],
)
def test_templates_that_failed_later_are_refused_at_save_and_at_render(source, reason):
    with pytest.raises(TemplateSyntaxError, match=reason):
        check_template(source)
    with pytest.raises(TemplateRenderError, match=reason):
        render_template(source, VARIABLES)


def test_autoescape_is_refused_naming_its_line():
    with pytest.raises(TemplateSyntaxError) as excinfo:
        check_template("Betreff\n{% autoescape false %}{{ subject }}{% endautoescape %}")
    assert "{% autoescape %}" in excinfo.value.message
    assert excinfo.value.lineno == 2


# S1/S5: answer validation never crashes ------------------------------------------------------------

@pytest.mark.parametrize(
    ("schema", "answer", "reason"),
    [
        ({"$schema": "http://json-schema.org/draft-04/schema#", "definitions": {"q": {"type": "string"}},
          "properties": {"p": {"id": "http://x.invalid/a.json", "allOf": [{"$ref": "#/definitions/q"}],
                               "definitions": {"q": {"allOf": [{"$ref": "#/definitions/q"}]}}}}},
         {"p": 1}, "cannot be used"),
        ({"properties": {"x": {"type": "string", "pattern": "(("}}}, {"x": "a"}, "cannot be used"),
    ],
)
def test_an_unusable_stored_schema_sends_the_answer_to_review_instead_of_crashing(schema, answer, reason):
    assert reason in answer_schema_error(answer, schema)
