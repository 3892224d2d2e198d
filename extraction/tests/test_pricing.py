"""Call costs are exact decimals from the token counts and the operator-editable price table."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from extraction.models import ModelPrice
from extraction.pricing import call_cost_usd, prices_remembered

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model_id", "input_price", "output_price"),
    [
        ("claude-haiku-4-5-20251001", "1.00", "5.00"),
        ("claude-haiku-4-5", "1.00", "5.00"),
        ("claude-sonnet-4-6", "3.00", "15.00"),
        ("claude-sonnet-4-5-20250929", "3.00", "15.00"),
        ("claude-opus-4-5-20251101", "5.00", "25.00"),
    ],
)
def test_the_migration_seeds_the_list_prices(model_id, input_price, output_price):
    price = ModelPrice.objects.get(model_id=model_id)
    assert (price.input_usd_per_mtok, price.output_usd_per_mtok) == (Decimal(input_price), Decimal(output_price))


def test_the_cost_of_a_call_is_exact_to_the_token():
    # 1,234 input tokens at $3/MTok and 56 output tokens at $15/MTok.
    assert call_cost_usd(model_id="claude-sonnet-4-6", input_tokens=1234, output_tokens=56) == Decimal("0.004542")
    # One token of Haiku: one millionth of a dollar, no float rounding.
    assert call_cost_usd(model_id="claude-haiku-4-5-20251001", input_tokens=1, output_tokens=0) == Decimal("0.000001")


def test_a_new_price_applies_from_its_date_and_the_old_one_before():
    ModelPrice.objects.create(
        model_id="claude-sonnet-4-6", input_usd_per_mtok=Decimal("2.50"), output_usd_per_mtok=Decimal("12.50"),
        valid_from=datetime.date(2026, 12, 1),
    )
    cost = {
        day: call_cost_usd(model_id="claude-sonnet-4-6", input_tokens=1_000_000, output_tokens=1_000_000, on=day)
        for day in (datetime.date(2026, 11, 30), datetime.date(2026, 12, 1))
    }
    assert cost == {datetime.date(2026, 11, 30): Decimal("18"), datetime.date(2026, 12, 1): Decimal("15")}


def test_a_model_without_a_price_costs_zero_and_logs_a_warning(caplog):
    assert call_cost_usd(model_id="claude-unknown-1", input_tokens=500, output_tokens=500) == 0
    assert "No price for model claude-unknown-1" in caplog.text


def test_one_price_per_model_and_day():
    with pytest.raises(IntegrityError):
        ModelPrice.objects.create(
            model_id="claude-haiku-4-5", input_usd_per_mtok=1, output_usd_per_mtok=5,
            valid_from=datetime.date(2025, 1, 1),
        )


def test_within_prices_remembered_a_model_and_day_is_looked_up_once_and_forgotten_after():
    day = datetime.date(2026, 12, 1)

    def cost():
        return call_cost_usd(model_id="claude-sonnet-4-6", input_tokens=1_000_000, output_tokens=0, on=day)

    with prices_remembered():
        with CaptureQueriesContext(connection) as queries:
            assert [cost(), cost(), cost()] == [Decimal("3")] * 3
        assert len(queries) == 1
        ModelPrice.objects.create(model_id="claude-sonnet-4-6", input_usd_per_mtok=Decimal("2.50"),
                                  output_usd_per_mtok=Decimal("12.50"), valid_from=day)
        assert cost() == Decimal("3")  # an experiment's run keeps the price it started with
    assert cost() == Decimal("2.5")
