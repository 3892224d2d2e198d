"""Built-in template filters (registered in settings.TEMPLATES, no `{% load %}` needed) for money and percentages.

`{{ claim.total|money }}` → `1.234,56 €`; `{{ run.cost_usd|money:"USD,4" }}` → `0,0123 $`;
`{{ figures.success_rate|percentage }}` → `98,2 %`; `{{ rate|percentage:2 }}` → `98,21 %`;
`{{ accuracy_delta|points }}` → `+1,2 Prozentpunkte` (a difference of two ratios).
"""

from django import template

from config.formatting import format_money, format_percent, format_points

register = template.Library()


@register.filter
def money(value, spec="EUR"):
    """`spec` is a currency code, optionally with the number of decimals: "USD,6"."""
    currency, _, decimals = str(spec).partition(",")
    return format_money(value, currency or "EUR", int(decimals) if decimals else 2)


@register.filter
def percentage(ratio, decimals=1):
    return format_percent(ratio, int(decimals))


@register.filter
def points(ratio_delta, decimals=1):
    return format_points(ratio_delta, int(decimals))
