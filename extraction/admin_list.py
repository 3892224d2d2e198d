"""The e-mail list at a million rows: its paginator (a capped or estimated count, deep pages through the index),
its change list (no per-option counts on a big table) and its search words (none too short for the trigrams).
"""

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.text import smart_split, unescape_string_literal

from metrics.admin import planner_row_estimate

# The e-mail list counts exactly up to this many rows (and no further); beyond, PostgreSQL's estimate.
EXACT_COUNT_UP_TO = 10_000
# When PostgreSQL expects this many rows, its estimate is shown without counting even that far.
ESTIMATE_TRUSTED_FROM = 100_000
# "Show counts" is offered while the e-mail table is smaller than this: each filter's counts read every row.
FACETS_UP_TO_ROWS = 50_000
# Shorter search words have no trigram to look up: each would read the whole table.
MIN_SEARCH_WORD = 3


class EmailPaginator(Paginator):
    """Pages of a million e-mails: a capped or estimated count, and deep pages found through the index.

    The count is exact up to EXACT_COUNT_UP_TO rows (reading no more); above that, and whenever
    PostgreSQL expects ESTIMATE_TRUSTED_FROM rows or more, it is the planner's estimate (SQLite has
    none and counts; SQLite installations are small). A page first takes its ids (`ORDER BY ... OFFSET n LIMIT m` on the
    ids alone, which the indexes answer without the table), then loads those rows: page 400 does not
    fetch the 39,900 rows before it.
    """

    count_is_estimate = False

    @cached_property
    def count(self):
        estimate = planner_row_estimate(self.object_list)
        if estimate is None:
            return super().count
        if estimate < ESTIMATE_TRUSTED_FROM:
            capped = self.object_list.order_by()[:EXACT_COUNT_UP_TO].count()
            if capped < EXACT_COUNT_UP_TO:
                return capped
        self.count_is_estimate = True
        return max(estimate, EXACT_COUNT_UP_TO)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:bottom + self.per_page])
        # Still a queryset in the list's order: the admin's actions and templates use it as one.
        return self._get_page(self.object_list.filter(pk__in=ids), number, self)


def search_words(search_term):
    """(the search without its words shorter than MIN_SEARCH_WORD, those words); a "quoted phrase" is one word."""
    kept, left_out = [], []
    for word in smart_split(search_term):
        quoted = len(word) > 1 and word[0] in "\"'" and word[0] == word[-1]
        text = unescape_string_literal(word) if quoted else word
        (kept if len(text) >= MIN_SEARCH_WORD else left_out).append(word)
    return " ".join(kept), left_out


class EmailChangeList(ChangeList):
    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # Counts per filter option read every matching row: offered while the table is small only.
        if self.is_facets_optional and table_size(self.root_queryset) >= FACETS_UP_TO_ROWS:
            self.is_facets_optional = self.add_facets = False

    @cached_property
    def search_words_left_out(self):
        return search_words(self.query)[1]


def table_size(queryset):
    """About how many rows `queryset` has: PostgreSQL's estimate, or a count that stops at FACETS_UP_TO_ROWS."""
    estimate = planner_row_estimate(queryset)
    return estimate if estimate is not None else queryset.order_by()[:FACETS_UP_TO_ROWS].count()
