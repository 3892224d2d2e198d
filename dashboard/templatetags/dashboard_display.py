"""Template filters for the operators' pages."""

from datetime import date

from django import template

register = template.Library()


@register.filter
def iso_date(value):
    """`{{ marker.day|iso_date|date:"SHORT_DATE_FORMAT" }}`: a day of the chart data (an ISO string, as charts.js
    reads it) back as a date, so the page writes it as its language does (26.11.2026)."""
    return date.fromisoformat(value) if value else None
