"""Admin for operators: incoming e-mails with their files, results and prompt versions; model prices.

E-mails and what the pipeline found are read-only here (the pipeline writes them); the one write
is re-queueing, through `extraction.services.email_requeue`. Everything a sender wrote (subject,
body, HTML, file names) is untrusted: it is only ever shown escaped, and files are downloaded,
never rendered inline.
"""

import operator
from collections import Counter, defaultdict
from functools import reduce, update_wrapper

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import router
from django.db.models import ProtectedError, RestrictedError
from django.db.models.deletion import Collector
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.formatting import format_money, format_number
from extraction import admin_intake, admin_review, review, selectors, services
from extraction.admin_columns import ConfidenceFilter, EmailListColumns
from extraction.admin_email_page import (
    ATTACHMENTS_PER_PAGE,
    RESULTS_SHOWN,
    ResultInline,
    attachment_rows,
    body_preview,
)
from extraction.admin_list import MIN_SEARCH_WORD, EmailChangeList, EmailPaginator, search_words
from extraction.models import EmailAttachment, IncomingEmail, ModelPrice

# The re-queue action takes at most this many e-mails at once (the command takes any number).
REQUEUE_AT_MOST = 1000
# The delete confirmation lists this many e-mails; its summary counts everything deleted with them.
DELETE_LIST_SHOWN = 50


@admin.register(IncomingEmail)
class IncomingEmailAdmin(EmailListColumns, admin.ModelAdmin):
    """Built for a million e-mails: every filter and the ordering have an index, nothing is counted in full."""

    # Compact columns: status, intent, confidence and the reason fit a 1280 px window beside the filters.
    # (Attempts are on the e-mail page: the reason of a failure says when they ran out.)
    list_display = ("arrived", "sender_and_subject", "status_badge", "intent", "confidence", "reason")
    list_filter = ("status", "intent", ConfidenceFilter)
    # Sender and subject: parts of words, case-insensitive (trigram indexes on PostgreSQL); Message-ID: exact.
    search_fields = ("sender", "subject", "message_id__exact")
    search_help_text = format_lazy(
        _("Finds e-mails whose sender or subject contains every word of {min_chars} or more characters "
          "(e.g. Müller 4711; \"quoted words\" as one), or a Message-ID exactly as in the header, with its <>."),
        min_chars=MIN_SEARCH_WORD,
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
        (_("Message"), {"fields": ["message_id_wrapped", "sender", "subject", "received_at", "created_at", "body",
                                "html_source"]}),
        (_("Prompt versions used"), {"fields": ["prompt_versions"]}),
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

    def get_changelist(self, request, **kwargs):
        return EmailChangeList

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_words(search_term)[0])

    @admin.display(description=_("Message-ID"))
    def message_id_wrapped(self, email):
        return format_html('<code class="long-value">{}</code>', email.message_id) if email.message_id else "-"

    @admin.display(description=_("body (text)"))
    def body(self, email):
        return body_preview(email, "body_text", "text")

    @admin.display(description=_("HTML body (source, not rendered)"))
    def html_source(self, email):
        return body_preview(email, "body_html", "html")

    @admin.display(description=_("prompt versions"))
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
            format_html('{}: <a href="{}">{}</a>', capfirst(IncomingEmail._meta.verbose_name),
                        reverse("admin:extraction_incomingemail_change", args=[email.pk]), email)
            for email in emails[:DELETE_LIST_SHOWN]
        ]
        if len(emails) > DELETE_LIST_SHOWN:
            listed.append(gettext("… and %(count)s more") % {"count": format_number(len(emails) - DELETE_LIST_SHOWN)})
        return listed, dict(counts), perms_needed, []

    def has_reprocess_permission(self, request):
        # The detail page is read-only for everyone; re-queueing is what "change" means here.
        return request.user.has_perm("extraction.change_incomingemail")

    @admin.action(description=_("Re-queue selected e-mails for processing"), permissions=["reprocess"])
    def requeue(self, request, queryset):
        # "Select all" can mean a million e-mails: one request must not re-queue them one by one.
        if queryset.order_by()[:REQUEUE_AT_MOST + 1].count() > REQUEUE_AT_MOST:
            self.message_user(
                request,
                gettext("Nothing was re-queued: select at most %(count)s e-mails at once, or run "
                        "`manage.py reprocess_emails --status failed` (or another status) on the server.")
                % {"count": format_number(REQUEUE_AT_MOST)},
                messages.ERROR,
            )
            return
        self._requeue_and_report(request, list(queryset))

    def _requeue_and_report(self, request, emails):
        queued = sum(services.email_requeue(email=email) for email in emails)
        self.message_user(request, ngettext(
            "%(count)s e-mail(s) re-queued.", "%(count)s e-mail(s) re-queued.", queued,
        ) % {"count": queued}, messages.SUCCESS)
        busy = len(emails) - queued
        if busy:
            self.message_user(request, ngettext(
                "%(count)s e-mail(s) are being processed and were left alone.",
                "%(count)s e-mail(s) are being processed and were left alone.", busy,
            ) % {"count": busy}, messages.WARNING)

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
            raise Http404(gettext("This attachment was refused and not stored."))
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
    list_display = ("model_id", "input_price", "output_price", "valid_from")
    list_filter = ("model_id",)
    search_fields = ("model_id",)
    ordering = ("model_id", "-valid_from")

    # Prices in USD as money: "3,00 $" in German, "$3.00" in English.
    @admin.display(description=_("input USD per MTok"), ordering="input_usd_per_mtok")
    def input_price(self, price):
        return format_money(price.input_usd_per_mtok, "USD")

    @admin.display(description=_("output USD per MTok"), ordering="output_usd_per_mtok")
    def output_price(self, price):
        return format_money(price.output_usd_per_mtok, "USD")
