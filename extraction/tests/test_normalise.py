"""German amounts, dates and yes/no values become exact values; what can't be read is kept and flagged."""

import datetime
from decimal import Decimal

import pytest

from extraction.normalise import normalise_extraction, parse_amount, parse_date, parse_yes_no


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("1.234,56 €", "1234.56"),
        ("EUR 1234.56", "1234.56"),
        ("EUR 1.234,56", "1234.56"),
        ("€ 12.345.678,90", "12345678.90"),
        ("1 234,56 €", "1234.56"),
        ("1\u00a0234,56\u00a0€", "1234.56"),
        ("1.234,- €", "1234.00"),
        ("1.234", "1234.00"),  # a German thousands separator, not 1.234 euros
        ("1234.5", "1234.50"),
        ("1,5", "1.50"),
        ("1,234.56 EUR", "1234.56"),
        ("1,234,567", "1234567.00"),
        ("0,99 Euro", "0.99"),
        ("1234,56EUR", "1234.56"),
        ("-50,00 EUR", "-50.00"),
        ("500", "500.00"),
        (2280, "2280.00"),
        (95.5, "95.50"),
    ],
)
def test_amounts_in_german_and_english_notation_become_exact_decimals(written, amount):
    assert parse_amount(written) == Decimal(amount)
    assert parse_amount(written).as_tuple().exponent == -2


@pytest.mark.parametrize(
    "written",
    [
        "ca. 500 €", "abc", "", "1..2", "1.23.45", "12,345", "1.234,567", "1e5", "5 Raten à 95 €", True,
        "1.000.000.000.000,00",
    ],
)
def test_amounts_that_cannot_be_read_exactly_are_refused(written):
    with pytest.raises(ValueError):
        parse_amount(written)


@pytest.mark.parametrize(
    ("written", "date"),
    [
        ("31.12.2025", datetime.date(2025, 12, 31)),
        ("31.12.25", datetime.date(2025, 12, 31)),
        ("1.2.2026", datetime.date(2026, 2, 1)),
        ("05. 11. 2026", datetime.date(2026, 11, 5)),
        ("31.12.2025.", datetime.date(2025, 12, 31)),
        ("2025-12-31", datetime.date(2025, 12, 31)),
        ("31. Dezember 2025", datetime.date(2025, 12, 31)),
        ("3. März 2026", datetime.date(2026, 3, 3)),
        ("15. Okt. 2026", datetime.date(2026, 10, 15)),
    ],
)
def test_german_and_iso_dates_become_dates(written, date):
    assert parse_date(written) == date


@pytest.mark.parametrize("written", ["31.02.2025", "12/31/2025", "Ende Dezember", "", 20251231])
def test_dates_that_are_not_real_dates_are_refused(written):
    with pytest.raises(ValueError):
        parse_date(written)


@pytest.mark.parametrize(
    ("written", "value"), [(True, True), (False, False), ("ja", True), ("Nein", False), ("true", True)]
)
def test_yes_and_no_in_json_german_or_english(written, value):
    assert parse_yes_no(written) is value


def test_normalising_an_answer_keeps_unreadable_values_raw_and_leaves_them_empty():
    normalised = normalise_extraction(
        {
            "creditor_name": "  Otto Payment Solutions GmbH ",
            "creditor_reference": "OTTO-5531902-Ö",
            "debtor_name": None,
            "total_claim": "1.493,18 EUR",
            "principal": "ca. 1.250 EUR",
            "interest": "",
            "costs": None,
            "statement_date": "31.10.2026",
            "accepts_plan": "vielleicht",
            "confidence": 0.88,
        }
    )
    assert normalised.fields == {
        "creditor_name": "Otto Payment Solutions GmbH",
        "creditor_reference": "OTTO-5531902-Ö",
        "debtor_name": "",
        "total_claim": Decimal("1493.18"),
        "principal": None,
        "interest": None,
        "costs": None,
        "statement_date": datetime.date(2026, 10, 31),
        "accepts_plan": None,
        "confidence": 0.88,
    }
    assert normalised.unparsed == {"principal": "ca. 1.250 EUR", "accepts_plan": "vielleicht"}


def test_a_confidence_outside_zero_to_one_is_flagged_not_trusted():
    normalised = normalise_extraction({"confidence": 87})
    assert normalised.fields["confidence"] is None
    assert normalised.unparsed == {"confidence": 87}


def test_an_empty_answer_gives_all_fields_empty():
    normalised = normalise_extraction({})
    assert set(normalised.fields.values()) <= {"", None}
    assert normalised.unparsed == {}
