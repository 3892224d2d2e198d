"""Is an answer right? The scoring rules of SPEC "The quality loop", as pure functions.

One definition for the review (accuracy per prompt version) and the evaluation app (experiments):
- intent: exactly equal;
- amounts: equal to the cent, as Decimal (never float);
- dates: equal;
- creditor_reference: equal after removing all whitespace and case-folding ("AZ 12 / 34" == "az12/34");
- names (creditor_name, debtor_name): equal after case-folding and collapsing runs of whitespace;
- accepts_plan: equal (True, False or None);
- a field expected empty and answered empty is right; empty against a value (either way) is wrong.
"""

import re
from decimal import Decimal

from extraction.normalise import AMOUNT_FIELDS, MERGED_FIELDS

# The nine facts a review confirms, in SPEC order (the merged result's fields).
REVIEW_FIELDS = MERGED_FIELDS
NAME_FIELDS = ("creditor_name", "debtor_name")
REFERENCE_FIELDS = ("creditor_reference",)

_WHITESPACE = re.compile(r"\s+")


def is_empty(value):
    """None, or a text that is empty after stripping: the field was not answered."""
    return value is None or (isinstance(value, str) and not value.strip())


def _name_key(text):
    return _WHITESPACE.sub(" ", text.strip()).casefold()


def _reference_key(text):
    return _WHITESPACE.sub("", text).casefold()


def _cents(amount):
    return Decimal(amount).quantize(Decimal("0.01"))


def field_correct(name, expected, answered):
    """Whether `answered` is right for fact `name` given the `expected` value."""
    if is_empty(expected) or is_empty(answered):
        return is_empty(expected) and is_empty(answered)
    if name in NAME_FIELDS:
        return _name_key(expected) == _name_key(answered)
    if name in REFERENCE_FIELDS:
        return _reference_key(expected) == _reference_key(answered)
    if name in AMOUNT_FIELDS:
        if not isinstance(answered, (Decimal, int)) or isinstance(answered, bool):
            return False  # an unreadable amount ("1.2x4,-") kept as the model wrote it is never right
        return _cents(expected) == _cents(answered)
    return expected == answered


def score_facts(expected, answered):
    """{field: right?} for each of REVIEW_FIELDS; a field missing from a dict counts as empty."""
    return {name: field_correct(name, expected.get(name), answered.get(name)) for name in REVIEW_FIELDS}


def intent_correct(expected, answered):
    """The intent is right only when it is exactly the expected one (an empty answer never is)."""
    return bool(answered) and expected == answered
