"""The structure of an output schema: what a version's schema may be, checked as the validator reads it.

A JSON Schema `$ref` can name any URL or file, and a validator built without a registry fetches it
(FACTS.md, jsonschema 4.26 / referencing 0.37). An output schema may therefore only refer into itself
(`#/...`, `#anchor`), never recursively (Anthropic's structured outputs take no recursive schemas, and
validating one recurses without end). The check resolves every reference with the validator's own
resolver (the `referencing` library, for the schema's draft), and refuses what would make it resolve
differently from what was checked (a nested `$id`, a draft-4 `id`, a duplicate anchor). It bounds the
schema with every reference followed (size and depth: `$defs` that fan out a->b,b->c,c,c... are refused;
nested unevaluatedProperties) and refuses regular expressions that backtrack without bound
(prompts.schema_patterns). prompts.schemas runs it and builds the validator.
"""

import urllib.parse
from dataclasses import dataclass, field

import jsonschema
import referencing
import referencing.exceptions
from django.utils.translation import gettext
from jsonschema.validators import validator_for
from jsonschema_specifications import REGISTRY as META_SCHEMAS

from config.formatting import format_number
from prompts.schema_patterns import UnsafePattern, longest_subject

# JSON nesting levels (a property of an object costs two: "properties" and its name).
MAX_SCHEMA_DEPTH = 32
# As JSON text: the schema is sent with every call, and paid for as input tokens.
MAX_SCHEMA_CHARS = 100_000
MAX_REFERENCES = 200
# With every reference replaced by what it points to: JSON values, and nesting levels.
MAX_EXPANDED_SCHEMA_VALUES = 5_000
MAX_EXPANDED_SCHEMA_DEPTH = 64
# Property names of an answer are matched against patternProperties up to this length.
MAX_ANSWER_KEY_CHARS = 200

REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
ANCHOR_KEYWORDS = ("$anchor", "$dynamicAnchor")
ID_KEYWORDS = ("$id", "id")  # "id" is the identifier of drafts 3 and 4
DEFINITION_KEYWORDS = ("$defs", "definitions")
UNEVALUATED_KEYWORDS = ("unevaluatedProperties", "unevaluatedItems")
# Keywords whose values are data, not subschemas; and those that map names (not keywords) to subschemas.
DATA_KEYWORDS = ("enum", "const", "default", "examples")
NAME_MAP_KEYWORDS = (
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies",
)


class InvalidOutputSchema(ValueError):
    """The output schema cannot be used; the message says why, for the operator."""


def check_structure(schema):
    """(validator class, a bound on the checks per answer value) for a usable schema; else InvalidOutputSchema."""
    tree = check_shape(schema)
    if "$schema" in schema and _known_validator_class(schema) is None:
        raise InvalidOutputSchema(
            gettext(
                "unknown $schema %(value)r; leave it out or use a JSON Schema draft's URL, e.g. "
                "https://json-schema.org/draft/2020-12/schema"
            ) % {"value": schema["$schema"]}
        )
    validator_class = validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidOutputSchema(gettext("not a valid JSON Schema: %(error)s") % {"error": exc.message}) from None
    subschemas = _check_subschemas(schema, tree, validator_class)
    _refuse_recursion(subschemas.references)
    return validator_class, _check_expanded_size(tree, subschemas)


def _known_validator_class(schema):
    try:
        return validator_for(schema, default=None)
    except ValueError:  # looked up as a URL: "http://[" is not one
        return None


class _Tree:
    """Where each object and list of a schema is, and how big and deep each is."""

    def __init__(self):
        self.path_of = {}  # id(container) -> path
        self.size = {}  # path -> JSON values in it, itself included
        self.height = {}  # path -> nesting levels below it


def check_shape(schema):
    """Refuse what is not an object or too deep or big to check; return its _Tree (walked without recursion)."""
    if not isinstance(schema, dict):
        raise InvalidOutputSchema(
            gettext('an output schema must be a JSON object like {"type": "object"}, not %(value)s')
            % {"value": f"{schema!r:.40}"}
        )
    if "$schema" in schema and not isinstance(schema["$schema"], str):
        raise InvalidOutputSchema(gettext("$schema must be a string: the URL of a JSON Schema draft"))
    tree, order, parents = _Tree(), [], []
    stack = [(schema, (), -1)]
    while stack:
        node, path, parent = stack.pop()
        if len(path) > MAX_SCHEMA_DEPTH:
            raise InvalidOutputSchema(
                gettext("the schema is nested deeper than %(levels)s levels (at %(where)s...)")
                % {"levels": MAX_SCHEMA_DEPTH, "where": _pointer(path[:8])}
            )
        if len(order) >= MAX_EXPANDED_SCHEMA_VALUES:
            raise InvalidOutputSchema(
                gettext("the schema has more than %(count)s values")
                % {"count": format_number(MAX_EXPANDED_SCHEMA_VALUES)}
            )
        index = len(order)
        order.append(path)
        parents.append(parent)
        if isinstance(node, dict | list):
            tree.path_of.setdefault(id(node), path)
            children = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, (*path, key), index) for key, value in children)
    sizes, heights = [1] * len(order), [0] * len(order)
    for index in range(len(order) - 1, 0, -1):  # children come after their parent
        sizes[parents[index]] += sizes[index]
        heights[parents[index]] = max(heights[parents[index]], heights[index] + 1)
    tree.size, tree.height = dict(zip(order, sizes, strict=True)), dict(zip(order, heights, strict=True))
    return tree


def _check_subschemas(schema, tree, validator_class):
    """Check every subschema the validator can use; return what the later checks need as _Subschemas.

    Subschemas are every object a keyword of a subschema holds (more than any draft's keywords: draft 3's
    `extends` is one the `referencing` library does not crawl), plus whatever a reference points to.
    """
    specification = referencing.jsonschema.specification_with(
        validator_class.ID_OF(validator_class.META_SCHEMA) or "", default=referencing.Specification.OPAQUE
    )
    root = specification.create_resource(schema)
    # The validator's own registry: this schema plus the bundled meta-schemas, nothing ever retrieved.
    resolver = META_SCHEMAS.combine(referencing.Registry()).resolver_with_root(root)
    found, anchors, seen, pending, targets = _Subschemas(), {}, set(), [schema], []
    references = found.references
    while pending or targets:
        if not pending:  # every subschema in place is checked: now what only a reference reaches
            path, node = targets.pop()
            if id(node) not in seen:
                _check_target_is_a_schema(validator_class, path, node)
            pending.append(node)
        node = pending.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        path = tree.path_of[id(node)]
        _check_subschema(node, path, anchors)
        found.definitions += [(*path, key) for key in DEFINITION_KEYWORDS if isinstance(node.get(key), dict)]
        if any(key in node for key in UNEVALUATED_KEYWORDS):
            found.unevaluated.append(path)
        pending.extend(_subschemas_of(node))
        for keyword in REFERENCE_KEYWORDS:
            if isinstance(node.get(keyword), str):
                target = _resolve(resolver, tree, path, keyword, node[keyword])
                references.append((path, keyword, node[keyword], target))
                if len(references) > MAX_REFERENCES:
                    raise InvalidOutputSchema(
                        gettext("the schema has more than %(count)s references ($ref)") % {"count": MAX_REFERENCES}
                    )
                if target is not None:
                    targets.append((target, _at(schema, target)))
    return found


def _check_target_is_a_schema(validator_class, path, node):
    """A reference may point where no keyword expects a subschema (#/properties): it must be a valid one."""
    try:
        validator_class.check_schema(node)
    except jsonschema.SchemaError as exc:
        raise InvalidOutputSchema(
            gettext("a reference points to %(where)s, which is not a valid JSON Schema: %(error)s")
            % {"where": _pointer(path), "error": exc.message}
        ) from None


@dataclass
class _Subschemas:
    # (path, keyword, value, target): target is the path of what the reference resolves to, None for true/false
    references: list = field(default_factory=list)
    definitions: list = field(default_factory=list)  # paths of $defs/definitions objects
    unevaluated: list = field(default_factory=list)  # paths of subschemas with unevaluatedProperties/-Items


def _subschemas_of(node):
    for key, value in node.items():
        if key in DATA_KEYWORDS:
            continue
        values = value.values() if key in NAME_MAP_KEYWORDS and isinstance(value, dict) else [value]
        for each in values:
            yield from each if isinstance(each, list) else [each]


def _check_subschema(node, path, anchors):
    where = _pointer(path)
    if path and "$schema" in node:
        raise InvalidOutputSchema(
            gettext("$schema is only allowed at the top of the schema, not at %(where)s") % {"where": where}
        )
    if "$vocabulary" in node:
        raise InvalidOutputSchema(
            gettext("$vocabulary (at %(where)s) belongs in a meta-schema, not an output schema") % {"where": where}
        )
    for keyword in ID_KEYWORDS:
        if not isinstance(node.get(keyword), str):
            continue
        if path:
            # A nested identifier changes what "#/..." below it means (and a draft-4 "id": "#x" is an anchor).
            raise InvalidOutputSchema(
                gettext(
                    "%(keyword)s is only allowed at the top of the schema, not at %(where)s; name a subschema "
                    "with $anchor or refer to it with #/..."
                ) % {"keyword": keyword, "where": where}
            )
        try:
            fragment = urllib.parse.urlsplit(node[keyword]).fragment
        except ValueError:
            raise InvalidOutputSchema(
                gettext("%(keyword)s %(value)r at the top is not a URI")
                % {"keyword": keyword, "value": node[keyword][:100]}
            ) from None
        if fragment:
            raise InvalidOutputSchema(
                gettext("%(keyword)s %(value)r at the top may not have a #fragment")
                % {"keyword": keyword, "value": node[keyword]}
            )
    for keyword in ANCHOR_KEYWORDS:
        name = node.get(keyword)
        if isinstance(name, str):
            if name in anchors:
                raise InvalidOutputSchema(
                    gettext(
                        "the anchor %(name)r is defined twice (%(keyword)s at %(where)s and at %(other)s); each "
                        "anchor name may be used once"
                    ) % {"name": name, "keyword": keyword, "where": where, "other": anchors[name]}
                )
            anchors[name] = where
    if isinstance(node.get("pattern"), str):
        _check_regex(node["pattern"], gettext("the pattern at %(where)s") % {"where": where})
    if isinstance(node.get("patternProperties"), dict):
        for pattern in node["patternProperties"]:
            described = gettext("the patternProperties %(pattern)r at %(where)s") % {
                "pattern": pattern[:60], "where": where,
            }
            # Property names are matched whole (jsonschema's own re.search), up to MAX_ANSWER_KEY_CHARS.
            if _check_regex(pattern, described) < MAX_ANSWER_KEY_CHARS:
                raise InvalidOutputSchema(
                    gettext(
                        "%(pattern)s has too many repeats to be checked on property names of up to %(count)s "
                        "characters"
                    ) % {"pattern": described, "count": MAX_ANSWER_KEY_CHARS}
                )


def _check_regex(pattern, described):
    """The longest text `pattern` is matched against; InvalidOutputSchema for a pattern that is refused.

    `described` names the pattern ("the pattern at #/properties/x"); UnsafePattern says what is wrong with it.
    """
    try:
        return longest_subject(pattern)
    except UnsafePattern as exc:
        raise InvalidOutputSchema(
            # Translators: a pattern ("the pattern at #/x") and what is wrong with it ("is longer than ...").
            gettext("%(pattern)s %(problem)s") % {"pattern": described, "problem": exc}
        ) from None


def _resolve(resolver, tree, path, keyword, reference):
    """The path of what `reference` points to, resolved by the validator's own resolver (None for true/false)."""
    values = {"reference": f"{keyword} {reference[:100]!r}", "where": _pointer(path)}
    if not reference.startswith("#"):
        raise InvalidOutputSchema(
            gettext(
                "%(reference)s at %(where)s points outside this schema; only references into it (#/...) are "
                "allowed, so nothing is ever fetched"
            ) % values
        )
    try:
        contents = resolver.lookup(reference).contents
    except (referencing.exceptions.NoSuchAnchor, referencing.exceptions.InvalidAnchor):
        raise InvalidOutputSchema(
            gettext("%(reference)s at %(where)s names no anchor of this schema") % values
        ) from None
    except referencing.exceptions.PointerToNowhere:
        raise InvalidOutputSchema(
            gettext("%(reference)s at %(where)s points to nothing in this schema") % values
        ) from None
    except (referencing.exceptions.Unresolvable, ValueError, LookupError, TypeError) as exc:
        raise InvalidOutputSchema(
            gettext("%(reference)s at %(where)s cannot be resolved inside this schema (%(error)s)")
            % {**values, "error": exc}
        ) from None
    if isinstance(contents, bool):
        return None
    if not isinstance(contents, dict) or id(contents) not in tree.path_of:
        raise InvalidOutputSchema(
            gettext("%(reference)s at %(where)s points to %(type)s value, not a schema")
            % {**values, "type": type(contents).__name__}
        )
    return tree.path_of[id(contents)]


def _at(schema, path):
    node = schema
    for key in path:
        node = node[key]
    return node


def _inside(path, target):
    return path[: len(target)] == target


def _refuse_recursion(references):
    """A reference leads to every reference inside its target; a cycle of them is a recursive schema."""

    def leads_to(index):
        target = references[index][3]
        if target is None:
            return iter(())
        return iter([other for other, reference in enumerate(references) if _inside(reference[0], target)])

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
                path, keyword, reference, _ = references[next_index]
                raise InvalidOutputSchema(
                    gettext(
                        "%(keyword)s %(reference)r at %(where)s leads back to itself (a recursive schema); "
                        "structured outputs need a schema without recursion"
                    ) % {"keyword": keyword, "reference": reference, "where": _pointer(path)}
                )
            elif next_index not in state:
                state[next_index] = "open"
                stack.append((next_index, leads_to(next_index)))


def _check_expanded_size(tree, subschemas):
    """Refuse a schema too big or deep once every reference is replaced by its target (no cycles are left);
    return a bound on the checks validating one answer value takes.

    Validating against a subschema walks all of it except its definitions, following each reference.
    unevaluatedProperties/-Items make jsonschema walk the subschemas they apply to again, at each level
    of nesting, and once more for every one of them nested inside: exponential (measured: 20 s for 14).
    """
    references, definitions = subschemas.references, subschemas.definitions

    def walked_from(target):
        below = [path for path in definitions if len(path) > len(target) and _inside(path, target)]
        return lambda path: _inside(path, target) and not any(_inside(path, definition) for definition in below)

    expanded = {None: (1, 0, 0)}  # target path -> (values, nesting levels, unevaluated*) with references followed
    pending = [()]
    while pending:  # each target after the targets of the references inside it
        target = pending[-1]
        if target in expanded:
            pending.pop()
            continue
        walked = walked_from(target)
        inside = [(path, inner) for path, _, _, inner in references if walked(path)]
        waiting = {inner for _, inner in inside if inner not in expanded}
        if waiting:
            pending.extend(waiting)
            continue
        pending.pop()
        values = tree.size[target] + sum(expanded[inner][0] for _, inner in inside)
        depth = max(
            [tree.height[target]] + [len(path) - len(target) + 1 + expanded[inner][1] for path, inner in inside]
        )
        unevaluated = sum(map(walked, subschemas.unevaluated)) + sum(expanded[inner][2] for _, inner in inside)
        expanded[target] = values, depth, unevaluated
    values, depth, unevaluated = expanded[()]
    if values > MAX_EXPANDED_SCHEMA_VALUES:
        raise InvalidOutputSchema(
            gettext(
                "the schema has more than %(limit)s values once its references are followed (%(count)s); refer "
                "to fewer or smaller subschemas"
            ) % {"limit": format_number(MAX_EXPANDED_SCHEMA_VALUES), "count": format_number(values)}
        )
    if depth > MAX_EXPANDED_SCHEMA_DEPTH:
        raise InvalidOutputSchema(
            gettext(
                "the schema is nested deeper than %(limit)s levels once its references are followed (%(depth)s); "
                "refer through fewer levels"
            ) % {"limit": MAX_EXPANDED_SCHEMA_DEPTH, "depth": depth}
        )
    if unevaluated > 1:
        raise InvalidOutputSchema(
            gettext(
                "unevaluatedProperties/unevaluatedItems may be used once (references followed), not %(count)s "
                "times: nested, validating them takes exponential time; use additionalProperties/items instead"
            ) % {"count": unevaluated}
        )
    return values * depth if unevaluated else values


def _pointer(path):
    return "#" + "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)
