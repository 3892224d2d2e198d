"""Facts and figures as JSON and back: snapshots, answers and kept summaries are stored in JSON fields.

Amounts travel as strings ("1234.56", exact), dates as "YYYY-MM-DD"; reading them back gives Decimal and
date again, so scoring always compares the types production stores.
"""

import datetime
from decimal import Decimal

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
