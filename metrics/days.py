"""Local calendar days (TIME_ZONE, Europe/Berlin) as half-open UTC-aware timestamp ranges.

Rollups filter `start <= recorded_at < end` rather than `date(recorded_at)`: the range uses the
timestamp index, and a DST day correctly spans 23 or 25 hours.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone


def day_bounds(day):
    """[start, end) of the local calendar day `day`, as aware UTC datetimes.

    UTC because Python subtracts two datetimes that share a tzinfo by wall clock, which would make
    `end - start` 24 hours even on a 23-hour day.
    """
    zone = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_day(moment):
    """The local calendar day an aware datetime falls on."""
    return timezone.localtime(moment).date()


def days_between(first, last):
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def parse_day(text):
    return date.fromisoformat(text)
