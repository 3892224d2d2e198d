"""The filters and tests a prompt template may use, and the plain values they accept.

Every filter takes and returns only plain values (text, numbers, dates, None, lists and dicts of
them), so no object or function repr can reach a prompt, and its integer arguments are bounded
(ARGUMENT_LIMITS) so no single filter can be asked for gigabytes of text or minutes of CPU. Text a
filter builds is measured before it is built.
"""

import contextlib
import contextvars
import datetime
import decimal
import inspect
import json
import time

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from jinja2 import Undefined, pass_environment
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError

from config.formatting import format_number

# The largest prompt (and the largest text any one filter or `~` may build).
MAX_OUTPUT_SIZE = 1_000_000
# Lists and dicts deeper than this are not plain values.
MAX_VALUE_DEPTH = 32

# Characters (and list items) all filters, `~` and prints of one render may handle together: a
# prompt handles its text a few times, a loop that runs every filter over the body thousands of
# times is not a prompt.
MAX_RENDER_WORK = 20_000_000

PLAIN_SCALARS = (str, int, float, decimal.Decimal, bool, type(None), datetime.date, datetime.time)


# The work budget of one render ------------------------------------------------------------------

class _RenderBudget:
    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.work = 0

    def charge(self, amount):
        self.work += amount
        if self.work > MAX_RENDER_WORK:
            raise SecurityError(
                gettext("the template does more than %(count)s characters of work in one render")
                % {"count": format_number(MAX_RENDER_WORK)}
            )
        if time.monotonic() >= self.deadline:
            raise SecurityError(
                gettext("the template took longer than %(seconds)s seconds to render")
                % {"seconds": format_number(decimal.Decimal(f"{self.seconds:g}"))}
            )


_current_budget = contextvars.ContextVar("prompt_render_budget", default=None)


@contextlib.contextmanager
def render_budget(seconds):
    """Within the block, every filter, `~`, print and loop iteration draws on one budget and deadline."""
    token = _current_budget.set(_RenderBudget(seconds))
    try:
        yield
    finally:
        _current_budget.reset(token)


def charge_render_work(amount):
    """Count `amount` of work against the current render's budget and deadline (none outside a render)."""
    budget = _current_budget.get()
    if budget is not None:
        budget.charge(amount)


# Plain values --------------------------------------------------------------------------------------

A_VALUE = _("a value")


def require_plain(value, what=A_VALUE):
    """`value` if it is plain (text, numbers, dates, None, lists and dicts of them); else SecurityError.

    `what` names the value in the refusal, translated ("a value", "a printed value").

    Undefined passes through, so StrictUndefined raises its own clear error where it is used.
    """
    stack, seen, work = [(value, 0)], set(), 1
    while stack:
        item, depth = stack.pop()
        work += len(item) if isinstance(item, str) else 1
        if isinstance(item, Undefined) and depth:
            str(item)  # inside a list it would print as "Undefined"; raise its error instead
        if isinstance(item, PLAIN_SCALARS) or isinstance(item, Undefined) or id(item) in seen:
            continue
        seen.add(id(item))  # a list shared (or contained) twice is checked once
        if depth >= MAX_VALUE_DEPTH:
            raise SecurityError(
                gettext("%(what)s nested deeper than %(levels)s levels cannot be used in a prompt")
                % {"what": what, "levels": MAX_VALUE_DEPTH}
            )
        if isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            stack.extend((child, depth + 1) for pair in item.items() for child in pair)
        else:
            raise SecurityError(gettext(
                "a value of type %(type)s cannot be used in a prompt, only plain values (text, numbers, dates, "
                "lists and dicts of them)"
            ) % {"type": type(item).__name__})
    charge_render_work(work)
    return value


def refuse_larger_than_a_prompt(size, what):
    """Refuse, before building it, text longer than MAX_OUTPUT_SIZE."""
    if size > MAX_OUTPUT_SIZE:
        # `what` is a filter's name, '~' or a translated phrase ("a printed value").
        raise SecurityError(
            gettext("%(what)s would build more than %(count)s characters")
            % {"what": what, "count": format_number(MAX_OUTPUT_SIZE)}
        )


def text_size_bound(value):
    """An upper bound of the length of `value` as text (str() or JSON), measured without building it.

    A list that holds the same list many times is counted once per occurrence (its text repeats),
    in time proportional to the distinct lists, so sharing cannot hide a gigabyte of text.
    """
    if isinstance(value, str):
        return len(value)
    sizes = {}  # id -> bound, for lists and dicts already measured
    stack = [(value, False)]
    while stack:
        item, children_measured = stack.pop()
        if id(item) in sizes or not isinstance(item, (list, tuple, dict)):
            continue
        children = [c for pair in item.items() for c in pair] if isinstance(item, dict) else list(item)
        if children_measured:
            # Two brackets, and ", " or ": " and quotes (or escapes, at most 6 characters each) per item.
            sizes[id(item)] = 2 + sum(_scalar_or_measured_size(c, sizes) + 4 for c in children)
            if sizes[id(item)] > MAX_OUTPUT_SIZE:
                return sizes[id(item)]
        else:
            stack.append((item, True))
            stack.extend((child, False) for child in children if isinstance(child, (list, tuple, dict)))
    return _scalar_or_measured_size(value, sizes)


def _scalar_or_measured_size(value, sizes):
    if isinstance(value, (list, tuple, dict)):
        return sizes[id(value)]
    if isinstance(value, str):
        return 6 * len(value)
    return len(str(value)) + 2


def refuse_text_larger_than_a_prompt(value, what):
    """Refuse, before it is turned into text, a plain value whose text would be longer than a prompt."""
    refuse_larger_than_a_prompt(text_size_bound(value), what)
    return value


def join_text(parts, separator="", what="join"):
    """The plain `parts` joined as text; refused before it is built if it would be too long for a prompt."""
    refuse_larger_than_a_prompt(
        sum(text_size_bound(require_plain(part)) for part in parts) + len(separator) * max(len(parts) - 1, 0), what
    )
    texts = [str(part) for part in parts]
    refuse_larger_than_a_prompt(sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0), what)
    return separator.join(texts)


# Longer text given to the int filter is not a number a prompt needs.
MAX_INT_TEXT = 50


# Filters ---------------------------------------------------------------------------------------------

# Integer arguments are bounded, so no filter can be asked for a gigabyte of output or CPU.
ARGUMENT_LIMITS = {
    ("truncate", "length"): (0, MAX_OUTPUT_SIZE),
    ("truncate", "leeway"): (0, MAX_OUTPUT_SIZE),
    ("replace", "count"): (-1, MAX_OUTPUT_SIZE),
    ("round", "precision"): (0, 15),
    ("int", "base"): (2, 36),
    ("tojson", "indent"): (0, 8),
}


def bounded(filter_name, argument, value):
    low, high = ARGUMENT_LIMITS[filter_name, argument]
    if value is None and argument in ("leeway", "count", "indent"):
        return value
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SecurityError(
            gettext("%(filter)s's %(argument)s must be a whole number from %(low)s to %(high)s")
            % {"filter": filter_name, "argument": argument, "low": low, "high": format_number(high)}
        )
    return value


def _default(value, default_value="", boolean=False):
    return jinja_filters.do_default(value, require_plain(default_value), boolean)


def _upper(value):
    return str(require_plain(value)).upper()


def _lower(value):
    return str(require_plain(value)).lower()


def _title(value):
    return jinja_filters.do_title(str(require_plain(value)))


def _capitalize(value):
    return str(require_plain(value)).capitalize()


def _trim(value, chars=None):
    return str(require_plain(value)).strip(require_plain(chars))


@pass_environment
def _truncate(environment, value, length=255, killwords=False, end="...", leeway=None):
    return jinja_filters.do_truncate(
        environment, str(require_plain(value)), bounded("truncate", "length", length), bool(killwords),
        str(require_plain(end)), bounded("truncate", "leeway", leeway),
    )


@pass_environment
def _join(environment, value, d="", attribute=None):
    items = list(require_plain(value))
    if attribute is not None:
        items = [environment.getitem(item, require_plain(attribute)) for item in items]
    return join_text(items, str(require_plain(d)))


def _length(value):
    return len(require_plain(value))


@pass_environment
def _first(environment, value):
    for item in require_plain(value):
        return item
    return environment.undefined("No first item, the sequence was empty.")


@pass_environment
def _last(environment, value):
    items = list(require_plain(value))
    return items[-1] if items else environment.undefined("No last item, the sequence was empty.")


def _replace(value, old, new, count=None):
    text, old, new = (str(require_plain(v)) for v in (value, old, new))
    count = bounded("replace", "count", count)
    found = text.count(old) if count is None or count < 0 else min(text.count(old), count)
    refuse_larger_than_a_prompt(len(text) + found * (len(new) - len(old)), "replace")
    return text.replace(old, new, -1 if count is None else count)


def _round(value, precision=0, method="common"):
    return jinja_filters.do_round(require_plain(value), bounded("round", "precision", precision), method)


def _int(value, default=0, base=10):
    if isinstance(value, str) and len(value) > MAX_INT_TEXT:
        # int() of a long text in base 16 (unlike base 10) has no digit limit and takes quadratic time.
        raise SecurityError(
            gettext("int only converts text of up to %(count)s characters") % {"count": MAX_INT_TEXT}
        )
    return jinja_filters.do_int(require_plain(value), require_plain(default), bounded("int", "base", base))


def _float(value, default=0.0):
    return jinja_filters.do_float(require_plain(value), require_plain(default))


def _string(value):
    return str(refuse_text_larger_than_a_prompt(require_plain(value), "string"))


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _tojson(value, indent=None):
    # Plain JSON, not Jinja's HTML-safe variant: a prompt is text for a model, never HTML.
    plain = refuse_text_larger_than_a_prompt(require_plain(value), "tojson")
    text = json.dumps(
        plain, indent=bounded("tojson", "indent", indent), ensure_ascii=False, sort_keys=True,
        default=_json_default,
    )
    refuse_larger_than_a_prompt(len(text), "tojson")
    return text


FILTERS = {
    "default": _default, "upper": _upper, "lower": _lower, "title": _title, "capitalize": _capitalize,
    "trim": _trim, "truncate": _truncate, "join": _join, "length": _length, "first": _first, "last": _last,
    "replace": _replace, "round": _round, "int": _int, "float": _float, "string": _string, "tojson": _tojson,
}

# Tests take no arguments here: `x is defined`, `x is none`, `n is even`, ...
TESTS = ("defined", "undefined", "none", "boolean", "true", "false", "number", "string", "mapping", "sequence",
         "even", "odd")


def _filter_parameters(function):
    parameters = list(inspect.signature(function).parameters)
    skip = 2 if getattr(function, "jinja_pass_arg", None) else 1  # the environment, then the value
    return parameters[skip:]


FILTER_PARAMETERS = {name: _filter_parameters(function) for name, function in FILTERS.items()}
