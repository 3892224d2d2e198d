"""Output schemas of prompt versions: checked when a version is saved, and validators that never fetch.

A JSON Schema `$ref` can name any URL or file, and a validator built without a registry fetches it
(FACTS.md, jsonschema 4.26 / referencing 0.37). An output schema may therefore only refer into
itself (`#/...`, `#anchor`), never recursively (Anthropic's structured outputs take no recursive
schemas, and validating one can recurse without end), and answers are validated with an empty
`referencing.Registry()`, which never retrieves anything. The same checks run again before every
validation, so a row that never went through a form (a fixture, an import, raw SQL) cannot fetch
or recurse either.
"""

import urllib.parse

import jsonschema
import referencing
import referencing.exceptions
from jsonschema.validators import validator_for

# JSON nesting levels (a property of an object costs two: "properties" and its name).
MAX_SCHEMA_DEPTH = 32
MAX_REFERENCES = 200
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
ANCHOR_KEYWORDS = ("$anchor", "$dynamicAnchor")


class InvalidOutputSchema(ValueError):
    """The output schema cannot be used; the message says why, for the operator."""


def check_output_schema(schema):
    """Raise InvalidOutputSchema unless `schema` is a usable output schema (run when a version is saved)."""
    _check_references(schema)
    if "$schema" in schema and validator_for(schema, default=None) is None:
        raise InvalidOutputSchema(
            f"unknown $schema {schema['$schema']!r}; leave it out or use a JSON Schema draft's URL, e.g. "
            "https://json-schema.org/draft/2020-12/schema"
        )
    try:
        validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidOutputSchema(f"not a valid JSON Schema: {exc.message}") from None


def output_validator(schema):
    """A validator for answers against `schema` that resolves only references inside the schema.

    Raises InvalidOutputSchema for a schema that refers outside itself, recursively or too deep.
    """
    _check_references(schema)
    validator_class = validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_class(schema, registry=referencing.Registry())


def answer_schema_error(data, schema):
    """Why `data` does not match `schema`, or "" when it does; an unusable schema is a reason, not an exception."""
    try:
        error = jsonschema.exceptions.best_match(output_validator(schema).iter_errors(data))
    except InvalidOutputSchema as exc:
        return f"the prompt version's output schema cannot be used: {exc}"
    except referencing.exceptions.Unresolvable as exc:
        return f"the prompt version's output schema has a reference that cannot be resolved: {exc}"
    except RecursionError:
        return "the prompt version's output schema cannot be used: validating the answer recursed without end"
    except Exception as exc:  # a stored schema that never went through the form ("pattern": "((")
        return f"the prompt version's output schema cannot be used: {type(exc).__name__}: {exc}"
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return f"the answer does not match the output schema at {where}: {error.message}"


def _check_references(schema):
    if not isinstance(schema, dict):
        raise InvalidOutputSchema(
            f'an output schema must be a JSON object like {{"type": "object"}}, not {schema!r:.40}'
        )
    if "$schema" in schema and not isinstance(schema["$schema"], str):
        raise InvalidOutputSchema("$schema must be a string: the URL of a JSON Schema draft")
    references, anchors = _walk(schema)
    if len(references) > MAX_REFERENCES:
        raise InvalidOutputSchema(f"the schema has more than {MAX_REFERENCES} references ($ref)")
    targets = []
    for path, keyword, reference in references:
        if not reference.startswith("#"):
            raise InvalidOutputSchema(
                f"{keyword} {reference!r} at {_pointer(path)} points outside this schema; only references into "
                "it (#/...) are allowed, so nothing is ever fetched"
            )
        targets.append(_resolve(schema, reference, anchors, f"{keyword} {reference!r} at {_pointer(path)}"))
    _refuse_recursion(references, targets)


def _walk(schema):
    """Every reference (path, keyword, value) and anchor of `schema`, without recursion."""
    references, anchors = [], {}
    stack = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_SCHEMA_DEPTH:
            raise InvalidOutputSchema(
                f"the schema is nested deeper than {MAX_SCHEMA_DEPTH} levels (at {_pointer(path[:8])}...)"
            )
        if isinstance(node, dict):
            for key, value in node.items():
                if key in REFERENCE_KEYWORDS and isinstance(value, str):
                    references.append((path, key, value))
                elif key in ANCHOR_KEYWORDS and isinstance(value, str):
                    anchors.setdefault(value, path)
                elif key == "$id" and path and isinstance(value, str):
                    # A nested $id changes what "#/..." below it means.
                    raise InvalidOutputSchema(f"$id is only allowed at the top of the schema, not at {_pointer(path)}")
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((value, (*path, index)) for index, value in enumerate(node))
    return references, anchors


def _resolve(schema, reference, anchors, described):
    fragment = urllib.parse.unquote(reference[1:])
    if fragment and not fragment.startswith("/"):
        if fragment not in anchors:
            raise InvalidOutputSchema(f"{described} names no anchor of this schema")
        return anchors[fragment]
    node, path = schema, ()
    for token in fragment.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node, path = node[int(key)], (*path, int(key))
        elif isinstance(node, dict) and key in node:
            node, path = node[key], (*path, key)
        else:
            raise InvalidOutputSchema(f"{described} points to nothing in this schema")
    return path


def _refuse_recursion(references, targets):
    """A reference leads to every reference inside its target; a cycle of them is a recursive schema."""

    def leads_to(index):
        target = targets[index]
        return iter([other for other, (path, _, _) in enumerate(references) if path[: len(target)] == target])

    state = {}  # index -> "open" while on the current route, "done" once nothing recursive follows it
    for start in range(len(references)):
        if start in state:
            continue
        state[start] = "open"
        stack = [(start, leads_to(start))]
        while stack:
            index, following = stack[-1]
            next_index = next(following, None)
            if next_index is None:
                state[index] = "done"
                stack.pop()
            elif state.get(next_index) == "open":
                path, keyword, reference = references[next_index]
                raise InvalidOutputSchema(
                    f"{keyword} {reference!r} at {_pointer(path)} leads back to itself (a recursive schema); "
                    "structured outputs need a schema without recursion"
                )
            elif next_index not in state:
                state[next_index] = "open"
                stack.append((next_index, leads_to(next_index)))


def _pointer(path):
    return "#" + "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)
