"""Facts and figures as JSON and back: snapshots, answers and kept summaries are stored in JSON fields.

Amounts travel as strings ("1234.56", exact), dates as "YYYY-MM-DD"; reading them back gives Decimal and
date again, so scoring always compares the types production stores.
"""

import datetime
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext

from config.formatting import format_money
from extraction.models import Intent
from extraction.normalise import AMOUNT_FIELDS

DATE_FIELDS = ("statement_date",)


def facts_to_json(facts):
    """A facts dict (Decimal/date/bool/str/None values) as JSON-safe values; unknown keys are kept as they are."""
    converted = {}
    for name, value in facts.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        converted[name] = value
    return converted


def facts_from_json(data):
    """The inverse of facts_to_json for the fact fields (amounts to Decimal, dates to date)."""
    facts = {}
    for name, value in data.items():
        if value not in (None, "") and name in AMOUNT_FIELDS:
            value = Decimal(value)
        elif value not in (None, "") and name in DATE_FIELDS:
            value = datetime.date.fromisoformat(value)
        facts[name] = value
    return facts


def summary_to_json(summary):
    return {name: str(value) if isinstance(value, Decimal) else value for name, value in summary.items()}


def summary_from_json(data):
    return {**data, "cost_usd": Decimal(data["cost_usd"])}


def fact_display(name, value):
    """A fact as an operator reads it on the compare page: `1.234,56 €`, `20.11.2026`, `ja`, the intent's label,
    the text as it is; a value that isn't what its field holds (an unreadable answer) is shown as it was written."""
    if value in (None, ""):
        return "–"
    try:
        if name in AMOUNT_FIELDS:
            return format_money(Decimal(str(value)))
        if name in DATE_FIELDS:
            day = value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)
            return date_format(day, "SHORT_DATE_FORMAT")
    except (ArithmeticError, TypeError, ValueError):
        return str(value)
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if name == "intent" and value in Intent.values:
        return str(Intent(value).label)
    return str(value)
