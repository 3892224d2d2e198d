"""The one definition of each ratio shown for a prompt version: success rate, review rate, cost per call.

The daily rollup rows, the dashboard's range totals and the admin all use these. A ratio over several
days is a ratio of the summed counts, never a mean of daily ratios; with no calls there is no ratio (None).
"""


def success_rate(*, successes, calls):
    """Share of calls whose answer could be used (0..1)."""
    return successes / calls if calls else None


def review_rate(*, reviews, calls):
    """Share of calls that sent their e-mail to manual review (0..1)."""
    return reviews / calls if calls else None


def cost_per_call(*, cost_usd, calls):
    """Exact cost per call in USD: a Decimal division (28 significant digits), never a float of money."""
    return cost_usd / calls if calls else None


def accuracy(*, correct, checked):
    """Share of reviewed answers (fields, or intents) that were right (0..1)."""
    return correct / checked if checked else None


class CallRatios:
    """The three ratios as properties of anything with call_count, success_count, review_count and
    total_cost_usd: a daily rollup row, or the dashboard's figures of a day or a range."""

    @property
    def success_rate(self):
        return success_rate(successes=self.success_count, calls=self.call_count)

    @property
    def review_rate(self):
        return review_rate(reviews=self.review_count, calls=self.call_count)

    @property
    def cost_per_call_usd(self):
        return cost_per_call(cost_usd=self.total_cost_usd, calls=self.call_count)
