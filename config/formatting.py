"""Numbers as the operator's language writes them: `1.234,56 €` and `98,2 %` in German, `€1,234.56` and `98.2%`
in English.

Every app formats money and percentages through these functions (and the `money` / `percentage` template filters
in `config.template_formats`), so an amount never appears as "2487.33 EUR" on one page and "2.487,33 €" on the
next. Django's number formatting does the digits (separators of the active language, grouping always on); only
where the symbol goes is a translated pattern.
"""

from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext

# German puts a no-break space between the number and the sign, so "1.234,56 €" never wraps between the two.
NO_BREAK_SPACE = "\u00a0"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$"}
MISSING = "–"


def format_number(value, decimals=None):
    """`value` with the active language's decimal and thousands separators; `decimals` fixes the places."""
    if value is None:
        return MISSING
    if decimals is not None:
        value = round(Decimal(str(value)), decimals)
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


def format_money(value, currency="EUR", decimals=2):
    """`1.234,56 €` / `€1,234.56`; `currency` is an ISO code (EUR for claims, USD for what the model costs)."""
    if value is None:
        return MISSING
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    # Translators: a money amount. German writes the sign after the number, with a space: "1.234,56 €".
    pattern = gettext("%(symbol)s%(amount)s")
    return pattern.replace(" ", NO_BREAK_SPACE) % {"symbol": symbol, "amount": format_number(value, decimals)}


def format_percent(ratio, decimals=1):
    """A ratio (0.982) as `98,2 %` / `98.2%`; None (nothing measured) as a dash."""
    if ratio is None:
        return MISSING
    # Translators: a percentage. German writes a space before the sign: "98,2 %".
    pattern = gettext("%(number)s%%")
    return pattern.replace(" ", NO_BREAK_SPACE) % {"number": format_number(Decimal(str(ratio)) * 100, decimals)}


def format_points(ratio_delta, decimals=1):
    """A difference of two ratios in percentage points, always signed: `+1,2 Pp.` / `−3.0 points`."""
    if ratio_delta is None:
        return MISSING
    number = format_number(abs(Decimal(str(ratio_delta))) * 100, decimals)
    sign = "−" if ratio_delta < 0 else "+"
    # Translators: a difference of two percentages, e.g. "+1.2 points" (German: "+1,2 Prozentpunkte").
    return gettext("%(sign)s%(number)s points").replace(" ", NO_BREAK_SPACE) % {"sign": sign, "number": number}
