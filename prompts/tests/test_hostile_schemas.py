"""Output schemas written to hang, blow up or mislead the worker: each is a form error when saved, and a
stored one (from before the check, a fixture, an import) is a reason at validation, never a crash or a hang.

The attacks are the second review's: identifiers that move where references point, duplicate anchors,
references that fan out exponentially, regular expressions that backtrack without bound, answers too
big to validate quickly, and schemas that only a full check at validation catches.
"""

import copy
import json

import pytest
from django.core.exceptions import ValidationError

from prompts.schema_patterns import longest_subject, match_steps
from prompts.schemas import (
    MAX_ANSWER_ARRAY_ITEMS,
    MAX_ANSWER_KEY_CHARS,
    MAX_ANSWER_MATCH_STEPS,
    MAX_ANSWER_VALUES,
    MAX_EXPANDED_SCHEMA_DEPTH,
    MAX_EXPANDED_SCHEMA_VALUES,
    MAX_PATTERN_SUBJECT_CHARS,
    InvalidOutputSchema,
    answer_schema_error,
    check_output_schema,
    output_validator,
)
from prompts.services import prompt_create_version
from prompts.tests.test_output_schemas import assert_add_form_refuses

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def fan_out(levels, width):
    """$defs l0..l<levels>, each referring `width` times to the next: width**levels subschemas once expanded."""
    defs = {f"l{i}": {"allOf": [{"$ref": f"#/$defs/l{i + 1}"}] * width} for i in range(levels)}
    defs[f"l{levels}"] = {"type": "string"}
    return {"type": "object", "$defs": defs, "properties": {"total": {"$ref": "#/$defs/l0"}}}


def reference_chain(length):
    """$defs a0 -> a1 -> ... -> a<length>: small, but as deep as the chain once followed."""
    defs = {f"a{i}": {"$ref": f"#/$defs/a{i + 1}"} for i in range(length)}
    defs[f"a{length}"] = {"type": "string"}
    return {"$defs": defs, "properties": {"total": {"$ref": "#/$defs/a0"}}}


def nested_unevaluated(levels):
    """anyOf inside anyOf, each with unevaluatedProperties: validating took 20 s at 14 levels, x2.7 a level."""
    schema = {"type": "object", "properties": {"total": {}}}
    for _ in range(levels):
        schema = {"anyOf": [schema], "unevaluatedProperties": False}
    return schema


def with_pattern(pattern, keyword="pattern"):
    if keyword == "patternProperties":
        return {"type": "object", "patternProperties": {pattern: {"type": "string"}}}
    if keyword == "propertyNames":
        return {"type": "object", "propertyNames": {"pattern": pattern}}
    return {"type": "object", "properties": {"reference": {"type": "string", "pattern": pattern}}}


# The draft-4 attack: "id" rebases #/definitions/q inside p onto p's own definitions, where q refers to itself.
ID_REBASES_REFERENCE = {
    "$schema": DRAFT4, "definitions": {"q": {"type": "string"}},
    "properties": {"p": {"id": "http://x.invalid/a.json", "allOf": [{"$ref": "#/definitions/q"}],
                         "definitions": {"q": {"allOf": [{"$ref": "#/definitions/q"}]}}}},
}
DUPLICATE_ANCHOR = {
    "$defs": {"amount": {"$anchor": "amount", "type": "string"}, "other": {"$anchor": "amount", "type": "number"}},
    "properties": {"total": {"$ref": "#amount"}},
}

# (name, schema, what the error says)
HOSTILE = [
    # S1: identifiers and anchors that make the validator resolve differently from the check
    ("draft-4 id rebasing a $ref", ID_REBASES_REFERENCE,
     "id is only allowed at the top of the schema, not at #/properties/p"),
    ("draft-4 id as an anchor", {"$schema": DRAFT4, "properties": {"a": {"id": "#amount"}}},
     "id is only allowed at the top"),
    ("draft-7 $id as an anchor", {"$schema": DRAFT7, "properties": {"a": {"$id": "#amount"}}},
     "$id is only allowed at the top"),
    ("relative $id", {"properties": {"a": {"$id": "sub/", "properties": {"b": {"type": "string"}}}}},
     "$id is only allowed at the top"),
    ("top $id with a fragment", {"$schema": DRAFT7, "$id": "#root", "type": "object"}, "may not have a #fragment"),
    ("id hidden in a subschema only a $ref reaches",
     {"x-hidden": {"id": "http://x.invalid/", "type": "string"}, "properties": {"a": {"$ref": "#/x-hidden"}}},
     "id is only allowed at the top of the schema, not at #/x-hidden"),
    ("duplicate $anchor", DUPLICATE_ANCHOR, "the anchor 'amount' is defined twice"),
    ("$anchor and $dynamicAnchor of one name",
     {"$defs": {"a": {"$anchor": "x"}, "b": {"$dynamicAnchor": "x"}}, "$ref": "#x"}, "is defined twice"),
    ("draft-3 extends referring back to the top",
     {"$schema": "http://json-schema.org/draft-03/schema#", "properties": {"x": {"extends": {"$ref": "#"}}}},
     "$ref '#' at #/properties/x/extends leads back to itself"),
    ("$ref to the properties map", {"properties": {"type": {"type": "string"}}, "allOf": [{"$ref": "#/properties"}]},
     "a reference points to #/properties, which is not a valid JSON Schema"),
    ("$ref to a list", {"required": ["a"], "properties": {"a": {"$ref": "#/required"}}},
     "points to list value, not a schema"),
    ("$anchor in a draft without anchors", {"$schema": DRAFT7, "definitions": {"a": {"$anchor": "a"}},
                                            "properties": {"x": {"$ref": "#a"}}}, "names no anchor"),
    ("nested $schema", {"properties": {"a": {"$schema": DRAFT4, "type": "string"}}},
     "$schema is only allowed at the top"),
    ("$schema that is not a URL", {"$schema": "http://[", "type": "object"}, "unknown $schema"),
    ("top $id that is not a URI", {"$schema": DRAFT7, "$id": "http://[", "type": "object"}, "is not a URI"),
    ("$vocabulary", {"$vocabulary": {"https://example.org/vocab": True}},
     "$vocabulary (at #) belongs in a meta-schema"),
    ("remote $ref under a property named like a keyword", {"properties": {"default": {"$ref": "https://x.invalid/a"}}},
     "points outside this schema"),
    ("remote $ref hidden where only a $ref reaches",
     {"x-hidden": {"$ref": "http://x.invalid/a"}, "properties": {"a": {"$ref": "#/x-hidden"}}},
     "points outside this schema"),
    # S2: size once references are followed
    ("billion laughs through $defs", fan_out(9, 10),
     f"more than {MAX_EXPANDED_SCHEMA_VALUES:,} values once its references are followed ("),
    ("a long chain of references", reference_chain(100),
     f"nested deeper than {MAX_EXPANDED_SCHEMA_DEPTH} levels once its references are followed"),
    ("a schema of 200,000 characters", {"type": "object", "description": "x" * 200_000},
     "the schema is longer than 100,000 characters as JSON (200,"),
    ("a huge schema", {"enum": list(range(MAX_EXPANDED_SCHEMA_VALUES))},
     f"more than {MAX_EXPANDED_SCHEMA_VALUES:,} values"),
    ("nested unevaluatedProperties", nested_unevaluated(14),
     "unevaluatedProperties/unevaluatedItems may be used once (references followed), not 14 times"),
    ("unevaluatedProperties twice through references",
     {"$defs": {"u": {"unevaluatedProperties": False, "properties": {"a": {}}}},
      "allOf": [{"$ref": "#/$defs/u"}, {"$ref": "#/$defs/u"}]}, "not 2 times"),
    # S3: regular expressions that backtrack without bound
    ("(a+)+$", with_pattern("^(a+)+$"), "pattern at #/properties/reference repeats a part of variable length (+)"),
    ("(a|a)*b", with_pattern("(a|a)*b"), "alternative that can match nothing inside a repeat"),
    ("(.*a){20}", with_pattern("(.*a){20}"), "repeats a part of variable length (*) inside another repeat"),
    ("(x|xy)+ in patternProperties", with_pattern("^(x|xy)+$", "patternProperties"), "patternProperties '^(x|xy)+$'"),
    ("(\\w+\\s?)+ in propertyNames", with_pattern("^(\\w+\\s?)+$", "propertyNames"),
     "pattern at #/propertyNames repeats a part of variable length"),
    ("(ab|\\wb)+", with_pattern("^(ab|\\wb)+$"), "alternatives that can start with the same character"),
    ("(\\d?\\d)* (optional part)", with_pattern("^(\\d?\\d)*$"), "repeats a part of variable length (?)"),
    ("back-reference", with_pattern("^(a*)\\1$"), "back-reference"),
    ("many unbounded repeats", with_pattern(".*a.*b.*c.*d"),
     "has too many repeats and alternatives one after another: it could only be checked on texts of up to 24 "),
    ("patternProperties too slow for long property names", with_pattern("^\\w+_\\w+_\\w+$", "patternProperties"),
     "has too many repeats to be checked on property names of up to 200 characters"),
    ("a pattern of 2,000 characters", with_pattern("a" * 2000), "longer than 1000 characters"),
]
HOSTILE_IDS = [case[0] for case in HOSTILE]

SAFE_PATTERNS = [
    "^[A-Z]{2}\\d+$",  # the review's example
    "^\\d{1,3}(\\.\\d{3})*,\\d{2} ?€?$",  # a German amount
    "^(DE|AT)\\d{2}[A-Z0-9]{11,30}$",  # an IBAN
    "^[A-Z]{2,4}-\\d{4}-\\d+$",  # a file number
    "(?i)^[a-zäöüß .-]+$",
    "^\\d{2}\\.\\d{2}\\.\\d{4}$",
    "^(?:Herr|Frau) [A-Z][a-z]+$",
    "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$",  # an e-mail address
    "^(?>a+)+$",  # an atomic group never backtracks into itself
]


@pytest.mark.parametrize(("name", "schema", "error"), HOSTILE, ids=HOSTILE_IDS)
def test_each_hostile_schema_is_refused_when_checked(name, schema, error):
    with pytest.raises(InvalidOutputSchema) as excinfo:
        check_output_schema(schema)
    assert error in str(excinfo.value)


@pytest.mark.parametrize(("name", "schema", "error"), HOSTILE, ids=HOSTILE_IDS)
def test_each_hostile_schema_stored_without_the_check_is_a_reason_when_an_answer_is_validated(name, schema, error):
    reason = answer_schema_error({"reference": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "total": "1"}, schema)
    assert reason.startswith("the prompt version's output schema cannot be used: ")
    assert error in reason


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "schema", "error"), HOSTILE, ids=HOSTILE_IDS)
def test_each_hostile_schema_is_a_form_error_in_the_admin(admin_client, name, schema, error):
    assert_add_form_refuses(admin_client, schema, error)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "schema", "error"), HOSTILE, ids=HOSTILE_IDS)
def test_each_hostile_schema_is_refused_by_the_version_service(intent_v1, name, schema, error):
    with pytest.raises(ValidationError) as excinfo:
        prompt_create_version(source=intent_v1, created_by="erika", description="Schema", output_schema=schema)
    assert error.lower() in excinfo.value.message_dict["output_schema"][0].lower()


# What stays allowed -------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", SAFE_PATTERNS)
def test_simple_patterns_are_allowed_and_still_checked(pattern):
    check_output_schema(with_pattern(pattern))
    assert "does not match" in answer_schema_error({"reference": "!"}, with_pattern(pattern))


def test_identifiers_where_they_cannot_move_references_are_allowed():
    schema = {
        "$id": "https://practice.example/schemas/extraction.json",
        "type": "object",
        "$defs": {"amount": {"$anchor": "amount", "type": ["string", "null"]}},
        # A property named "id", and "id" inside examples and defaults, are data, not identifiers.
        "properties": {"id": {"type": "string", "examples": [{"id": "INK-1", "$ref": "http://x.invalid"}]},
                       "default": {"$ref": "#amount"}, "total": {"$ref": "#/$defs/amount"}},
        "required": ["id"],
    }
    check_output_schema(schema)
    assert answer_schema_error({"id": "INK-1", "total": "1,00 €", "default": None}, schema) == ""
    assert "at total" in answer_schema_error({"id": "INK-1", "total": 1}, schema)


def test_unevaluated_properties_once_is_allowed_and_weighs_its_depth():
    schema = {"allOf": [{"properties": {"total": {"type": "string"}}}], "unevaluatedProperties": False}
    check_output_schema(schema)
    assert answer_schema_error({"total": "1"}, schema) == ""
    assert "Unevaluated properties are not allowed ('x' was unexpected)" in answer_schema_error(
        {"total": "1", "x": 1}, schema
    )


def test_a_schema_within_the_expanded_bounds_is_allowed():
    check_output_schema(fan_out(3, 10))  # 10**3 expanded subschemas
    check_output_schema(reference_chain(MAX_EXPANDED_SCHEMA_DEPTH // 2 - 2))
    assert answer_schema_error({"total": "1"}, fan_out(3, 10)) == ""


# S3/S4: answers too big to validate quickly -------------------------------------------------------

PATTERN_SCHEMA = with_pattern("^[A-Z0-9-]+$")
UNIQUE_ITEMS = {"type": "object", "properties": {"notes": {"type": "array", "uniqueItems": True}}}


@pytest.mark.parametrize(
    "draft", [None, "http://json-schema.org/draft-03/schema#", DRAFT4, DRAFT7,
              "https://json-schema.org/draft/2019-09/schema"],
)
def test_a_string_longer_than_the_pattern_bound_fails_validation_with_the_reason(draft):
    schema = PATTERN_SCHEMA if draft is None else {**PATTERN_SCHEMA, "$schema": draft}
    limit = MAX_PATTERN_SUBJECT_CHARS
    assert answer_schema_error({"reference": "A" * limit}, schema) == ""
    assert answer_schema_error({"reference": "A" * (limit + 1)}, schema) == (
        "the answer does not match the output schema at reference: a text of 1,001 characters is longer than "
        "the 1,000 characters checked against this pattern"
    )


def test_a_pattern_of_several_repeats_is_checked_on_shorter_texts_only():
    address = "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"  # three unbounded repeats one after another
    limit = longest_subject(address)
    assert 50 <= limit < 100
    assert answer_schema_error({"reference": "a" * (limit - 6) + "@b.de"}, with_pattern(address)) == ""
    assert answer_schema_error({"reference": "a" * limit + "@b.de"}, with_pattern(address)).endswith(
        f"is longer than the {limit} characters checked against this pattern"
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"notes": [{"n": i} for i in range(MAX_ANSWER_ARRAY_ITEMS + 1)]}, "a list has 201 items, more than 200"),
        ({"notes": [[[i] for i in range(100)] for _ in range(MAX_ANSWER_VALUES // 100)]},
         "it has more than 2,000 values"),
        ({"x" * (MAX_ANSWER_KEY_CHARS + 1): 1}, "a property name is longer than 200 characters"),
    ],
    ids=["many items", "many values", "long key"],
)
def test_an_answer_too_big_to_validate_quickly_is_a_reason(answer, reason):
    assert answer_schema_error(answer, UNIQUE_ITEMS).startswith(
        f"the answer is too big to be checked against the output schema: {reason}"
    )


def test_the_pattern_matches_of_one_answer_share_a_bound():
    two_repeats = "^\\d+\\d+$"
    schema = {"type": "object", "properties": {"lines": {"type": "array", "items": {"pattern": two_repeats}}}}
    longest = longest_subject(two_repeats)
    per_match = match_steps(two_repeats, longest)
    within = MAX_ANSWER_MATCH_STEPS // per_match
    assert answer_schema_error({"lines": ["1" * longest] * within}, schema) == ""
    assert answer_schema_error({"lines": ["1" * longest] * (within + 1)}, schema) == (
        f"the answer does not match the output schema at lines/{within}: the answer's texts together take too "
        "long to check against the schema's patterns"
    )


def test_a_big_answer_against_a_big_schema_is_a_reason_before_any_check():
    schema = fan_out(3, 10)  # 4,516 values once expanded
    assert answer_schema_error({"total": "1"}, schema) == ""
    reason = answer_schema_error({"total": "1", "notes": list(range(150))}, schema)
    assert reason.startswith(
        "the answer is too big to be checked against the output schema: more than 55 values would take more "
        "than 250,000 checks against this schema (4,516 per value, references followed)"
    )


def test_unique_items_on_the_biggest_allowed_answer_is_still_checked():
    notes = [{"n": i, "text": "x"} for i in range(MAX_ANSWER_ARRAY_ITEMS - 1)] + [{"n": 0, "text": "x"}]
    assert "has non-unique elements" in answer_schema_error({"notes": notes}, UNIQUE_ITEMS)


# S5: the full check at validation, once per schema ------------------------------------------------

def test_the_full_check_runs_at_validation_once_per_schema():
    schema = fan_out(2, 3)
    validator = output_validator(schema)
    # The same schema read again from the database is a new object: the validator is the cached one.
    assert output_validator(copy.deepcopy(schema)) is validator
    assert output_validator(json.loads(json.dumps(schema))) is validator


def test_format_is_an_annotation_never_asserted_so_nothing_is_looked_up():
    schema = {"type": "object", "properties": {"site": {"format": "uri"}, "host": {"format": "idn-hostname"},
                                               "mail": {"format": "email"}}}
    check_output_schema(schema)
    assert answer_schema_error({"site": "http://127.0.0.1:9/x", "host": "not a host", "mail": "x"}, schema) == ""
