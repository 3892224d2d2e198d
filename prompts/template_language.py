"""The language a prompt template may use: a whitelist of Jinja2 constructs, filters and tests.

Prompt templates are written by operators in the admin and run in the worker, so they are treated
as untrusted code. A prompt only needs to put values into text: variables, attribute and item
access, `if`, `for` over the variables, `~`, comparisons, boolean operators, literals, arithmetic on
numbers, a few tests and the filters of `template_filters`. `check_tree()` walks every node of a
parsed template and refuses everything else (calls, `{% set %}`, macros, `**`, `%`, methods, ...),
naming the construct and its line. It runs when a version is saved and again when a template is
compiled for rendering, so a row that never went through a form (a fixture, an import, raw SQL)
is refused too.

Written against Jinja2 3.1.6, pinned in requirements.txt (JINJA2_VERSION): a new version may add node
types; `prompts/tests/test_template_language.py` fails until each one is classified here. Until
then an unknown node type is refused.
"""

import datetime

from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext

from prompts.template_filters import ARGUMENT_LIMITS, FILTER_PARAMETERS, FILTERS, PLAIN_SCALARS, TESTS, bounded

JINJA2_VERSION = "3.1.6"
# Deeper templates are not prompts; Jinja2's parser and code generator recurse per level.
MAX_NESTING = 64



def _allowed_language():
    return gettext(
        "Jinja2, restricted to what a prompt needs: {{ variable }}, {{ a.b }} and {{ a['b'] }}, "
        "{%% if %%}/{%% elif %%}/{%% else %%}, {%% for x in variable %%} (with loop.index, loop.first, loop.last), "
        "~ to join text, comparisons (== != < > <= >= in), and/or/not, literals, + - * / // on numbers, "
        "tests without arguments (is defined, is none, is string, is number, ...) and the filters "
        "%(filters)s. Not allowed: calling functions or methods, {%% set %%}, {%% macro %%}, "
        "{%% call %%}, {%% filter %%}, {%% include %%}, range, ** and %%."
    ) % {"filters": ", ".join(FILTERS)}


# Shown as the help text of the prompt fields in the admin (in the operator's language); the README says the same.
ALLOWED_LANGUAGE = lazy(_allowed_language, str)()


class TemplateRefused(TemplateSyntaxError):
    """A construct outside the prompt template language; `.lineno` says where."""


def refuse(what, lineno, hint=""):
    """Refuse a construct; `what` and `hint` are translated phrases, the message is in the operator's language."""
    if hint:
        message = gettext("%(what)s is not allowed in a prompt template (%(hint)s)") % {"what": what, "hint": hint}
    else:
        message = gettext("%(what)s is not allowed in a prompt template") % {"what": what}
    raise TemplateRefused(message, lineno)


# The node walk -------------------------------------------------------------------------------------

ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.For, nodes.CondExpr,
    nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.Keyword,
    nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair,
    nodes.Concat, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
    nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv,
)
_OTHER_TEMPLATES = (
    _("extending, including or importing other templates"), _("a prompt is one self-contained text")
)
_NO_VARIABLES = _("a prompt template cannot define variables; it only uses the ones it is given")
_PLAIN_TEXT = _("prompts are plain text")
_AUTOESCAPE = ("{% autoescape %}", _PLAIN_TEXT)
_MARK_SAFE = (_("marking text safe"), _PLAIN_TEXT)
_CONTEXT = (_("the template context"), "")
# What operators are told for each construct outside the language (any other node is refused too).
REFUSED_NODES = {
    nodes.Call: (_("calling a function or method"), ""),  # check_tree names the function
    nodes.Pow: (_("the ** operator"), ""),
    # xgettext:no-python-format
    nodes.Mod: (_("the % operator"), _("join text with ~")),
    nodes.Assign: ("{% set %}", _NO_VARIABLES),
    nodes.AssignBlock: ("{% set %}...{% endset %}", _NO_VARIABLES),
    nodes.NSRef: (_("namespace attributes"), _NO_VARIABLES),
    nodes.With: ("{% with %}", _NO_VARIABLES),
    nodes.Macro: ("{% macro %}", ""),
    nodes.CallBlock: ("{% call %}", ""),
    nodes.FilterBlock: ("{% filter %}", _("apply the filter to a variable: {{ x|upper }}")),
    nodes.Block: ("{% block %}", ""),
    nodes.Extends: _OTHER_TEMPLATES,
    nodes.Include: _OTHER_TEMPLATES,
    nodes.Import: _OTHER_TEMPLATES,
    nodes.FromImport: _OTHER_TEMPLATES,
    nodes.ScopedEvalContextModifier: _AUTOESCAPE,
    nodes.EvalContextModifier: _AUTOESCAPE,
    nodes.ExprStmt: ("{% do %}", ""),
    nodes.Break: ("{% break %}", ""),
    nodes.Continue: ("{% continue %}", ""),
    nodes.Scope: _AUTOESCAPE,  # the only tag that parses to a Scope
    nodes.OverlayScope: (_("a scope block"), ""),
    nodes.ImportedName: (_("an imported name"), ""),
    nodes.InternalName: (_("an internal name"), ""),
    nodes.MarkSafe: _MARK_SAFE,
    nodes.MarkSafeIfAutoescape: _MARK_SAFE,
    nodes.ContextReference: _CONTEXT,
    nodes.DerivedContextReference: _CONTEXT,
    nodes.EnvironmentAttribute: (_("the template environment"), ""),
    nodes.ExtensionAttribute: (_("a template extension"), ""),
}
# Names Jinja2 gives special meaning, or that would reach its default globals.
RESERVED_NAMES = frozenset({
    "self", "super", "caller", "varargs", "kwargs", "range", "dict", "lipsum", "cycler", "joiner", "namespace",
})
LOOP_ATTRIBUTES = frozenset({
    "index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0", "previtem", "nextitem",
})
# Methods of the values a template sees: reaching one (x.upper, x.format, x.items) is refused at save.
METHOD_NAMES = frozenset(
    name
    for kind in (*PLAIN_SCALARS, datetime.datetime, list, tuple, dict, LoopContext)
    for name in dir(kind)
    if not name.startswith("_") and callable(getattr(kind, name))
)
_LITERAL_TEXT_OR_SEQUENCE = (nodes.TemplateData, nodes.List, nodes.Tuple, nodes.Dict, nodes.Concat)


def check_tree(tree):
    """Raise TemplateRefused for the first node of `tree` (from `env.parse()`) outside the language."""
    stack = [(tree, None, 0)]
    while stack:
        node, parent, depth = stack.pop()
        if node.lineno is None and parent is not None:
            # Some nodes (the Scope of {% autoescape %}) come without a line: take their first child's.
            node.lineno = next((child.lineno for child in node.iter_child_nodes() if child.lineno), parent.lineno)
        if depth > MAX_NESTING:
            refuse(gettext("nesting deeper than %(levels)s levels") % {"levels": MAX_NESTING}, node.lineno)
        _check_node(node, parent)
        stack.extend((child, node, depth + 1) for child in reversed(list(node.iter_child_nodes())))


def _check_node(node, parent):
    if isinstance(node, nodes.Call):
        refuse(
            gettext("calling %(callee)s") % {"callee": _describe_callee(node.node)}, node.lineno,
            gettext("prompts cannot call functions or methods"),
        )
    if type(node) not in ALLOWED_NODES:
        what, hint = REFUSED_NODES.get(
            type(node), (gettext("the construct %(name)s") % {"name": type(node).__name__}, "")
        )
        refuse(what, node.lineno, hint)
    if isinstance(node, nodes.For) and node.recursive:
        refuse(gettext("a recursive loop"), node.lineno)
    elif isinstance(node, nodes.Name):
        _check_name(node, parent)
    elif isinstance(node, nodes.Getattr):
        _check_attribute(node)
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        if node.arg.value.startswith("_"):
            refuse(gettext("access to %(name)r") % {"name": node.arg.value}, node.lineno)
    elif isinstance(node, nodes.Filter):
        _check_filter(node)
    elif isinstance(node, nodes.Test):
        if node.name not in TESTS or node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            refuse(
                gettext("the test %(name)r") % {"name": node.name}, node.lineno,
                gettext("tests without arguments: %(tests)s") % {"tests": ", ".join(TESTS)},
            )
    elif isinstance(node, (nodes.List, nodes.Tuple, nodes.Dict)):
        _check_literal_items(node)
    elif isinstance(node, (nodes.Mul, nodes.Add)):
        if any(_is_text_or_sequence(operand) for operand in (node.left, node.right)):
            refuse(
                gettext("%(operator)r on text or lists") % {"operator": node.operator}, node.lineno,
                gettext("it works on numbers; join text with ~"),
            )


def _check_literal_items(node):
    # Only constants inside a literal: a variable or a loop variable inside one lets a few nested
    # loops build lists whose text runs to gigabytes ([[v, v, v]] nested per loop).
    if isinstance(node, nodes.Tuple) and node.ctx == "store":
        return  # the targets of {% for a, b in pairs %}
    items = [part for pair in node.items for part in (pair.key, pair.value)] if isinstance(node, nodes.Dict) \
        else node.items
    for item in items:
        if not isinstance(item, (nodes.Const, nodes.List, nodes.Tuple, nodes.Dict)):
            refuse(
                _LITERAL_NAMES[type(node)], node.lineno, gettext("write only literals inside [...], (...) and {...}")
            )


_LITERAL_NAMES = {
    nodes.List: _("a list literal containing something other than constants"),
    nodes.Tuple: _("a tuple literal containing something other than constants"),
    nodes.Dict: _("a dict literal containing something other than constants"),
}


def _describe_callee(node):
    if isinstance(node, nodes.Name):
        return f"{node.name}(...)"
    if isinstance(node, nodes.Getattr):
        return f".{node.attr}(...)"
    return gettext("a function or method")


def _is_text_or_sequence(node):
    return isinstance(node, _LITERAL_TEXT_OR_SEQUENCE) or (
        isinstance(node, nodes.Const) and isinstance(node.value, str)
    )


def _check_name(node, parent):
    if node.name in RESERVED_NAMES or node.name.startswith("_"):
        refuse(gettext("the name %(name)r") % {"name": node.name}, node.lineno)
    if node.name == "loop" and node.ctx == "load" and not (isinstance(parent, nodes.Getattr) and parent.node is node):
        refuse(gettext("the loop object itself"), node.lineno, gettext("use loop.index, loop.first, loop.last, ..."))


def _check_attribute(node):
    if node.attr.startswith("_"):
        refuse(gettext("access to %(name)r") % {"name": node.attr}, node.lineno)
    if isinstance(node.node, nodes.Name) and node.node.name == "loop":
        if node.attr not in LOOP_ATTRIBUTES:
            refuse(
                f"loop.{node.attr}", node.lineno,
                gettext("allowed: %(names)s") % {"names": ", ".join(sorted(LOOP_ATTRIBUTES))},
            )
    elif node.attr in METHOD_NAMES:
        refuse(
            gettext("the method .%(name)s") % {"name": node.attr}, node.lineno,
            gettext("use a filter, or x[%(name)r] for a key of that name") % {"name": node.attr},
        )


def _check_filter(node):
    if node.name not in FILTERS:
        refuse(
            gettext("the filter %(name)r") % {"name": node.name}, node.lineno,
            gettext("allowed filters: %(names)s") % {"names": ", ".join(FILTERS)},
        )
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        refuse(gettext("*args or **kwargs in the filter %(name)r") % {"name": node.name}, node.lineno)
    parameters = FILTER_PARAMETERS[node.name]
    if len(node.args) > len(parameters):
        refuse(
            gettext("more than %(count)s argument(s) to the filter %(name)r")
            % {"count": len(parameters), "name": node.name},
            node.lineno,
        )
    given = list(zip(parameters, node.args, strict=False))
    for keyword in node.kwargs:
        if keyword.key not in parameters:
            refuse(
                gettext("the argument %(argument)r of the filter %(name)r")
                % {"argument": keyword.key, "name": node.name},
                node.lineno,
            )
        given.append((keyword.key, keyword.value))
    for parameter, value in given:
        if (node.name, parameter) in ARGUMENT_LIMITS and isinstance(value, nodes.Const):
            try:
                bounded(node.name, parameter, value.value)
            except SecurityError as exc:
                raise TemplateRefused(
                    gettext("%(problem)s, not %(value)r") % {"problem": exc, "value": value.value}, node.lineno
                ) from None
