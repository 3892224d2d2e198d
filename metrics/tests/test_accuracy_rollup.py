"""Review accuracy as a metric: raw rows per (prompt version, review), rolled up per local day of the review
with the same guarantees as the other rollups (upsert, late rows, DST days, catch-up, retention only of
rolled-up days), re-reviews that never count twice, and `prompt_accuracy` over a range of days."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from metrics.models import PromptAccuracyDaily, PromptAccuracyMetrics, RollupDay
from metrics.selectors import prompt_accuracy
from metrics.services import accuracy_replace, cleanup_raw_metrics, rollup_accuracy_metrics, run_nightly_metrics
from metrics.tests.helpers import at, days_before, make_version
from metrics.tests.test_rollup_faults import DatabaseGoesAway

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 10)
ACCURACY = RollupDay.Kind.ACCURACY


def score(version, *, fields=(9, 9), intent=(0, 0)):
    return {"prompt_version": version.pk, "fields_checked": fields[0], "fields_correct": fields[1],
            "intent_checked": intent[0], "intent_correct": intent[1]}


def reviewed(review_id, when, *scores, replaced=None):
    accuracy_replace(review_id=review_id, email_id=1000 + review_id, scores=scores, recorded_at=when, replaced=replaced)
    return {"recorded_at": when, "scores": list(scores)}


def daily(version, day):
    row = PromptAccuracyDaily.objects.get(prompt_version=version, date=day)
    return (row.review_count, row.fields_checked, row.fields_correct, row.intent_checked, row.intent_correct)


def test_a_day_of_reviews_is_rolled_up_per_version():
    classifier, extractor = make_version(1, name="classifier"), make_version(1, name="extractor")
    reviewed(1, at(DAY, 9), score(classifier, fields=(0, 0), intent=(1, 1)), score(extractor, fields=(8, 7)))
    reviewed(2, at(DAY, 17), score(classifier, fields=(0, 0), intent=(1, 0)), score(extractor, fields=(2, 2)))
    assert rollup_accuracy_metrics(day=DAY) == 2
    assert daily(classifier, DAY) == (2, 0, 0, 2, 1)
    assert daily(extractor, DAY) == (2, 10, 9, 0, 0)


def test_rerunning_a_day_yields_identical_rows():
    version = make_version()
    reviewed(1, at(DAY, 9), score(version, fields=(5, 3)))
    rollup_accuracy_metrics(day=DAY, now=at(DAY + timedelta(days=1), 1))
    first = list(PromptAccuracyDaily.objects.values())
    rollup_accuracy_metrics(day=DAY, now=at(DAY + timedelta(days=1), 1))
    assert list(PromptAccuracyDaily.objects.values()) == first


@pytest.mark.parametrize(("day", "first_utc", "last_utc"), [
    # 23 hours: local midnight is 23:00 UTC the day before, the next midnight 22:00 UTC.
    (date(2026, 3, 29), datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 21, 59, tzinfo=UTC)),
    # 25 hours: 22:00 UTC the day before until 23:00 UTC.
    (date(2026, 10, 25), datetime(2026, 10, 24, 22, 0, tzinfo=UTC), datetime(2026, 10, 25, 22, 59, tzinfo=UTC)),
])
def test_a_dst_day_counts_the_reviews_of_all_its_local_hours(day, first_utc, last_utc):
    version = make_version()
    reviewed(1, first_utc, score(version, fields=(1, 1)))
    reviewed(2, last_utc, score(version, fields=(1, 0)))
    reviewed(3, first_utc - timedelta(minutes=1), score(version, fields=(4, 4)))  # the day before
    reviewed(4, last_utc + timedelta(minutes=1), score(version, fields=(4, 4)))  # the day after
    rollup_accuracy_metrics(day=day)
    assert daily(version, day) == (2, 2, 1, 0, 0)


def test_a_late_review_of_a_rolled_up_day_is_folded_in_by_the_next_nightly_run():
    version = make_version()
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    reviewed(1, at(yesterday, 23, 58), score(version, fields=(3, 3)))
    run_nightly_metrics(kind=ACCURACY)
    # A review saved at 23:59 that committed after the rollup had read the day.
    reviewed(2, at(yesterday, 23, 59), score(version, fields=(3, 1)))
    assert daily(version, yesterday) == (1, 3, 3, 0, 0)
    run_nightly_metrics(kind=ACCURACY)  # within METRICS_REAGGREGATE_DAYS: the day is re-aggregated
    assert daily(version, yesterday) == (2, 6, 4, 0, 0)


@override_settings(METRICS_RAW_RETENTION_DAYS=3)
def test_a_late_review_of_an_expired_day_is_folded_in_before_its_raw_rows_are_deleted():
    version = make_version()
    old_day = timezone.localdate() - timedelta(days=10)
    reviewed(1, at(old_day, 10), score(version, fields=(2, 2)))
    rollup_accuracy_metrics(day=old_day, now=at(old_day + timedelta(days=1), 1))
    reviewed(2, at(old_day, 11), score(version, fields=(2, 0)))  # arrived after the rollup
    assert cleanup_raw_metrics(kinds=[ACCURACY]) == {ACCURACY: 2}
    assert daily(version, old_day) == (2, 4, 2, 0, 0)


@override_settings(METRICS_RAW_RETENTION_DAYS=3)
def test_after_an_outage_every_day_is_rolled_up_and_only_expired_rolled_up_days_are_cleaned():
    version = make_version()
    today = timezone.localdate()
    days = days_before(today, 8)
    for review_id, day in enumerate(days, start=1):
        reviewed(review_id, at(day, 12), score(version, fields=(3, 2), intent=(1, 1)))
    reviewed(99, timezone.now(), score(version, fields=(1, 1)))  # today: not rolled up before tomorrow
    result = run_nightly_metrics(kind=ACCURACY)
    assert result.rolled_up_days == days
    assert set(PromptAccuracyDaily.objects.values_list("date", flat=True)) == set(days)
    expired = [day for day in days if day <= today - timedelta(days=4)]
    assert result.deleted_rows == len(expired)
    kept = PromptAccuracyMetrics.objects.values_list("recorded_at", flat=True)
    remaining = {timezone.localdate(when) for when in kept}
    assert remaining == (set(days) - set(expired)) | {today}


def test_a_re_review_replaces_the_reviews_rows_and_rolls_its_day_up_again():
    version = make_version()
    first = reviewed(1, at(DAY, 9), score(version, fields=(9, 5)))
    reviewed(2, at(DAY, 10), score(version, fields=(9, 9)))
    rollup_accuracy_metrics(day=DAY)
    reviewed(1, at(DAY + timedelta(days=2), 8), score(version, fields=(9, 8)), replaced=first)
    assert PromptAccuracyMetrics.objects.filter(review_id=1).count() == 1
    assert daily(version, DAY) == (1, 9, 9, 0, 0)  # review 1 no longer counts on its first day
    rollup_accuracy_metrics(day=DAY + timedelta(days=2))
    assert daily(version, DAY + timedelta(days=2)) == (1, 9, 8, 0, 0)


def test_a_re_review_of_a_review_whose_day_was_cleaned_subtracts_it_from_that_day():
    version, other = make_version(1), make_version(2)
    first = reviewed(1, at(DAY, 9), score(version, fields=(9, 5)), score(other, intent=(1, 1)))
    reviewed(2, at(DAY, 10), score(version, fields=(9, 9)))
    rollup_accuracy_metrics(day=DAY)
    with override_settings(METRICS_RAW_RETENTION_DAYS=30):
        cleanup_raw_metrics(now=at(DAY + timedelta(days=40), 2), kinds=[ACCURACY])
    assert not PromptAccuracyMetrics.objects.exists() and RollupDay.objects.get(kind=ACCURACY).is_final

    reviewed(1, at(DAY + timedelta(days=41), 8), score(version, fields=(9, 8)), replaced=first)
    assert daily(version, DAY) == (1, 9, 9, 0, 0)
    assert not PromptAccuracyDaily.objects.filter(prompt_version=other).exists()


def test_prompt_accuracy_sums_the_rolled_up_days_and_today_from_the_raw_rows():
    version = make_version()
    today = timezone.localdate()
    reviewed(1, at(today - timedelta(days=2), 9), score(version, fields=(10, 7), intent=(1, 1)))
    reviewed(2, at(today - timedelta(days=1), 9), score(version, fields=(10, 9), intent=(1, 0)))
    run_nightly_metrics(kind=ACCURACY)
    reviewed(3, timezone.now(), score(version, fields=(5, 5), intent=(1, 1)))
    figures = prompt_accuracy(template=version, start=today - timedelta(days=2), end=today)
    assert figures == {
        "review_count": 3, "fields_checked": 25, "fields_correct": 21, "accuracy": 21 / 25,
        "intent_checked": 3, "intent_correct": 2, "intent_accuracy": 2 / 3,
    }
    only_yesterday = prompt_accuracy(template=version, start=today - timedelta(days=1), end=today - timedelta(days=1))
    assert (only_yesterday["fields_correct"], only_yesterday["intent_accuracy"]) == (9, 0.0)


def test_prompt_accuracy_is_none_when_nothing_was_checked():
    version = make_version()
    reviewed(1, timezone.now(), score(version, fields=(0, 0), intent=(1, 1)))
    today = timezone.localdate()
    figures = prompt_accuracy(template=version, start=today, end=today)
    assert (figures["accuracy"], figures["intent_accuracy"]) == (None, 1.0)
    empty = prompt_accuracy(template=make_version(2), start=today, end=today)
    assert (empty["fields_checked"], empty["accuracy"], empty["intent_accuracy"]) == (0, None, None)


def test_a_row_claiming_more_right_than_checked_is_refused_by_the_database():
    version = make_version()
    with pytest.raises(IntegrityError), transaction.atomic():
        reviewed(1, at(DAY, 9), score(version, fields=(2, 3)))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@override_settings(METRICS_RAW_RETENTION_DAYS=3, METRICS_CLEANUP_BATCH_SIZE=1)
def test_the_database_dropping_at_any_point_of_the_nightly_accuracy_run_loses_nothing():
    version = make_version()
    days = days_before(timezone.localdate(), 6)
    for day in days:
        for hour in (9, 15):
            reviewed(day.toordinal() * 100 + hour, at(day, hour), score(version, fields=(3, 2)))
    outages = 0
    for statements in range(1000):
        try:
            with connection.execute_wrapper(DatabaseGoesAway(after=statements)):
                run_nightly_metrics(kind=ACCURACY)
            break
        except OperationalError:
            outages += 1
        # Every review is still a raw row or counted in its day's rolled-up row, never both lost.
        ledger = {entry.day: entry for entry in RollupDay.objects.filter(kind=ACCURACY)}
        for day in days:
            raw = PromptAccuracyMetrics.objects.filter(
                recorded_at__gte=at(day, 0), recorded_at__lt=at(day + timedelta(days=1), 0)
            ).count()
            if raw < 2:
                assert ledger[day].deleted_rows + raw == 2 and daily(version, day) == (2, 6, 4, 0, 0)
    assert outages > 10
    assert {day: daily(version, day) for day in days} == dict.fromkeys(days, (2, 6, 4, 0, 0))
    assert PromptAccuracyMetrics.objects.count() == 2 * 3  # the three days inside the retention
