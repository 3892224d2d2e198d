"""Admin for operators: incoming e-mails with their files, results and prompt versions; model prices.

E-mails and what the pipeline found are read-only here (the pipeline writes them); the one write
is re-queueing, through `extraction.services.email_requeue`. Everything a sender wrote (subject,
body, HTML, file names) is untrusted: it is only ever shown escaped, and files are downloaded,
never rendered inline.
"""

import json
import operator
from collections import Counter, defaultdict
from functools import reduce, update_wrapper

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import router
from django.db.models import Case, Count, ProtectedError, Q, RestrictedError, Value, When
from django.db.models.deletion import Collector
from django.forms.models import BaseInlineFormSet
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator, smart_split, unescape_string_literal
from django.utils.timezone import localtime
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from extraction import admin_intake, admin_review, llm, review, selectors, services
from extraction.models import EmailAttachment, ExtractionResult, IncomingEmail, ModelPrice
from metrics.admin import planner_row_estimate

# The e-mail list counts exactly up to this many rows (and no further); beyond, PostgreSQL's estimate.
EXACT_COUNT_UP_TO = 10_000
# When PostgreSQL expects this many rows, its estimate is shown without counting even that far.
ESTIMATE_TRUSTED_FROM = 100_000
# "Show counts" is offered while the e-mail table is smaller than this: each filter's counts read every row.
FACETS_UP_TO_ROWS = 50_000
# Shorter search words have no trigram to look up: each would read the whole table.
MIN_SEARCH_WORD = 3
# The e-mail page shows this much of a body (the rest is a download) and this many attachments a page.
BODY_SHOWN_CHARS = 20_000
ATTACHMENTS_PER_PAGE = 50
RESULTS_SHOWN = 30
# The re-queue action takes at most this many e-mails at once (the command takes any number).
REQUEUE_AT_MOST = 1000
# The list shows this much of a failure or review reason (the whole is its tooltip).
REASON_SHOWN_CHARS = 60
# The e-mail page shows this much of a sha256 (the whole is its tooltip and can be copied).
HASH_SHOWN_CHARS = 12
# The delete confirmation lists this many e-mails; its summary counts everything deleted with them.
DELETE_LIST_SHOWN = 50


def _pre(text):
    # format_html escapes: a creditor's HTML shows as source text, never as markup.
    return format_html('<pre style="white-space: pre-wrap; max-width: 100ch">{}</pre>', text) if text else "-"


def _json(value):
    return _pre(json.dumps(value, indent=2, ensure_ascii=False, default=str)) if value not in (None, {}, []) else "-"


class ConfidenceFilter(admin.SimpleListFilter):
    """Confidence bands around the review threshold.

    Its "Show counts" figures are one `COUNT(*) FILTER (WHERE band)` per band in a single query,
    never Django's default `id IN (subquery)` per option (which never finished at a million rows).
    """

    title = "confidence"
    parameter_name = "confidence_band"

    def bands(self):
        """{option: (label, condition)}."""
        threshold = settings.REVIEW_CONFIDENCE_THRESHOLD
        return {
            "low": ("below review threshold", Q(lowest_confidence__lt=threshold)),
            "medium": ("threshold to 0.9", Q(lowest_confidence__gte=threshold, lowest_confidence__lt=0.9)),
            "high": ("0.9 and above", Q(lowest_confidence__gte=0.9)),
            "none": ("none", Q(lowest_confidence__isnull=True)),
        }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.bands().items()]

    def queryset(self, request, queryset):
        band = self.bands().get(self.value())
        return queryset if band is None else queryset.filter(band[1])

    def get_facet_counts(self, pk_attname, filtered_qs):
        bands = enumerate(self.bands().values())
        return {f"{i}__c": Count(pk_attname, filter=condition) for i, (_, condition) in bands}


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


def _body_preview(email, field, part):
    """The head of a body, escaped, with its size and a download link for the whole when it is cut."""
    head, size = selectors.email_body_head(email=email, field=field, chars=BODY_SHOWN_CHARS)
    if not size:
        return "-"
    if size <= len(head.encode()):
        return _pre(head)
    url = reverse("admin:extraction_incomingemail_body", args=[email.pk, part])
    return format_html(
        '{}<p class="body-cut">The first {} characters of {} are shown. <a href="{}">Download the whole</a>.</p>',
        _pre(head), f"{BODY_SHOWN_CHARS:,}", filesizeformat(size), url,
    )


def _shortened(text, css_class):
    """A cell cut to its column's width by CSS (ellipsis), the whole text in its tooltip."""
    return format_html('<span class="{}" title="{}">{}</span>', css_class, text, text) if text else "-"


def attachment_rows(attachments, analysed_ids):
    """Table rows for the e-mail page: link (stored files only), type, size, checksum, and whether it was read.

    "Analysed by the model" says yes only for a file with a result of its own (`analysed_ids`): a file
    the pipeline would send but has not (yet, or a copy of another) is not claimed as read.
    """
    rows = []
    for attachment in attachments:
        refusal = attachment.refused_reason or llm.document_refusal(attachment.content_type, attachment.size)
        if attachment.pk in analysed_ids:
            analysis = gettext("yes")
        elif refusal:
            analysis = gettext("no: %(reason)s") % {"reason": refusal}
        else:
            analysis = gettext("no")
        rows.append({
            "attachment": attachment,
            "url": reverse("admin:extraction_attachment_download", args=[attachment.pk]) if attachment.file else "",
            "analysis": analysis,
            "sha256_short": attachment.sha256[:HASH_SHOWN_CHARS],
        })
    return rows


class FirstResultsFormSet(BaseInlineFormSet):
    """Only the first RESULTS_SHOWN results: an e-mail with thousands of them still renders quickly."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            # The merged result (what the pipeline decided) first; the per-source results after it.
            merged_first = Case(When(source=ExtractionResult.Source.MERGED, then=Value(0)), default=Value(1))
            self._queryset = super().get_queryset().order_by(merged_first, "source", "id")[:RESULTS_SHOWN]
        return self._queryset


class ResultInline(admin.StackedInline):
    model = ExtractionResult
    fk_name = "email"
    # The merged result open; each per-source result folded in a <details> (a page stays window-wide).
    template = "admin/extraction/incomingemail/result_inline.html"
    formset = FirstResultsFormSet
    extra = 0
    can_delete = False
    fieldsets = [
        (None, {"fields": [("source", "attachment", "prompt_version"), ("success", "needs_review", "confidence")]}),
        ("Normalised fields", {"fields": [
            ("creditor_name", "creditor_reference", "debtor_name"),
            ("total_claim", "principal", "interest", "costs"),
            ("statement_date", "accepts_plan"),
            "unparsed_values",
        ]}),
        ("Answer", {"fields": ["error", "parsed_json", "raw_answer"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "source", "attachment", "prompt_version", "success", "needs_review", "confidence", "creditor_name",
        "creditor_reference", "debtor_name", "total_claim", "principal", "interest", "costs", "statement_date",
        "accepts_plan", "unparsed_values", "error", "parsed_json", "raw_answer",
    ]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attachment", "prompt_version")

    @admin.display(description="parsed JSON")
    def parsed_json(self, result):
        return _json(result.parsed)

    @admin.display(description="raw answer")
    def raw_answer(self, result):
        return _pre(result.raw_response)

    @admin.display(description="could not be read (as written)")
    def unparsed_values(self, result):
        return _json(result.unparsed)


@admin.register(IncomingEmail)
class IncomingEmailAdmin(admin.ModelAdmin):
    """Built for a million e-mails: every filter and the ordering have an index, nothing is counted in full."""

    # Compact columns: status, intent, confidence and the reason fit a 1280 px window beside the filters.
    # (Attempts are on the e-mail page: the reason of a failure says when they ran out.)
    list_display = ("arrived", "sender_and_subject", "status_badge", "intent", "confidence", "reason")
    list_filter = ("status", "intent", ConfidenceFilter)
    # Sender and subject: parts of words, case-insensitive (trigram indexes on PostgreSQL); Message-ID: exact.
    search_fields = ("sender", "subject", "message_id__exact")
    search_help_text = (
        f"Finds e-mails whose sender or subject contains every word of {MIN_SEARCH_WORD} or more characters "
        "(e.g. Müller 4711; \"quoted words\" as one), or a Message-ID exactly as in the header, with its <>."
    )
    ordering = ("-created_at", "-id")
    list_per_page = 50  # as the metrics lists: half the rendering of Django's 100, at no cost to the database
    sortable_by = ("arrived",)  # the one ordering an index serves, both ways
    paginator = EmailPaginator
    show_full_result_count = False  # no COUNT(*) over the whole table on every filtered page
    actions = ["requeue"]
    inlines = [ResultInline]

    class Media:
        # The metrics lists' compact layout (filters above the list), then badges and wrapping of this admin.
        css = {"all": ["metrics/compact_lists.css", "extraction/email_admin.css"]}

    fieldsets = [
        (None, {"fields": [("status", "intent", "intent_confidence", "lowest_confidence"), "review_reason", "error",
                           ("attempts", "processing_started_at")]}),
        ("Message", {"fields": ["message_id_wrapped", "sender", "subject", "received_at", "created_at", "body",
                                "html_source"]}),
        ("Prompt versions used", {"fields": ["prompt_versions"]}),
    ]
    readonly_fields = [
        "status", "intent", "intent_confidence", "lowest_confidence", "review_reason", "error", "attempts",
        "processing_started_at", "message_id_wrapped", "sender", "subject", "received_at", "created_at", "body",
        "html_source", "prompt_versions",
    ]

    def has_add_permission(self, request):
        return False  # e-mails arrive through ingest_emails

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # A body can be 50 MB: no page loads one whole (the e-mail page reads its head, see body()).
        return super().get_queryset(request).defer("body_text", "body_html")

    def get_list_display(self, request):
        if selectors.can_review(request.user):
            return (*self.list_display, "review_link")
        return self.list_display

    @admin.display(description="review")
    def review_link(self, email):
        if email.status not in review.REVIEWABLE:
            return "-"
        label = "Review again" if email.status == IncomingEmail.Status.REVIEWED else "Review"
        return format_html('<a href="{}">{}</a>', admin_review.review_url(email.pk), label)

    def get_changelist(self, request, **kwargs):
        return EmailChangeList

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_words(search_term)[0])

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, email):
        # The stock checkbox renders a form widget template per row: a third of the list's time.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME, email.pk, f"Select this object for an action - {email}",
        )

    @admin.display(description="arrived", ordering="created_at")
    def arrived(self, email):
        # The short form (02.12.2026 08:36 in German): the list's narrowest date column.
        return date_format(localtime(email.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("sender and subject"))
    def sender_and_subject(self, email):
        # One column, two lines, each cut to the column by CSS with the whole text in its tooltip.
        return format_html("{}{}", _shortened(email.sender, "cell-sender"), _shortened(email.subject, "cell-subject"))

    @admin.display(description=gettext_lazy("status"))
    def status_badge(self, email):
        return format_html('<span class="status-badge status-{}">{}</span>', email.status, email.get_status_display())

    @admin.display(description=gettext_lazy("confidence"))
    def confidence(self, email):
        return "-" if email.lowest_confidence is None else f"{email.lowest_confidence:.2f}"

    @admin.display(description=gettext_lazy("reason"))
    def reason(self, email):
        """Why it failed, or why it waits for a human: the head of it, the whole in the tooltip."""
        text = email.error or email.review_reason
        if not text:
            return "-"
        return format_html('<span class="cell-reason" title="{}">{}</span>', text,
                           Truncator(text).chars(REASON_SHOWN_CHARS))

    @admin.display(description=gettext_lazy("Message-ID"))
    def message_id_wrapped(self, email):
        return format_html('<code class="long-value">{}</code>', email.message_id) if email.message_id else "-"

    @admin.display(description="body (text)")
    def body(self, email):
        return _body_preview(email, "body_text", "text")

    @admin.display(description="HTML body (source, not rendered)")
    def html_source(self, email):
        return _body_preview(email, "body_html", "html")

    @admin.display(description="prompt versions")
    def prompt_versions(self, email):
        versions = selectors.prompt_versions_used(email=email)
        if not versions:
            return "-"
        return format_html_join(
            ", ", '<a href="{}">{}</a>',
            ((reverse("admin:prompts_prompttemplate_change", args=[v.pk]), str(v)) for v in versions),
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # Attachments are a paged table, not an inline: an e-mail may carry 10,000 of them.
            attachments = Paginator(obj.attachments.order_by("id"), ATTACHMENTS_PER_PAGE)
            page = attachments.get_page(request.GET.get("attachments"))
            context.update({
                "attachment_page": page,
                "attachment_rows": attachment_rows(
                    page.object_list, selectors.analysed_attachment_ids(attachments=page.object_list)
                ),
                "result_count": obj.results.count(),
                "results_shown": RESULTS_SHOWN,
                "can_review": selectors.can_review(request.user) and obj.status in review.REVIEWABLE,
                "can_requeue": obj.status == IncomingEmail.Status.FAILED and self.has_reprocess_permission(request),
            })
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_deleted_objects(self, objs, request):
        """What deleting `objs` deletes: the e-mails (the first few listed) and, counted, everything with them.

        Django's own list fetches the e-mail again for every attachment it lists: 10,000 queries (and
        10,000 copies of a 50 MB body) for a flood of attachments. This asks the same Collector that
        the deletion uses, in a handful of queries.
        """
        emails = list(objs)
        collector = Collector(using=router.db_for_write(IncomingEmail), origin=emails)
        try:
            collector.collect(emails)
        except (ProtectedError, RestrictedError) as error:
            return [], {}, set(), [str(obj) for obj in error.args[1]]
        counts = Counter({model._meta.verbose_name_plural: len(rows) for model, rows in collector.data.items()})
        # Rows deleted without loading them come in batches of a few hundred ids: count 20 batches at once.
        fast_deletes = defaultdict(list)
        for queryset in collector.fast_deletes:
            fast_deletes[queryset.model].append(queryset)
        for model, querysets in fast_deletes.items():
            for start in range(0, len(querysets), 20):
                counts[model._meta.verbose_name_plural] += reduce(operator.or_, querysets[start:start + 20]).count()
        perms_needed = {
            model._meta.verbose_name for model in collector.data
            if model in self.admin_site._registry
            and not self.admin_site._registry[model].has_delete_permission(request)
        }
        listed = [
            format_html('Incoming email: <a href="{}">{}</a>',
                        reverse("admin:extraction_incomingemail_change", args=[email.pk]), email)
            for email in emails[:DELETE_LIST_SHOWN]
        ]
        if len(emails) > DELETE_LIST_SHOWN:
            listed.append(f"… and {len(emails) - DELETE_LIST_SHOWN:,} more")
        return listed, dict(counts), perms_needed, []

    def has_reprocess_permission(self, request):
        # The detail page is read-only for everyone; re-queueing is what "change" means here.
        return request.user.has_perm("extraction.change_incomingemail")

    @admin.action(description="Re-queue selected e-mails for processing", permissions=["reprocess"])
    def requeue(self, request, queryset):
        # "Select all" can mean a million e-mails: one request must not re-queue them one by one.
        if queryset.order_by()[:REQUEUE_AT_MOST + 1].count() > REQUEUE_AT_MOST:
            self.message_user(
                request,
                f"Nothing was re-queued: select at most {REQUEUE_AT_MOST:,} e-mails at once, or run "
                "`manage.py reprocess_emails --status failed` (or another status) on the server.",
                messages.ERROR,
            )
            return
        self._requeue_and_report(request, list(queryset))

    def _requeue_and_report(self, request, emails):
        queued = sum(services.email_requeue(email=email) for email in emails)
        self.message_user(request, f"{queued} e-mail(s) re-queued.", messages.SUCCESS)
        if len(emails) > queued:
            self.message_user(
                request, f"{len(emails) - queued} e-mail(s) are being processed and were left alone.", messages.WARNING
            )

    def requeue_one(self, request, pk):
        """The detail page's button: re-queue this e-mail (POST only; who may use the re-queue action)."""
        if not self.has_reprocess_permission(request):
            raise PermissionDenied
        email = get_object_or_404(self.get_queryset(request), pk=pk)
        self._requeue_and_report(request, [email])
        return HttpResponseRedirect(reverse("admin:extraction_incomingemail_change", args=[pk]))

    def requeue_failed(self, request):
        """The index's "re-queue all failed": a confirmation with the count (GET), then the re-queueing (POST).

        At most REQUEUE_AT_MOST a click, the longest-failed first, as the action: one request must not
        re-queue a million e-mails; the page says how many remain.
        """
        if not self.has_reprocess_permission(request):
            raise PermissionDenied
        failed = IncomingEmail.objects.filter(status=IncomingEmail.Status.FAILED)
        if request.method == "POST":
            self._requeue_and_report(request, list(failed.defer("body_text", "body_html").order_by("updated_at", "id")[
                :REQUEUE_AT_MOST]))
            return HttpResponseRedirect(reverse("admin:index"))
        failed_count = failed.count()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Re-queue all failed e-mails"),
            "failed_count": failed_count,
            "requeued_now": min(failed_count, REQUEUE_AT_MOST),
            "requeue_at_most": REQUEUE_AT_MOST,
        }
        return TemplateResponse(request, "admin/extraction/incomingemail/requeue_failed.html", context)

    def get_urls(self):
        def wrap(view):
            return update_wrapper(self.admin_site.admin_view(view), view)

        return [
            path("attachment/<int:pk>/download/", wrap(self.download_attachment),
                 name="extraction_attachment_download"),
            path("<int:pk>/body/<str:part>/", wrap(self.download_body), name="extraction_incomingemail_body"),
            path("upload/", wrap(self.upload), name="extraction_incomingemail_upload"),
            path("<int:pk>/requeue/", wrap(require_POST(self.requeue_one)), name="extraction_incomingemail_requeue"),
            path("requeue-failed/", wrap(self.requeue_failed), name="extraction_incomingemail_requeue_failed"),
            path("review/next/", wrap(self.review_next), name="extraction_incomingemail_review_next"),
            path("<int:pk>/review/", wrap(self.review), name="extraction_incomingemail_review"),
            path("<int:pk>/review/file/<int:attachment_pk>/", wrap(self.review_file),
                 name="extraction_incomingemail_review_file"),
            *super().get_urls(),
        ]

    def upload(self, request):
        return admin_intake.upload_view(request, model_admin=self)

    def review_next(self, request):
        return admin_review.next_view(request, model_admin=self)

    def review(self, request, pk):
        return admin_review.review_view(request, pk, model_admin=self)

    def review_file(self, request, pk, attachment_pk):
        return admin_review.file_view(request, pk, attachment_pk, model_admin=self)

    def download_attachment(self, request, pk):
        attachment = get_object_or_404(EmailAttachment.objects.select_related("email"), pk=pk)
        if not self.has_view_permission(request, attachment.email):
            raise PermissionDenied
        if not attachment.file:
            raise Http404("This attachment was refused and not stored.")
        # as_attachment: a creditor's HTML or SVG file is saved by the browser, never rendered here.
        return FileResponse(
            attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name,
            content_type=attachment.content_type,
        )

    BODY_PARTS = {"text": ("body_text", "body.txt"), "html": ("body_html", "html-source.txt")}

    def download_body(self, request, pk, part):
        """The whole text or HTML body of an e-mail, as a plain-text download (HTML is never rendered)."""
        if part not in self.BODY_PARTS:
            raise Http404("No such body.")
        field, suffix = self.BODY_PARTS[part]
        email = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, email):
            raise PermissionDenied
        body = IncomingEmail.objects.filter(pk=pk).values_list(field, flat=True).get()
        response = HttpResponse(body, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="email-{pk}-{suffix}"'
        return response


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model_id", "input_usd_per_mtok", "output_usd_per_mtok", "valid_from")
    list_filter = ("model_id",)
    search_fields = ("model_id",)
    ordering = ("model_id", "-valid_from")
