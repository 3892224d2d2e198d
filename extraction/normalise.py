"""German amounts, dates and yes/no values as the model copies them from letters, made exact.

The extraction prompts ask the model to copy values as written ("1.234,56 €"), so the conversion to
Decimal and date happens here, deterministically. A value that cannot be read is never guessed: it
is kept as written in `unparsed` and the result goes to manual review.
"""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext

MAX_AMOUNT = Decimal(10) ** 12
AMOUNT_FIELDS = ("total_claim", "principal", "interest", "costs")
TEXT_FIELDS = {"creditor_name": 500, "creditor_reference": 255, "debtor_name": 500}

_CURRENCY = re.compile(r"(?i)\s*(€|eur(?:o)?\.?)\s*")
# Thousands separators people type: dot, space, no-break space, narrow no-break space, apostrophe.
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{2}|\d{4})\.?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_GERMAN_DATE_WORDS = re.compile(r"(\d{1,2})\.\s*([A-Za-zäÄ]+)\.?\s+(\d{4})")
_MONTHS = {
    "januar": 1, "jan": 1, "jänner": 1, "februar": 2, "feb": 2, "märz": 3, "maerz": 3, "mär": 3, "mrz": 3,
    "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
    "dezember": 12, "dez": 12,
}
_YES = {"ja", "yes", "true", "zugestimmt", "angenommen"}
_NO = {"nein", "no", "false", "abgelehnt"}


def _not_an_amount(value):
    """The error for a value that cannot be read as an amount (in the product's language: it becomes a review
    reason)."""
    return ValueError(gettext("not an amount: %(value)s") % {"value": repr(value)})


def parse_amount(value):
    """An amount in EUR as Decimal with at most two decimals; raises ValueError if it can't be read.

    Reads 1.234,56 € / EUR 1234.56 / 1 234,56 / 1.234,- / 1,234.56 / 500 / numbers from JSON.
    """
    if isinstance(value, bool):
        raise _not_an_amount(value)
    if isinstance(value, (int, float)):
        return _cents(Decimal(str(value)), value)
    if not isinstance(value, str):
        raise _not_an_amount(value)
    text = _CURRENCY.sub("", value.strip()).strip()
    text = _SPACES.sub("", text)
    if text.endswith((",-", ".-", ",--")):  # "1.234,-" is German for whole euros
        text = text.rstrip("-")[:-1]
    if not re.fullmatch(r"[+-]?\d[\d.,]*", text):
        raise _not_an_amount(value)
    sign = "-" if text[0] == "-" else ""
    return _cents(Decimal(sign + _decimal_notation(text.lstrip("+-"), value)), value)


def parse_claim_amount(value):
    """parse_amount for a claim or a part of one, which is never negative; raises ValueError otherwise."""
    amount = parse_amount(value)
    if amount < 0:
        # A minus sign in a claim is a misreading (or a credit note): a human decides.
        raise ValueError(gettext("a negative amount: %(value)s") % {"value": repr(value)})
    return amount


def _decimal_notation(digits, original):
    """Turn German or English grouping into plain '1234.56'."""
    last_dot, last_comma = digits.rfind("."), digits.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal_mark = "," if last_comma > last_dot else "."
    elif last_comma >= 0:
        # A single comma is the German decimal mark; several are English thousands separators.
        decimal_mark = "," if digits.count(",") == 1 else None
    elif last_dot >= 0:
        # "1.234" in a German letter is one thousand two hundred thirty-four euros, "1234.5" is not.
        single_group = digits.count(".") == 1 and len(digits) - last_dot - 1 != 3
        decimal_mark = "." if single_group else None
    else:
        decimal_mark = None
    thousands = {",": ".", ".": ",", None: ".,"}[decimal_mark]
    integer, _, fraction = digits.rpartition(decimal_mark) if decimal_mark else (digits, "", "")
    groups = re.split(f"[{re.escape(thousands)}]", integer)
    if any(not g for g in groups) or (len(groups) > 1 and any(len(g) != 3 for g in groups[1:])):
        raise _not_an_amount(original)
    if decimal_mark and (not fraction or not fraction.isdigit()):
        raise _not_an_amount(original)
    return "".join(groups) + ("." + fraction if decimal_mark else "")


def _cents(amount, original):
    # The result fields hold 12 digits before the decimal mark; anything larger is a misreading.
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise ValueError(gettext("not a plausible amount: %(value)s") % {"value": repr(original)})
    try:
        if amount != amount.quantize(Decimal("0.01")):
            raise ValueError(gettext("more than two decimals in an amount: %(value)s") % {"value": repr(original)})
        return amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise _not_an_amount(original) from None


def parse_date(value):
    """A date from 31.12.2025 / 31.12.25 / 2025-12-31 / 31. Dezember 2025; raises ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError(gettext("not a date: %(value)s") % {"value": repr(value)})
    text = value.strip()
    try:
        if match := _GERMAN_DATE.fullmatch(text):
            day, month, year = (int(g) for g in match.groups())
            year += 2000 if len(match[3]) == 2 else 0
            return datetime.date(year, month, day)
        if match := _ISO_DATE.fullmatch(text):
            return datetime.date(*(int(g) for g in match.groups()))
        if (match := _GERMAN_DATE_WORDS.fullmatch(text)) and match[2].lower() in _MONTHS:
            return datetime.date(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
    except ValueError:
        pass  # e.g. 31.02.2025: looks like a date, isn't one
    raise ValueError(gettext("not a date: %(value)s") % {"value": repr(value)})


def parse_yes_no(value):
    """True/False from a JSON boolean or a German/English yes/no word; raises ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise ValueError(gettext("not yes or no: %(value)s") % {"value": repr(value)})


def parse_confidence(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    raise ValueError(gettext("not a confidence between 0 and 1: %(value)s") % {"value": repr(value)})


@dataclass
class Normalised:
    """Normalised extraction fields, and the raw values that could not be normalised."""

    fields: dict
    unparsed: dict = field(default_factory=dict)


_PARSERS = {
    **dict.fromkeys(AMOUNT_FIELDS, parse_claim_amount),
    "statement_date": parse_date,
    "accepts_plan": parse_yes_no,
    "confidence": parse_confidence,
}
# The facts a merged result takes from the sources (confidence is computed, not merged).
MERGED_FIELDS = (*TEXT_FIELDS, *AMOUNT_FIELDS, "statement_date", "accepts_plan")


def unreadable_because(name, value):
    """Why the value of field `name` cannot be normalised (the parser's message), or "" when it can."""
    try:
        _PARSERS[name](value)
    except ValueError as exc:
        return str(exc)
    return ""


def normalise_extraction(data):
    """Map the model's JSON answer onto the result fields; missing or null values stay empty.

    `normalise_extraction({})` is therefore the all-empty set of fields.
    """
    normalised = Normalised(fields={})
    for name, max_length in TEXT_FIELDS.items():
        value = data.get(name)
        normalised.fields[name] = str(value).strip()[:max_length] if value not in (None, "") else ""
    for name, parse in _PARSERS.items():
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            normalised.fields[name] = None
            continue
        try:
            normalised.fields[name] = parse(value)
        except ValueError:
            normalised.fields[name] = None
            normalised.unparsed[name] = value
    return normalised
