"""Aggregates the rollups need that Django does not ship: a continuous percentile and an exact decimal sum.

Both run in the database. PostgreSQL has them natively; on SQLite the percentile is a Python
aggregate registered on every new connection (see `register_sqlite_functions`).
"""

import math
from decimal import Decimal

from django.db.models import Aggregate, DecimalField, FloatField

SQLITE_PERCENTILE_FUNCTION = "metrics_percentile_cont"


def percentile_cont(values, fraction):
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


class _SQLitePercentileCont:
    """sqlite3 aggregate class: step(value, fraction) per row, finalize() -> percentile."""

    def __init__(self):
        self.values = []
        self.fraction = None

    def step(self, value, fraction):
        if value is not None:
            self.values.append(value)
            self.fraction = fraction

    def finalize(self):
        return percentile_cont(self.values, self.fraction) if self.values else None


def register_sqlite_functions(sender, connection, **kwargs):
    """connection_created receiver: make the percentile aggregate available on SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE_FUNCTION, 2, _SQLitePercentileCont)


class Percentile(Aggregate):
    """Continuous percentile of an expression, e.g. `Percentile("execution_time_ms", 0.95)`; works with filter=."""

    name = "Percentile"
    function = "PERCENTILE_CONT"
    output_field = FloatField()
    # No %(filter)s here: Aggregate.as_sql appends FILTER (WHERE ...) itself.
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction, **extra):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError(f"Percentile fraction must be between 0 and 1, not {fraction}.")
        # A float literal checked above, so it is safe to place in the SQL text.
        super().__init__(expression, fraction=repr(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Changing the template on a copy (not passing template=) keeps filter= working.
        clone = self.copy()
        clone.function = SQLITE_PERCENTILE_FUNCTION
        clone.template = "%(function)s(%(expressions)s, %(fraction)s)"
        return super(Percentile, clone).as_sql(compiler, connection, **extra_context)


class ExactDecimalSum(Aggregate):
    """SUM of a DecimalField that stays exact on SQLite too (which stores decimals as REAL).

    On SQLite each value is scaled to an integer number of the field's smallest unit and summed
    as an integer; PostgreSQL sums numeric exactly as it is.
    """

    name = "ExactDecimalSum"
    function = "SUM"

    def __init__(self, expression, *, decimal_places, max_digits=20, **extra):
        self.decimal_places = decimal_places
        super().__init__(
            expression, output_field=DecimalField(max_digits=max_digits, decimal_places=decimal_places), **extra
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        clone = self.copy()
        clone.template = f"%(function)s(CAST(ROUND(%(expressions)s * 1e{self.decimal_places}) AS INTEGER))"
        return super(ExactDecimalSum, clone).as_sql(compiler, connection, **extra_context)

    def get_db_converters(self, connection):
        if connection.vendor == "sqlite":
            return [self._scaled_integer_to_decimal]
        return super().get_db_converters(connection)

    def _scaled_integer_to_decimal(self, value, expression, connection):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.decimal_places)
