"""Template filters for the operators' pages."""

from django import template

from dashboard import charts

register = template.Library()


@register.filter
def percent(ratio):
    """`{{ figures.success_rate|percent|floatformat:1 }} %`: a ratio as a percentage, rounded once, by floatformat."""
    return charts.percent(ratio)
