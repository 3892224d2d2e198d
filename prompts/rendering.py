"""Sandboxed Jinja2 rendering of prompt templates, with a per-process cache of compiled templates.

Prompt text is written by operators in the admin, so it is treated as untrusted code: it runs in
Jinja2's immutable sandbox (no attribute starting with `_`, no mutation of passed-in objects, no
huge ranges or string repetitions) with StrictUndefined, so a missing variable is an error
instead of an empty string in a prompt sent to the LLM.

The sandbox stops escapes, not exhaustion, so each render also has a budget: loop iterations,
characters built by operators, filters and method calls, characters of output, and no padding
wider than the output may be. Only plain values (text, numbers, dates, lists and dicts of them)
can be printed, so no template can show a Python object's repr.
"""

import contextvars
import datetime
import decimal
import functools
import re

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, meta, nodes
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from prompts.errors import TemplateRenderError

# The largest string or sequence a template may build with `*` (prompts are far smaller).
MAX_OUTPUT_SIZE = 1_000_000
MAX_EXPONENT = 100
# Per render: loop iterations, and characters built along the way (a prompt needs a tiny fraction).
MAX_LOOP_ITERATIONS = 100_000
MAX_BUILT_CHARS = 10 * MAX_OUTPUT_SIZE
# Padding widths in '%10s', '{:>10}' or center(10); anything wider than the output may be is refused.
_WIDE_FORMAT = re.compile(r"%[-+ #0*]*\d{7,}|%[-+ #0*\d]*\.\d{7,}|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_PRINTABLE = (str, int, float, decimal.Decimal, datetime.date, datetime.time, type(None))
_LOOP_BUDGET_FILTER = "prompt-loop-budget"  # not a valid filter name in a template: only the parser adds it
_BUILT_TEXT_FILTER = "prompt-built-text"

_budget = contextvars.ContextVar("prompt_render_budget", default=None)


class _RenderBudget:
    def __init__(self):
        self.iterations = 0
        self.chars = 0

    def iterate(self):
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise SecurityError(f"more than {MAX_LOOP_ITERATIONS:,} loop iterations in one prompt")

    def built(self, value):
        if isinstance(value, str):
            self.chars += len(value)
            if self.chars > MAX_BUILT_CHARS:
                raise SecurityError(f"the template builds more than {MAX_BUILT_CHARS:,} characters")
        return value


def _spend(value):
    budget = _budget.get()
    return budget.built(value) if budget is not None else value


def _refuse_wide_format(text):
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise SecurityError("a format width or precision that large is not allowed in a prompt template")


def _refuse_huge_ints(values):
    if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_OUTPUT_SIZE for v in values):
        raise SecurityError("an argument that large is not allowed in a prompt template")


def _counted_loop(iterable):
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.iterate()
        yield item


def _bounded_filter(name, func):
    # The value comes after the context/environment a pass_* filter receives; only the arguments are checked.
    value_index = 1 if getattr(func, "jinja_pass_arg", None) else 0

    @functools.wraps(func)  # keeps Jinja's pass_context/pass_eval_context marker
    def bounded(*args, **kwargs):
        if name == "format":  # its arguments are values to show, e.g. amounts; the width is in the text
            _refuse_wide_format(args[value_index])
        else:
            _refuse_huge_ints([*args[value_index + 1:], *kwargs.values()])
        return _spend(func(*args, **kwargs))

    return bounded


def _bounded_join(join):
    # join(eval_ctx, value, d="", attribute=None): a long separator times many items is refused up front.
    @functools.wraps(join)
    def bounded(eval_ctx, value, d="", attribute=None):
        items = list(value)
        if len(str(d)) * len(items) > MAX_BUILT_CHARS:
            raise SecurityError("result of 'join' is too large for a prompt template")
        return _spend(join(eval_ctx, items, d, attribute))

    return bounded


def _printable(value):
    """Only plain values reach the prompt; an object's repr (a class, a function) is refused."""
    if isinstance(value, Undefined):
        return value  # StrictUndefined raises a clear error when it is printed
    if isinstance(value, (list, tuple)):
        _printable_items(value)
    elif isinstance(value, dict):
        _printable_items([*value.keys(), *value.values()])
    elif not isinstance(value, _PRINTABLE):
        raise SecurityError(f"a {type(value).__name__} object cannot be printed in a prompt")
    return value


def _printable_items(items):
    for item in items:
        if isinstance(item, Undefined):
            str(item)  # inside a list it would print as "Undefined"; raise its error instead
        _printable(item)


class PromptSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus the per-render budget above, so a template cannot exhaust memory or CPU."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options):
        super().__init__(finalize=_printable, **options)
        # lipsum(n) burns CPU on demand and has no use in a prompt.
        del self.globals["lipsum"]
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}
        self.filters["join"] = _bounded_join(jinja_filters.do_join)
        self.filters[_LOOP_BUDGET_FILTER] = _counted_loop
        self.filters[_BUILT_TEXT_FILTER] = _spend

    def _parse(self, source, name, filename):
        # Every loop draws on the render's iteration budget, every `~` on its character budget.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _LOOP_BUDGET_FILTER, [], [], None, None, lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            concat.nodes = [
                nodes.Filter(nodes.Concat(concat.nodes, lineno=concat.lineno), _BUILT_TEXT_FILTER, [], [], None, None,
                             lineno=concat.lineno)
            ]
        return tree

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError("exponent too large for a prompt template")
        if operator_name == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    if len(sequence) * count > MAX_OUTPUT_SIZE:
                        raise SecurityError("result of '*' is too large for a prompt template")
        if operator_name == "%":
            _refuse_wide_format(left)
        return _spend(super().call_binop(context, operator_name, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        if getattr(__obj, "__name__", None) in _PADDING_METHODS:
            _refuse_huge_ints([*args, *kwargs.values()])
        return _spend(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _refuse_wide_format(value.__self__)
        return wrapped


_environment = PromptSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def check_template(source):
    """Raise TemplateSyntaxError (with `.lineno` and `.message`) for invalid or plainly unsafe templates.

    The sandbox already refuses private attributes at render time; refusing them at save time too
    keeps such a template from ever becoming a version an operator could activate.
    """
    tree = _environment.parse(source)
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        # There is no template loader: such a version could never render.
        raise TemplateSyntaxError("a prompt template cannot extend, include or import other templates", node.lineno)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.NSRef)):
        name = _accessed_name(node)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateSyntaxError(f"access to {name!r} is not allowed in a prompt template", node.lineno)


def _accessed_name(node):
    if isinstance(node, (nodes.Getattr, nodes.NSRef)):
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
    token = _budget.set(_RenderBudget())
    try:
        return _bounded_output(compile_template(source).generate(variables))
    except SecurityError as exc:
        raise TemplateRenderError(f"Template refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateRenderError(_describe_undefined(exc)) from None
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateRenderError(
            "Template could not be rendered: it recurses too deeply (a macro or loop that calls itself)."
        ) from None
    except MemoryError:
        raise TemplateRenderError("Template could not be rendered: it needs too much memory.") from None
    except Exception as exc:
        # Operator-written code can fail in any way a Python call can; none of it may crash the caller.
        raise TemplateRenderError(f"Template could not be rendered: {exc}") from None
    finally:
        _budget.reset(token)


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
        return f"Missing template variable '{match['name']}'."
    return f"Template variable problem: {exc.message}"
