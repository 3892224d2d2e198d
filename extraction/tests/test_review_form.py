"""The review form reads amounts and dates as German operators type them; anything else is a field error."""

import datetime
from decimal import Decimal

import pytest

from extraction.review_form import CONFIRM, SAVE, ReviewForm, display_value, german_amount

EMPTY_FACTS = {
    "creditor_name": "", "creditor_reference": "", "debtor_name": "", "total_claim": "", "principal": "",
    "interest": "", "costs": "", "statement_date": "", "accepts_plan": "unknown",
}


def form(action=SAVE, initial=None, **typed):
    return ReviewForm({"intent": "debt_statement", **EMPTY_FACTS, "revision": "0", **typed},
                      initial=initial or {}, action=action)


@pytest.mark.parametrize(("typed", "amount"), [
    ("1.234,56", Decimal("1234.56")),
    ("1234,56 €", Decimal("1234.56")),
    ("1.234,56 €", Decimal("1234.56")),
    ("EUR 1.234,56", Decimal("1234.56")),
    ("1234.56", Decimal("1234.56")),
    ("1.234", Decimal("1234.00")),  # a German thousands dot, as in the letters
    ("1.234,-", Decimal("1234.00")),
    ("0", Decimal("0.00")),
    ("0,5", Decimal("0.50")),
    (" 2 847,13 ", Decimal("2847.13")),
    ("1.000.000,00", Decimal("1000000.00")),
])
def test_an_amount_typed_the_german_way_is_read_exactly(typed, amount):
    bound = form(total_claim=typed)
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["total_claim"] == amount
    assert isinstance(bound.cleaned_data["total_claim"], Decimal)


@pytest.mark.parametrize(("typed", "message"), [
    ("-5,00", "cannot be negative"),
    ("1,234", "At most two decimals"),  # one comma: the German decimal mark, three places
    ("12,345", "At most two decimals"),
    ("1.234,567", "At most two decimals"),
    ("abc", "Not an amount"),
    ("1.23.4", "Not an amount"),
    ("zwölf", "Not an amount"),
    ("1e5", "Not an amount"),
    ("NaN", "Not an amount"),
    ("9999999999999", "too large"),
])
def test_an_amount_that_is_not_one_is_a_field_error(typed, message):
    bound = form(principal=typed)
    assert not bound.is_valid()
    assert list(bound.errors) == ["principal"]
    assert message in bound.errors["principal"][0]


@pytest.mark.parametrize(("typed", "day"), [
    ("31.12.2025", datetime.date(2025, 12, 31)),
    ("1.2.2026", datetime.date(2026, 2, 1)),
    ("31.12.25", datetime.date(2025, 12, 31)),
    ("2025-12-31", datetime.date(2025, 12, 31)),
    ("29.02.2024", datetime.date(2024, 2, 29)),
])
def test_a_date_typed_the_german_way_or_iso_is_read(typed, day):
    bound = form(statement_date=typed)
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["statement_date"] == day


@pytest.mark.parametrize("typed", ["31.02.2025", "29.02.2025", "12/31/2025", "morgen", "2025-13-01", "32.1.2025"])
def test_a_date_that_is_no_calendar_day_is_a_field_error(typed):
    bound = form(statement_date=typed)
    assert not bound.is_valid()
    assert list(bound.errors) == ["statement_date"]
    assert "Not a date" in bound.errors["statement_date"][0]


@pytest.mark.parametrize(("typed", "value"), [("true", True), ("false", False), ("unknown", None)])
def test_accepts_plan_is_yes_no_or_not_stated(typed, value):
    bound = form(accepts_plan=typed)
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["accepts_plan"] is value


def test_empty_facts_clean_to_empty_text_and_none():
    bound = form()
    assert bound.is_valid(), bound.errors
    assert bound.facts() == {
        "creditor_name": "", "creditor_reference": "", "debtor_name": "", "total_claim": None, "principal": None,
        "interest": None, "costs": None, "statement_date": None, "accepts_plan": None,
    }


@pytest.mark.parametrize("intent", ["", "bribe"])
def test_the_intent_must_be_one_of_the_known_intents(intent):
    bound = form(intent=intent)
    assert not bound.is_valid()
    assert list(bound.errors) == ["intent"]


def test_text_longer_than_the_stored_field_is_a_field_error():
    bound = form(creditor_reference="A" * 256)
    assert not bound.is_valid()
    assert list(bound.errors) == ["creditor_reference"]


PREFILL = {
    "intent": "debt_statement", "creditor_name": "Brandt & Kollegen", "creditor_reference": "2026/118-BK",
    "debtor_name": "Thomas Becker", "total_claim": Decimal("2219.67"), "principal": Decimal("1980.00"),
    "interest": None, "costs": None, "statement_date": datetime.date(2026, 11, 5), "accepts_plan": None,
}


def test_the_prefill_is_shown_in_german_and_confirms_unchanged():
    shown = ReviewForm(initial={**PREFILL, "revision": 0})
    assert 'value="2.219,67"' in str(shown["total_claim"])
    assert 'value="05.11.2026"' in str(shown["statement_date"])
    typed = {**EMPTY_FACTS, "creditor_name": "Brandt & Kollegen", "creditor_reference": "2026/118-BK",
             "debtor_name": "Thomas Becker", "total_claim": "2.219,67", "principal": "1.980,00",
             "statement_date": "05.11.2026"}
    bound = form(CONFIRM, initial=PREFILL, **typed)
    assert bound.is_valid(), bound.errors
    assert bound.changed_from_prefill() == []


def test_confirming_after_changing_a_field_is_refused_and_names_the_field():
    typed = {**EMPTY_FACTS, "creditor_name": "Brandt & Kollegen", "creditor_reference": "2026/118-BK",
             "debtor_name": "Thomas Becker", "total_claim": "2.219,76", "principal": "1.980,00",
             "statement_date": "05.11.2026"}
    bound = form(CONFIRM, initial=PREFILL, **typed)
    assert not bound.is_valid()
    assert "total_claim" in bound.non_field_errors()[0]
    assert form(SAVE, initial=PREFILL, **typed).is_valid()


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("1234567.5"), "1.234.567,50"), (Decimal("0"), "0,00"), (Decimal("12.30"), "12,30"),
])
def test_amounts_are_shown_with_german_separators(value, shown):
    assert german_amount(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (None, "–"), ("", "–"), (True, "yes"), (False, "no"), (datetime.date(2025, 1, 2), "02.01.2025"),
    (Decimal("5"), "5,00"), ("Müller", "Müller"),
])
def test_values_are_displayed_for_operators(value, shown):
    assert display_value(value) == shown
