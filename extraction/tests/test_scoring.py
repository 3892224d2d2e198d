"""The scoring rules of SPEC "The quality loop", one field type at a time (pure functions, no database)."""

import datetime
from decimal import Decimal

import pytest

from extraction.scoring import REVIEW_FIELDS, field_correct, intent_correct, score_facts


def test_the_review_fields_are_the_nine_facts_in_spec_order():
    assert REVIEW_FIELDS == (
        "creditor_name", "creditor_reference", "debtor_name", "total_claim", "principal", "interest", "costs",
        "statement_date", "accepts_plan",
    )


@pytest.mark.parametrize(("expected", "answered", "right"), [
    ("debt_statement", "debt_statement", True),
    ("debt_statement", "payment_plan", False),
    ("debt_statement", "", False),
])
def test_the_intent_is_right_only_when_exactly_equal(expected, answered, right):
    assert intent_correct(expected, answered) is right


@pytest.mark.parametrize(("expected", "answered", "right"), [
    (Decimal("1234.56"), Decimal("1234.56"), True),
    (Decimal("1234.50"), Decimal("1234.5"), True),  # the same cent, written differently
    (Decimal("1234"), 1234, True),
    (Decimal("1234.56"), Decimal("1234.57"), False),  # one cent off
    (Decimal("1234.56"), Decimal("123456"), False),
    (Decimal("1234.56"), "1.234,56", False),  # a value the model wrote but could not be read is never right
    (Decimal("1234.56"), None, False),
    (None, Decimal("0.00"), False),  # zero is an answer, not an empty field
])
def test_an_amount_is_right_when_equal_to_the_cent(expected, answered, right):
    assert field_correct("total_claim", expected, answered) is right


@pytest.mark.parametrize(("expected", "answered", "right"), [
    (datetime.date(2025, 12, 31), datetime.date(2025, 12, 31), True),
    (datetime.date(2025, 12, 31), datetime.date(2025, 12, 30), False),
    (datetime.date(2025, 12, 31), None, False),
])
def test_a_date_is_right_when_equal(expected, answered, right):
    assert field_correct("statement_date", expected, answered) is right


@pytest.mark.parametrize(("expected", "answered", "right"), [
    ("INK-2026-0048815", "INK-2026-0048815", True),
    ("INK-2026-0048815", " ink-2026- 0048815\n", True),  # whitespace removed, case folded
    ("AZ 12/34", "az12/34", True),
    ("AZ 12/34", "AZ 12-34", False),  # other punctuation is another reference
    ("AZ 12/34", "", False),
])
def test_a_reference_is_right_after_removing_whitespace_and_case_folding(expected, answered, right):
    assert field_correct("creditor_reference", expected, answered) is right


@pytest.mark.parametrize(("name", "expected", "answered", "right"), [
    ("creditor_name", "Creditreform Inkasso Süd GmbH", "creditreform  inkasso SÜD\tGmbH ", True),
    ("debtor_name", "Jürgen Weiß", "JÜRGEN WEISS", True),  # case folding maps ß to ss
    ("debtor_name", "Jürgen Weiß", "JürgenWeiß", False),  # whitespace is collapsed, not removed
    ("creditor_name", "EOS Deutscher Inkasso-Dienst GmbH", "EOS Deutscher Inkasso Dienst GmbH", False),
])
def test_a_name_is_right_after_case_folding_and_collapsing_whitespace(name, expected, answered, right):
    assert field_correct(name, expected, answered) is right


@pytest.mark.parametrize(("expected", "answered", "right"), [
    (True, True, True),
    (False, False, True),
    (None, None, True),
    (True, False, False),
    (False, None, False),
    (None, False, False),
])
def test_accepts_plan_is_right_when_equal(expected, answered, right):
    assert field_correct("accepts_plan", expected, answered) is right


@pytest.mark.parametrize("name", REVIEW_FIELDS)
def test_a_field_expected_empty_and_answered_empty_is_right(name):
    assert field_correct(name, None, None) and field_correct(name, "", None) and field_correct(name, None, "  ")


def test_score_facts_scores_every_field_and_treats_a_missing_one_as_empty():
    expected = {"creditor_name": "Vodafone GmbH", "total_claim": Decimal("4512.80"), "accepts_plan": False}
    answered = {"creditor_name": "VODAFONE GMBH", "total_claim": Decimal("4512.08"), "accepts_plan": False}
    assert score_facts(expected, answered) == {
        "creditor_name": True, "creditor_reference": True, "debtor_name": True, "total_claim": False,
        "principal": True, "interest": True, "costs": True, "statement_date": True, "accepts_plan": True,
    }
