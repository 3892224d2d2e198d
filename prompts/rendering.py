"""Sandboxed Jinja2 rendering of prompt templates, with a per-process cache of compiled templates.

Prompt text is written by operators in the admin, so it is treated as untrusted code: it runs in
Jinja2's immutable sandbox (no attribute starting with `_`, no mutation of passed-in objects, no
huge ranges or string repetitions) with StrictUndefined, so a missing variable is an error
instead of an empty string in a prompt sent to the LLM.
"""

import functools
import re

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from prompts.errors import TemplateRenderError

# The largest string or sequence a template may build with `*` (prompts are far smaller).
MAX_OUTPUT_SIZE = 1_000_000
MAX_EXPONENT = 100


class PromptSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus bounds on `*` and `**` so a template cannot exhaust memory or CPU."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError("exponent too large for a prompt template")
        if operator_name == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    if len(sequence) * count > MAX_OUTPUT_SIZE:
                        raise SecurityError("result of '*' is too large for a prompt template")
        return super().call_binop(context, operator_name, left, right)


_environment = PromptSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def check_template(source):
    """Raise TemplateSyntaxError (with `.lineno` and `.message`) for invalid or plainly unsafe templates.

    The sandbox already refuses private attributes at render time; refusing them at save time too
    keeps such a template from ever becoming a version an operator could activate.
    """
    tree = _environment.parse(source)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = _accessed_name(node)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateSyntaxError(f"access to {name!r} is not allowed in a prompt template", node.lineno)


def _accessed_name(node):
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return node.arg.value
    if isinstance(node, nodes.Filter) and node.name == "attr" and node.args and isinstance(node.args[0], nodes.Const):
        return node.args[0].value
    return None


def template_variables(source):
    """The names of the variables a template expects from its caller, sorted."""
    try:
        return sorted(meta.find_undeclared_variables(_environment.parse(source)))
    except TemplateSyntaxError:
        return []


@functools.lru_cache(maxsize=512)
def compile_template(source):
    """Compile once per process; versions are immutable, so the source text is a safe cache key."""
    return _environment.from_string(source)


def render_template(source, variables):
    """Render `source` with `variables`; every failure becomes a TemplateRenderError that says why."""
    try:
        return compile_template(source).render(variables)
    except SecurityError as exc:
        raise TemplateRenderError(f"Template refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateRenderError(_describe_undefined(exc)) from None
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error on line {exc.lineno}: {exc.message}") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, OverflowError) as exc:
        raise TemplateRenderError(f"Template could not be rendered: {exc}") from None


def _describe_undefined(exc):
    # StrictUndefined says "'subject' is undefined" for a missing variable, and
    # "'dict object' has no attribute 'x'" for a missing attribute of a given one.
    match = re.fullmatch(r"'(?P<name>[^']+)' is undefined", exc.message or "")
    if match:
        return f"Missing template variable '{match['name']}'."
    return f"Template variable problem: {exc.message}"
