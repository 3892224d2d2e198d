"""Seed the Anthropic list prices (USD per million tokens) the product starts with.

Operators keep the table current in the admin (a new row with a later `valid_from` when a price
changes). Idempotent: an existing (model, valid_from) row is left as the operator set it.
"""

import datetime
from decimal import Decimal

from django.db import migrations

VALID_FROM = datetime.date(2025, 1, 1)

# model id or alias -> (input, output) USD per million tokens, list prices November 2026.
PRICES = {
    "claude-haiku-4-5-20251001": ("1.00", "5.00"),
    "claude-haiku-4-5": ("1.00", "5.00"),
    "claude-sonnet-4-6": ("3.00", "15.00"),
    "claude-sonnet-4-5-20250929": ("3.00", "15.00"),
    "claude-sonnet-4-5": ("3.00", "15.00"),
    "claude-opus-4-5-20251101": ("5.00", "25.00"),
    "claude-opus-4-5": ("5.00", "25.00"),
}


def seed_prices(apps, schema_editor):
    ModelPrice = apps.get_model("extraction", "ModelPrice")
    for model_id, (input_price, output_price) in PRICES.items():
        ModelPrice.objects.get_or_create(
            model_id=model_id,
            valid_from=VALID_FROM,
            defaults={"input_usd_per_mtok": Decimal(input_price), "output_usd_per_mtok": Decimal(output_price)},
        )


def unseed_prices(apps, schema_editor):
    ModelPrice = apps.get_model("extraction", "ModelPrice")
    ModelPrice.objects.filter(model_id__in=PRICES, valid_from=VALID_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("extraction", "0002_email_attachments_results_prices")]

    operations = [migrations.RunPython(seed_prices, unseed_prices)]
