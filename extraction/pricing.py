"""What an LLM call cost, exactly, from its token counts and the operator-maintained price table."""

import contextlib
import logging
import threading
from decimal import Decimal

from django.utils import timezone

from extraction.models import ModelPrice

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)


# While prices_remembered() is open in this process: {(model_id, date): ModelPrice or None}, and how many
# blocks are open (the threads of one experiment task share it).
_remembered = {}
_remembering = 0
_lock = threading.Lock()


@contextlib.contextmanager
def prices_remembered():
    """Within the block, this process looks each model's price for a day up once: for many calls in a row (an
    experiment's cases), where a query per call would be a database round trip on every call's path."""
    global _remembering
    with _lock:
        _remembering += 1
    try:
        yield
    finally:
        with _lock:
            _remembering -= 1
            if not _remembering:
                _remembered.clear()


def price_for(model_id, *, on=None):
    """The ModelPrice row in force for `model_id` on date `on` (today by default), or None."""
    on = on or timezone.localdate()
    key = (model_id, on)
    with _lock:
        if _remembering and key in _remembered:
            return _remembered[key]
    price = ModelPrice.objects.filter(model_id=model_id, valid_from__lte=on).order_by("-valid_from").first()
    with _lock:
        if _remembering:
            _remembered[key] = price
    return price


def call_cost_usd(*, model_id, input_tokens, output_tokens, on=None):
    """Exact cost in USD of one call; Decimal("0") (and a warning) when the model has no price."""
    price = price_for(model_id, on=on)
    if price is None:
        # A missing price must not stop the pipeline; the warning tells the operator to add one.
        logger.warning("No price for model %s in the model price table; cost recorded as 0.", model_id)
        return Decimal("0")
    return (input_tokens * price.input_usd_per_mtok + output_tokens * price.output_usd_per_mtok) / MILLION
