"""Output schemas of prompt versions: checked when a version is saved, and validators that never fetch,
hang or crash the worker.

What a schema may be is prompts.schema_checks (references only into the schema, never recursive, bounded
with references followed, regexes that cannot backtrack without bound). Answers are validated with an
empty `referencing.Registry()`, which never retrieves anything, by a validator built only after that
full check (cached per schema, so old rows, fixtures and imports are held to it at no cost per call),
and only when the answer is small enough that validating it is cheap: a bounded number of values,
array items and characters in a property name, strings matched against a pattern only up to the
length that pattern can be matched on quickly, and a bound on all matches of one answer. Anything else
is a reason, and the e-mail goes to review.
"""

import contextvars
import functools
import json
from dataclasses import dataclass

import jsonschema
import referencing
import referencing.exceptions
from django.utils.translation import get_language, gettext
from jsonschema.protocols import Validator

from config.formatting import format_number
from prompts.schema_checks import (  # noqa: F401 (the schema limits are part of this module's interface)
    MAX_ANSWER_KEY_CHARS,
    MAX_EXPANDED_SCHEMA_DEPTH,
    MAX_EXPANDED_SCHEMA_VALUES,
    MAX_REFERENCES,
    MAX_SCHEMA_CHARS,
    MAX_SCHEMA_DEPTH,
    InvalidOutputSchema,
    check_shape,
    check_structure,
)
from prompts.schema_patterns import MAX_SUBJECT_CHARS, longest_subject, match_steps

# What an answer may hold to be validated at all (an extraction answer has a few dozen values).
MAX_ANSWER_VALUES = 2_000
MAX_ANSWER_ARRAY_ITEMS = 200
MAX_PATTERN_SUBJECT_CHARS = MAX_SUBJECT_CHARS  # or fewer for a pattern of many repeats (schema_patterns)
# Answer values times schema values (references followed): a bound on the work of one validation.
MAX_VALIDATION_CHECKS = 250_000
# All pattern matches of one answer together (schema_patterns.match_steps; one match takes up to 10,000,000).
MAX_ANSWER_MATCH_STEPS = 50_000_000

# What is left of the current answer's MAX_ANSWER_MATCH_STEPS, as a one-item list (validators are shared).
_match_steps_left = contextvars.ContextVar("match_steps_left")


def check_output_schema(schema):
    """Raise InvalidOutputSchema unless `schema` is a usable output schema (run when a version is saved)."""
    output_validator(schema)


def output_validator(schema):
    """A validator for answers against `schema` that resolves only references inside the schema.

    Raises InvalidOutputSchema for a schema that fails the check of check_output_schema.
    """
    return _usable(schema).validator


@dataclass(frozen=True)
class _UsableSchema:
    validator: Validator
    checks_per_value: int  # a bound on the checks validating one value of an answer takes


def _usable(schema):
    try:
        text = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = None  # too deep or not JSON: the uncached check says which
    if text is None:
        check_shape(schema)
        raise InvalidOutputSchema(gettext("the schema is not plain JSON (numbers, strings, lists and objects only)"))
    # The reason a schema is refused is cached in the language it was written in: the language is part of the key.
    usable, problem = _usable_schema_for_text(text, get_language())
    if problem:
        raise InvalidOutputSchema(problem)
    return usable


def answer_schema_error(data, schema):
    """Why `data` does not match `schema`, or "" when it does; an unusable schema is a reason, not an exception."""
    try:
        usable = _usable(schema)
    except InvalidOutputSchema as exc:
        return f"the prompt version's output schema cannot be used: {exc}"
    too_big = _answer_too_big(data, usable.checks_per_value)
    if too_big:
        return f"the answer is too big to be checked against the output schema: {too_big}"
    steps_left = _match_steps_left.set([MAX_ANSWER_MATCH_STEPS])
    try:
        error = jsonschema.exceptions.best_match(usable.validator.iter_errors(data))
    except referencing.exceptions.Unresolvable as exc:
        return f"the prompt version's output schema has a reference that cannot be resolved: {exc}"
    except RecursionError:
        return "the prompt version's output schema cannot be used: validating the answer recursed without end"
    except Exception as exc:  # a last line: the check above should leave nothing that raises
        return f"the prompt version's output schema cannot be used: {type(exc).__name__}: {exc}"
    finally:
        _match_steps_left.reset(steps_left)
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return f"the answer does not match the output schema at {where}: {error.message}"


@functools.lru_cache(maxsize=128)
def _usable_schema_for_text(text, language):
    """(_UsableSchema, "") for a usable schema given as JSON text, else (None, why not in `language`, the active
    one); cached per schema and language."""
    if len(text) > MAX_SCHEMA_CHARS:
        return None, gettext("the schema is longer than %(limit)s characters as JSON (%(size)s)") % {
            "limit": format_number(MAX_SCHEMA_CHARS), "size": format_number(len(text)),
        }
    schema = json.loads(text)  # a private copy: a tree, whatever objects the caller's schema shares
    try:
        validator_class, checks_per_value = check_structure(schema)
    except InvalidOutputSchema as exc:
        return None, str(exc)
    except Exception as exc:  # a schema no rule foresaw is refused too: a form error, never a 500 or a crash
        return None, gettext("the schema could not be checked (%(error)s)") % {
            "error": f"{type(exc).__name__}: {str(exc)[:200]}",
        }
    validator = _answer_validator_class(validator_class)(schema, registry=referencing.Registry())
    return _UsableSchema(validator, checks_per_value), ""


@functools.cache
def _answer_validator_class(validator_class):
    """`validator_class` whose `pattern` refuses a string too long to match quickly, instead of matching it."""
    match_pattern = validator_class.VALIDATORS["pattern"]

    def pattern(validator, pattern, instance, schema):
        if validator.is_type(instance, "string"):
            longest = longest_subject(pattern)  # cached; the schema's check has accepted the pattern
            if len(instance) > longest:
                yield jsonschema.ValidationError(
                    f"a text of {len(instance):,} characters is longer than the {longest:,} characters checked "
                    "against this pattern"
                )
                return
            steps_left = _match_steps_left.get([MAX_ANSWER_MATCH_STEPS])
            steps_left[0] -= match_steps(pattern, len(instance))
            if steps_left[0] < 0:
                yield jsonschema.ValidationError(
                    "the answer's texts together take too long to check against the schema's patterns"
                )
                return
        yield from match_pattern(validator, pattern, instance, schema)

    return jsonschema.validators.extend(validator_class, {"pattern": pattern})


def _answer_too_big(data, checks_per_value):
    """Why `data` is too big to validate quickly, or "" (walked without recursion).

    Validation checks each value of the answer against at most each value of the expanded schema
    (`checks_per_value`); uniqueItems alone is quadratic in a list's items.
    """
    pending, values = [data], 0
    while pending:
        value = pending.pop()
        values += 1
        if values > MAX_ANSWER_VALUES:
            return f"it has more than {MAX_ANSWER_VALUES:,} values"
        if values * checks_per_value > MAX_VALIDATION_CHECKS:
            return (
                f"more than {values - 1:,} values would take more than {MAX_VALIDATION_CHECKS:,} checks against "
                f"this schema ({checks_per_value:,} per value, references followed)"
            )
        if isinstance(value, dict):
            long_key = next((key for key in map(str, value) if len(key) > MAX_ANSWER_KEY_CHARS), None)
            if long_key is not None:
                return f"a property name is longer than {MAX_ANSWER_KEY_CHARS} characters ({long_key[:40]!r}...)"
            pending.extend(value.values())
        elif isinstance(value, list):
            if len(value) > MAX_ANSWER_ARRAY_ITEMS:
                return f"a list has {len(value):,} items, more than {MAX_ANSWER_ARRAY_ITEMS}"
            pending.extend(value)
    return ""
