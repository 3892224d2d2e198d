"""Sandboxed Jinja2 rendering of prompt templates, with a per-process cache of compiled templates.

Prompt text is written by operators in the admin, so it is treated as untrusted code: it runs in
Jinja2's immutable sandbox (no attribute starting with `_`, no mutation of passed-in objects, no
huge ranges or string repetitions) with StrictUndefined, so a missing variable is an error
instead of an empty string in a prompt sent to the LLM.
"""

import functools
import operator
import re

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from prompts.errors import TemplateRenderError

# The largest string or sequence a template may build with `*` or `**` (prompts are far smaller).
MAX_OUTPUT_SIZE = 1_000_000


class PromptSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "**":
            if isinstance(right, int) and abs(right) > 100:
                raise SecurityError("exponent too large for a prompt template")
            return operator.pow(left, right)
        if isinstance(left, (str, list, tuple)) and isinstance(right, int) and len(left) * right > MAX_OUTPUT_SIZE:
            raise SecurityError("result of '*' is too large for a prompt template")
        if isinstance(right, (str, list, tuple)) and isinstance(left, int) and len(right) * left > MAX_OUTPUT_SIZE:
            raise SecurityError("result of '*' is too large for a prompt template")
        return operator.mul(left, right)


_environment = PromptSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def check_syntax(source):
    """Raise TemplateSyntaxError (with `.lineno` and `.message`) if `source` is not a valid template."""
    _environment.parse(source)


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
