"""Rendering prompt templates: the sandboxed environment and a per-process cache of compiled templates.

Three lines of defence, through documented Jinja2 extension points only (Jinja2 3.1.6, see
`template_language`):
1. The whitelist: `template_language.check_tree()` on the tree from `Environment.parse()`, when a
   version is saved and again in `compile_template()`, so only the prompt template language compiles.
2. The sandbox: an immutable `SandboxedEnvironment` without globals, whose `call` refuses every
   call, `call_binop`/`call_unop` allow arithmetic on numbers only, `is_safe_attribute` refuses
   private attributes and methods, and whose filters and tests are the whitelisted ones.
3. Limits at render: a `NodeTransformer` routes every loop through an iteration budget and every `~`
   through a size check made before the text is built; only plain values are printed; every filter,
   `~`, print and loop iteration draws on one work budget and a wall-clock deadline
   (PROMPT_RENDER_DEADLINE_SECONDS); the rendered prompt is capped at MAX_OUTPUT_SIZE characters
   while it is produced.
"""

import decimal
import functools
import re

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_eval_context
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from config.formatting import format_number
from prompts import template_filters, template_language
from prompts.errors import TemplateRenderError
from prompts.template_filters import (
    MAX_OUTPUT_SIZE,
    charge_render_work,
    join_text,
    refuse_text_larger_than_a_prompt,
    render_budget,
    require_plain,
)
from prompts.template_language import TemplateRefused

# Per render; a prompt loops over a handful of items (nested loops over long text would not end).
MAX_LOOP_ITERATIONS = 10_000
# Money amounts and counts fit easily; `*` and `//` on larger integers could run for minutes.
MAX_INT_BITS = 128
# Prompts are a few thousand characters; compiling a megabyte of template takes seconds and gigabytes.
MAX_TEMPLATE_SIZE = 100_000
_NUMBERS = (int, float, decimal.Decimal)
# Internal filter names: not valid names in template source, so only the transformer can use them.
_LOOP_BUDGET_FILTER = "prompt-loop-budget"
_CONCAT_FILTER = "prompt-concat"


class _LoopBudget:
    def __init__(self):
        self.iterations = 0


@pass_eval_context
def _counted_loop(eval_ctx, iterable):
    # The evaluation context belongs to one render: it carries that render's loop budget.
    budget = getattr(eval_ctx, "prompt_loop_budget", None)
    if budget is None:
        budget = eval_ctx.prompt_loop_budget = _LoopBudget()
    for item in iterable:
        budget.iterations += 1
        if budget.iterations > MAX_LOOP_ITERATIONS:
            raise SecurityError(f"more than {MAX_LOOP_ITERATIONS:,} loop iterations in one prompt")
        charge_render_work(1)
        yield item


def _concat(parts):
    return join_text(parts, what="'~'")


class _RenderLimits(NodeTransformer):
    """Every `for` draws on the render's iteration budget; every `~` checks its size before joining."""

    def visit_For(self, node):
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP_BUDGET_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node):
        node = self.generic_visit(node)
        return nodes.Filter(
            nodes.List(node.nodes, lineno=node.lineno), _CONCAT_FILTER, [], [], None, None, lineno=node.lineno
        )


def _printable(value):
    """Only plain values reach the prompt; an object's repr (a class, a function, a loop) is refused."""
    return refuse_text_larger_than_a_prompt(require_plain(value, _A_PRINTED_VALUE), _A_PRINTED_VALUE)


_A_PRINTED_VALUE = gettext_lazy("a printed value")


class PromptSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox reduced to the prompt template language."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self, **options):
        super().__init__(finalize=_printable, **options)
        self.globals.clear()  # no range, dict, lipsum, cycler, joiner or namespace
        self.filters = {**template_filters.FILTERS, _LOOP_BUDGET_FILTER: _counted_loop, _CONCAT_FILTER: _concat}
        self.tests = {name: self.tests[name] for name in template_filters.TESTS}

    def is_safe_attribute(self, obj, attr, value):
        return super().is_safe_attribute(obj, attr, value) and not callable(value)

    def wrap_str_format(self, value):
        return None  # str.format is a method like any other: refused by is_safe_attribute

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        raise SecurityError("calling functions or methods is not allowed in a prompt template")

    def call_binop(self, context, operator, left, right):
        if operator in ("%", "**") or not (_is_number(left) and _is_number(right)):
            raise SecurityError(f"{operator!r} is only allowed between numbers in a prompt template")
        huge = any(isinstance(n, int) and n.bit_length() > MAX_INT_BITS for n in (left, right))
        if huge and operator in ("*", "/", "//"):
            # Multiplying or dividing huge integers takes time that grows faster than their length.
            raise SecurityError(f"{operator!r} is only allowed on whole numbers of up to {MAX_INT_BITS} bits")
        return super().call_binop(context, operator, left, right)

    def call_unop(self, context, operator, arg):
        if not _is_number(arg):
            raise SecurityError(f"unary {operator!r} is only allowed on numbers in a prompt template")
        return super().call_unop(context, operator, arg)


def _is_number(value):
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


_environment = PromptSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _parse(source):
    if len(source) > MAX_TEMPLATE_SIZE:
        raise TemplateRefused(
            gettext("a template longer than %(size)s characters is not a prompt")
            % {"size": format_number(MAX_TEMPLATE_SIZE)},
            1,
        )
    try:
        return _environment.parse(source)
    except RecursionError:
        raise TemplateRefused(gettext("nesting this deep is not allowed in a prompt template"), 1) from None
    except ValueError as exc:  # e.g. a number literal beyond Python's digit limit
        raise TemplateRefused(
            gettext("a value the template language cannot read (%(error)s)") % {"error": exc}, 1
        ) from None


def check_template(source):
    """Raise TemplateSyntaxError (with `.lineno` and `.message`) for invalid templates or constructs
    outside the prompt template language (TemplateRefused)."""
    compile_template(source)  # compiled at save too: Python refuses some templates Jinja2 parses


def template_variables(source):
    """The names of the variables a template expects from its caller, sorted."""
    try:
        return sorted(meta.find_undeclared_variables(_parse(source)))
    except TemplateSyntaxError:
        return []


@functools.lru_cache(maxsize=512)
def compile_template(source):
    """Check and compile once per process; versions are immutable, so the source text is a safe cache key."""
    tree = _parse(source)
    template_language.check_tree(tree)
    try:
        return _environment.from_string(_RenderLimits().visit(tree))
    except SyntaxError as exc:  # Python's own limits, e.g. "too many statically nested blocks"
        raise TemplateRefused(
            gettext("the template is too complex to compile (%(error)s)") % {"error": exc.msg}, 1
        ) from None


def render_template(source, variables):
    """Render `source` with `variables`; every failure becomes a TemplateRenderError that says why."""
    try:
        with render_budget(settings.PROMPT_RENDER_DEADLINE_SECONDS):
            return _bounded_output(compile_template(source).generate(variables))
    except TemplateRefused as exc:
        raise TemplateRenderError(
            gettext("Template refused on line %(line)s: %(message)s") % {"line": exc.lineno, "message": exc.message}
        ) from None
    except SecurityError as exc:
        raise TemplateRenderError(gettext("Template refused by the sandbox: %(reason)s") % {"reason": exc}) from None
    except UndefinedError as exc:
        raise TemplateRenderError(_describe_undefined(exc)) from None
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(
            gettext("Template syntax error on line %(line)s: %(message)s")
            % {"line": exc.lineno, "message": exc.message}
        ) from None
    except RecursionError:
        raise TemplateRenderError(gettext("Template could not be rendered: it is nested too deeply.")) from None
    except MemoryError:
        raise TemplateRenderError(gettext("Template could not be rendered: it needs too much memory.")) from None
    except Exception as exc:
        # A whitelisted construct can still fail like Python does (1 // 0, a bad round method).
        raise TemplateRenderError(gettext("Template could not be rendered: %(error)s") % {"error": exc}) from None


def _bounded_output(chunks):
    output, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_SIZE:
            raise SecurityError(f"the rendered prompt is longer than {MAX_OUTPUT_SIZE:,} characters")
        output.append(chunk)
    return "".join(output)


def _describe_undefined(exc):
    # StrictUndefined says "'subject' is undefined" for a missing variable, and
    # "'dict object' has no attribute 'x'" for a missing attribute of a given one.
    match = re.fullmatch(r"'(?P<name>[^']+)' is undefined", exc.message or "")
    if match:
        return gettext("Missing template variable '%(name)s'.") % {"name": match["name"]}
    return gettext("Template variable problem: %(message)s") % {"message": exc.message}

