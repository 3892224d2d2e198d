"""The e-mail list's columns and its confidence filter (the e-mail admin, extraction.admin, uses them).

Compact cells: status, intent, confidence and the reason fit a 1280 px window beside the filters; a long
text is cut by CSS (or to REASON_SHOWN_CHARS) with the whole of it in its tooltip. Everything a sender wrote
is escaped by format_html.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Q
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.formatting import format_number
from extraction import admin_review, review
from extraction.models import IncomingEmail

# The list shows this much of a failure or review reason (the whole is its tooltip).
REASON_SHOWN_CHARS = 60


class ConfidenceFilter(admin.SimpleListFilter):
    """Confidence bands around the review threshold.

    Its "Show counts" figures are one `COUNT(*) FILTER (WHERE band)` per band in a single query,
    never Django's default `id IN (subquery)` per option (which never finished at a million rows).
    """

    title = _("confidence")
    parameter_name = "confidence_band"

    def bands(self):
        """{option: (label, condition)}."""
        threshold = settings.REVIEW_CONFIDENCE_THRESHOLD
        return {
            "low": (_("below review threshold"), Q(lowest_confidence__lt=threshold)),
            "medium": (_("threshold to 0.9"), Q(lowest_confidence__gte=threshold, lowest_confidence__lt=0.9)),
            "high": (_("0.9 and above"), Q(lowest_confidence__gte=0.9)),
            "none": (_("none"), Q(lowest_confidence__isnull=True)),
        }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _condition) in self.bands().items()]

    def queryset(self, request, queryset):
        band = self.bands().get(self.value())
        return queryset if band is None else queryset.filter(band[1])

    def get_facet_counts(self, pk_attname, filtered_qs):
        bands = enumerate(self.bands().values())
        return {f"{i}__c": Count(pk_attname, filter=condition) for i, (_label, condition) in bands}


def shortened(text, css_class):
    """A cell cut to its column's width by CSS (ellipsis), the whole text in its tooltip."""
    return format_html('<span class="{}" title="{}">{}</span>', css_class, text, text) if text else "-"


class EmailListColumns:
    """The e-mail list's columns, mixed into IncomingEmailAdmin (list_display names them)."""

    @admin.display(description=_("review"))
    def review_link(self, email):
        if email.status not in review.REVIEWABLE:
            return "-"
        label = gettext("Review again") if email.status == IncomingEmail.Status.REVIEWED else gettext("Review")
        return format_html('<a href="{}">{}</a>', admin_review.review_url(email.pk), label)

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, email):
        # The stock checkbox renders a form widget template per row: a third of the list's time.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME, email.pk, gettext("Select this object for an action - {}").format(email),
        )

    @admin.display(description=_("arrived"), ordering="created_at")
    def arrived(self, email):
        # The short form (02.12.2026 08:36 in German): the list's narrowest date column.
        return date_format(localtime(email.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("sender and subject"))
    def sender_and_subject(self, email):
        # One column, two lines, each cut to the column by CSS with the whole text in its tooltip.
        return format_html("{}{}", shortened(email.sender, "cell-sender"), shortened(email.subject, "cell-subject"))

    @admin.display(description=_("status"))
    def status_badge(self, email):
        return format_html('<span class="status-badge status-{}">{}</span>', email.status, email.get_status_display())

    @admin.display(description=_("confidence"))
    def confidence(self, email):
        # 0,93 in German: a plain number, as the confidence filter's bands are written.
        return "-" if email.lowest_confidence is None else format_number(email.lowest_confidence, 2)

    @admin.display(description=_("reason"))
    def reason(self, email):
        """Why it failed, or why it waits for a human: the head of it, the whole in the tooltip."""
        text = email.error or email.review_reason
        if not text:
            return "-"
        return format_html('<span class="cell-reason" title="{}">{}</span>', text,
                           Truncator(text).chars(REASON_SHOWN_CHARS))
