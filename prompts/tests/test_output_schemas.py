"""Output schemas: unusable ones are form errors at save, and validating an answer never fetches or recurses."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from prompts.models import PromptTemplate
from prompts.schemas import (
    MAX_SCHEMA_DEPTH,
    InvalidOutputSchema,
    answer_schema_error,
    check_output_schema,
    output_validator,
)
from prompts.services import prompt_create_version
from prompts.tests.recording_server import FETCHED_MARKER, recording_server


def nested(depth, innermost=None):
    """A schema `depth` levels of "items" deep, built without recursion."""
    schema = innermost or {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


AMOUNT = {"type": ["string", "null"]}
LOCAL_REFERENCES = {
    "type": "object",
    "$defs": {"amount": AMOUNT, "plan": {"$anchor": "plan", "type": ["boolean", "null"]}},
    "properties": {"total": {"$ref": "#/$defs/amount"}, "interest": {"$ref": "#/$defs/amount"},
                   "accepts_plan": {"$ref": "#plan"}},
    "required": ["total"],
}
# (name, schema, what the error says)
UNUSABLE = [
    ("http $ref", {"$ref": "http://127.0.0.1:9/schema.json"}, "points outside this schema"),
    ("https $ref deep inside", {"type": "object", "properties": {"a": {"$ref": "https://example.org/a.json"}}},
     "at #/properties/a points outside this schema"),
    ("file $ref", {"allOf": [{"$ref": "file:///etc/passwd"}]}, "points outside this schema"),
    ("relative $ref", {"$ref": "other.json#/x"}, "points outside this schema"),
    ("$dynamicRef to a URL", {"$dynamicRef": "http://example.org/x"}, "points outside this schema"),
    ("a list", [{"type": "object"}], "must be a JSON object"),
    ("a string", "object", "must be a JSON object"),
    ("a number", 1, "must be a JSON object"),
    ("true", True, "must be a JSON object"),
    ("non-string $schema", {"$schema": {"$ref": "http://example.org"}}, "$schema must be a string"),
    ("numeric $schema", {"$schema": 7}, "$schema must be a string"),
    ("unknown $schema", {"$schema": "http://example.org/my-dialect"}, "unknown $schema"),
    (f"{MAX_SCHEMA_DEPTH + 1} levels deep", nested(MAX_SCHEMA_DEPTH), "nested deeper than 32 levels"),
    ("self reference", {"$ref": "#"}, "leads back to itself"),
    ("self reference in allOf", {"allOf": [{"$ref": "#"}]}, "leads back to itself"),
    ("reference cycle", {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
     "leads back to itself"),
    ("recursive tree", {"$defs": {"n": {"type": "object", "properties": {"kids": {"items": {"$ref": "#/$defs/n"}}}}},
                        "$ref": "#/$defs/n"}, "leads back to itself"),
    ("dangling reference", {"$ref": "#/$defs/missing"}, "points to nothing in this schema"),
    ("unknown anchor", {"$ref": "#nowhere"}, "names no anchor"),
    ("nested $id", {"properties": {"a": {"$id": "http://example.org/a", "type": "string"}}},
     "$id is only allowed at the top"),
    ("invalid keyword value", {"type": "nonsense"}, "Not a valid JSON Schema"),
]
UNUSABLE_IDS = [case[0] for case in UNUSABLE]


@pytest.fixture
def http_server():
    with recording_server() as server:
        yield server


def test_local_references_are_usable_and_validate_answers():
    check_output_schema(LOCAL_REFERENCES)
    assert answer_schema_error({"total": "1.234,56 €", "interest": None, "accepts_plan": True}, LOCAL_REFERENCES) == ""
    assert answer_schema_error({"total": 12}, LOCAL_REFERENCES) == (
        "the answer does not match the output schema at total: 12 is not of type 'string', 'null'"
    )


def test_a_schema_at_the_depth_bound_is_usable():
    check_output_schema(nested(MAX_SCHEMA_DEPTH - 1))


@pytest.mark.parametrize(("name", "schema", "error"), UNUSABLE, ids=UNUSABLE_IDS)
def test_unusable_schemas_are_refused_with_a_reason(name, schema, error):
    with pytest.raises(InvalidOutputSchema, match=error.replace("$", r"\$").replace("Not", "not")):
        check_output_schema(schema)


def test_the_validator_refuses_a_remote_reference_and_fetches_nothing(http_server):
    schema = {"type": "object", "properties": {"total": {"$ref": http_server.url("/schema.json")}}}
    with pytest.raises(InvalidOutputSchema):
        output_validator(schema)
    reason = answer_schema_error({"total": "1,00 €"}, schema)
    assert reason.startswith("the prompt version's output schema cannot be used: $ref 'http://127.0.0.1:")
    assert FETCHED_MARKER not in reason
    assert http_server.hits == []


@pytest.mark.parametrize(
    "schema", [{"$ref": "#"}, {"allOf": [{"$ref": "#"}]}, nested(5000)], ids=["self", "allOf self", "5000 deep"]
)
def test_validating_against_a_recursive_or_deep_schema_is_a_reason_not_a_recursion_error(schema):
    assert answer_schema_error({"total": "1"}, schema).startswith("the prompt version's output schema cannot be used")


# Saving a version ---------------------------------------------------------------------------------

def add_form_data(output_schema):
    return {
        "task_type": "validation", "name": "schema_check", "description": "Schema", "system_prompt": "",
        "user_prompt_template": "{{ amount }}", "model_name": "claude-haiku-4-5-20251001", "temperature": "0",
        "max_tokens": "100", "output_schema": output_schema,
    }


def assert_add_form_refuses(client, schema, error):
    """Posting `schema` on the admin's add form is an error on the schema field only, and saves nothing."""
    response = client.post(reverse("admin:prompts_prompttemplate_add"), add_form_data(json.dumps(schema)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["output_schema"]
    assert error.lower() in errors["output_schema"][0].lower()
    assert not PromptTemplate.objects.filter(name="schema_check").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "schema", "error"), UNUSABLE, ids=UNUSABLE_IDS)
def test_each_unusable_schema_is_a_form_error_on_the_schema_field(admin_client, name, schema, error):
    assert_add_form_refuses(admin_client, schema, error)


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [500, 100_000])
def test_a_schema_nested_hundreds_or_thousands_of_levels_deep_is_a_form_error_and_shown_again_as_typed(
    admin_client, depth
):
    typed = '{"items": ' * depth + "{}" + "}" * depth
    response = admin_client.post(reverse("admin:prompts_prompttemplate_add"), add_form_data(typed))
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["output_schema"]
    assert "nested" in error
    assert response.context["adminform"].form["output_schema"].value() == typed


@pytest.mark.django_db
def test_an_unusable_schema_is_a_form_error_on_the_new_version_form_too(admin_client, intent_v1, http_server):
    data = {
        "description": "Remote schema", "system_prompt": "", "user_prompt_template": intent_v1.user_prompt_template,
        "model_name": intent_v1.model_name, "temperature": "0", "max_tokens": "100",
        "output_schema": json.dumps({"$ref": http_server.url("/schema.json")}),
    }
    response = admin_client.post(reverse("admin:prompts_prompttemplate_new_version", args=[intent_v1.pk]), data)
    assert response.status_code == 200
    assert "points outside this schema" in response.context["form"].errors["output_schema"][0]
    assert PromptTemplate.objects.filter(name="email_intent").count() == 1
    assert http_server.hits == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "schema", "error"),
    [*UNUSABLE, ("100000 levels deep", nested(100_000), "nested deeper than 32 levels")],
    ids=[*UNUSABLE_IDS, "100000 levels deep"],
)
def test_the_service_refuses_each_unusable_schema_with_a_validation_error(intent_v1, name, schema, error):
    with pytest.raises(ValidationError) as excinfo:
        prompt_create_version(source=intent_v1, created_by="erika", description="Schema", output_schema=schema)
    assert error.lower() in excinfo.value.message_dict["output_schema"][0].lower()
    assert PromptTemplate.objects.filter(name="email_intent").count() == 1
