"""The range of local days (TIME_ZONE) a page shows: 7, 30 or 90 days, ending today or on a chosen day."""

from dataclasses import dataclass
from datetime import timedelta

from metrics.days import days_between

RANGE_CHOICES = (7, 30, 90)
DEFAULT_RANGE = 30


@dataclass(frozen=True)
class DayRange:
    """`days` days ending on `last` (today unless the operator chose an end)."""

    last: object
    days: int
    today: object

    @property
    def first(self):
        return self.last - timedelta(days=self.days - 1)

    @property
    def dates(self):
        return days_between(self.first, self.last)

    @property
    def includes_today(self):
        return self.first <= self.today <= self.last

    @property
    def today_index(self):
        """Position of today among `dates`, or None: today is not over, so its figures are partial."""
        return (self.today - self.first).days if self.includes_today else None


def day_range(*, today, days=DEFAULT_RANGE, last=None):
    return DayRange(last=last or today, days=days, today=today)
