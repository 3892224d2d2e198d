"""Regular expressions of output schemas (`pattern`, `patternProperties`) that cannot hang the worker.

jsonschema matches them with Python's backtracking `re`, where a pattern like `(a+)+$`, `(a|a)*b` or
`(.*a){20}` takes exponential time on a short answer, and `\\d+\\d+\\d+x` polynomial time. This is a
conservative check over the parsed pattern (`re._parser`, what `re.compile` itself uses):

- a repeat that can match more than once may not contain a repeat of variable length (`(a+)+`,
  `(.*a){20}`, `(\\d?x)*`), nor alternatives of which one can match nothing or two can start with the
  same character (`(a|a)*`, `(x|xy)+`); no back-references (`(a*)\\1`), which are exponential in general;
- what is left can only backtrack through the choices of its repeats and alternatives, one after
  another: on a text of n characters at most n * (product of each variable repeat's choices, at most
  n + 1 each) * (product of the alternatives' counts) steps. A pattern is matched only against texts
  short enough to keep that under MAX_MATCH_STEPS (at most MAX_SUBJECT_CHARS), and refused when that is
  under MIN_SUBJECT_CHARS (`.*a.*b.*c.*d`). `^[A-Z]{2}\\d+$` and an IBAN take 1,000 characters.
"""

import functools
import re
import re._constants as sre
import re._parser as sre_parse

from django.utils.translation import gettext

MAX_PATTERN_CHARS = 1_000
MAX_SUBJECT_CHARS = 1_000
MIN_SUBJECT_CHARS = 50
MAX_MATCH_STEPS = 10_000_000
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_ANY = "any"  # a first-character set that may contain every character


class UnsafePattern(ValueError):
    """A regular expression that is not valid or could backtrack without bound; the message says which part."""


def longest_subject(pattern):
    """The longest text `pattern` may be matched against; raises UnsafePattern for a pattern that is refused."""
    return _choices(pattern).longest


def match_steps(pattern, length):
    """A bound on the steps of matching `pattern` (accepted by longest_subject) against a text of `length`."""
    return _choices(pattern).steps(length)


@functools.lru_cache(maxsize=1024)
def _choices(pattern):
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafePattern(gettext("is longer than %(count)s characters") % {"count": MAX_PATTERN_CHARS})
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UnsafePattern(gettext("is not a valid regular expression (%(error)s)") % {"error": exc}) from None
    choices = _Choices()
    _check_items(list(parsed), choices, repeated=False, case_insensitive=bool(parsed.state.flags & re.IGNORECASE))
    longest = choices.longest = choices.longest_subject()
    if longest < MIN_SUBJECT_CHARS:
        raise UnsafePattern(
            gettext(
                "has too many repeats and alternatives one after another: it could only be checked on texts of up "
                "to %(longest)s characters (at least %(needed)s are needed); each *, + or {n,} multiplies the "
                "time a failing match takes"
            ) % {"longest": longest, "needed": MIN_SUBJECT_CHARS}
        )
    return choices


class _Choices:
    """The choices a backtracking match can make: variable repeats (their spans) and alternatives."""

    def __init__(self):
        self.spans = []  # high - low + 1 of each variable repeat, None for an unbounded one
        self.alternatives = 1
        self.longest = 0

    def steps(self, length):
        steps = length * self.alternatives
        for span in self.spans:
            steps *= length + 1 if span is None else min(span, length + 1)
        return steps

    def longest_subject(self):
        low, high = 0, MAX_SUBJECT_CHARS
        while low < high:  # steps() grows with the length
            middle = (low + high + 1) // 2
            low, high = (middle, high) if self.steps(middle) <= MAX_MATCH_STEPS else (low, middle - 1)
        return low


def _check_items(items, choices, *, repeated, case_insensitive):
    """Check a parsed sequence and note its choices; `repeated` is True inside a repeat that can match twice.

    Recursive only over groups, whose nesting the regex parser itself bounds.
    """
    for op, argument in items:
        if op in _REPEATS:
            low, high, body = argument
            if repeated and low != high:
                raise UnsafePattern(
                    gettext(
                        "repeats a part of variable length (%(part)s) inside another repeat, which can backtrack "
                        "without bound; write it without nesting the repeats"
                    ) % {"part": _describe(argument)}
                )
            if low != high:
                choices.spans.append(None if high == sre.MAXREPEAT else high - low + 1)
            _check_items(list(body), choices, repeated=repeated or high > 1, case_insensitive=case_insensitive)
        elif op == sre.ATOMIC_GROUP:  # never backtracked into once left: its repeats are not multiplied
            _check_items(list(argument), choices, repeated=False, case_insensitive=case_insensitive)
        elif op == sre.SUBPATTERN:
            _, add_flags, _, body = argument
            _check_items(
                list(body), choices, repeated=repeated,
                case_insensitive=case_insensitive or bool(add_flags & re.IGNORECASE),
            )
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            _check_items(list(argument[1]), choices, repeated=False, case_insensitive=case_insensitive)
        elif op == sre.BRANCH:
            branches = [list(branch) for branch in argument[1]]
            if repeated:
                _refuse_ambiguous_alternatives(branches, case_insensitive)
            else:
                choices.alternatives *= len(branches)
            for branch in branches:
                _check_items(branch, choices, repeated=repeated, case_insensitive=case_insensitive)
        elif op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise UnsafePattern(
                gettext("uses a back-reference (\\1, (?P=name), (?(1)...)), which can take exponential time")
            )


def _refuse_ambiguous_alternatives(branches, case_insensitive):
    firsts = []
    for branch in branches:
        first, can_be_empty = _first_characters(branch, case_insensitive)
        if can_be_empty:
            raise UnsafePattern(gettext(
                "has an alternative that can match nothing inside a repeat (like (a|)* or (a|a)*), which can "
                "backtrack without bound"
            ))
        if any(_overlap(first, other) for other in firsts):
            raise UnsafePattern(gettext(
                "has alternatives that can start with the same character inside a repeat (like (a|ab)*), which "
                "can backtrack without bound"
            ))
        firsts.append(first)


def _first_characters(items, case_insensitive):
    """(the characters a match of `items` can start with, whether it can match nothing).

    The characters are a list of (low, high) code point ranges, or _ANY when they are not worked out.
    """
    first = []
    for op, argument in items:
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # takes no characters: what follows decides
        if op == sre.LITERAL and not case_insensitive:
            step, can_be_empty = [(argument, argument)], False
        elif op == sre.IN and not case_insensitive and all(kind in (sre.LITERAL, sre.RANGE) for kind, _ in argument):
            step = [(value, value) if kind == sre.LITERAL else value for kind, value in argument]
            can_be_empty = False
        elif op == sre.SUBPATTERN:
            step, can_be_empty = _first_characters(
                list(argument[3]), case_insensitive or bool(argument[1] & re.IGNORECASE)
            )
        elif op == sre.ATOMIC_GROUP:
            step, can_be_empty = _first_characters(list(argument), case_insensitive)
        elif op in _REPEATS:
            step, can_be_empty = _first_characters(list(argument[2]), case_insensitive)
            can_be_empty = can_be_empty or argument[0] == 0
        elif op == sre.BRANCH:
            results = [_first_characters(list(branch), case_insensitive) for branch in argument[1]]
            step = _ANY if any(r[0] == _ANY for r in results) else [span for r in results for span in r[0]]
            can_be_empty = any(r[1] for r in results)
        else:
            step, can_be_empty = _ANY, False
        first = _ANY if _ANY in (first, step) else first + step
        if not can_be_empty:
            return first, False
    return first, True


def _overlap(first, other):
    if _ANY in (first, other):
        return True
    return any(low <= other_high and other_low <= high for low, high in first for other_low, other_high in other)


def _describe(argument):
    low, high, _ = argument
    if high == sre.MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    return "?" if (low, high) == (0, 1) else f"{{{low},{high}}}"
