"""Admin for operators: incoming e-mails with their files, results and prompt versions; model prices.

E-mails and what the pipeline found are read-only here (the pipeline writes them); the one write
is re-queueing, through `extraction.services.email_requeue`. Everything a sender wrote (subject,
body, HTML, file names) is untrusted: it is only ever shown escaped, and files are downloaded,
never rendered inline.
"""

import json
from functools import update_wrapper

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from extraction import admin_intake, llm, selectors, services
from extraction.models import EmailAttachment, ExtractionResult, IncomingEmail, ModelPrice


def _pre(text):
    # format_html escapes: a creditor's HTML shows as source text, never as markup.
    return format_html('<pre style="white-space: pre-wrap; max-width: 100ch">{}</pre>', text) if text else "-"


def _json(value):
    return _pre(json.dumps(value, indent=2, ensure_ascii=False, default=str)) if value not in (None, {}, []) else "-"


class ConfidenceFilter(admin.SimpleListFilter):
    title = "confidence"
    parameter_name = "confidence_band"
    BANDS = {
        "low": ("below review threshold", lambda t: {"confidence__lt": t}),
        "medium": ("threshold to 0.9", lambda t: {"confidence__gte": t, "confidence__lt": 0.9}),
        "high": ("0.9 and above", lambda t: {"confidence__gte": 0.9}),
        "none": ("none", lambda t: {"confidence__isnull": True}),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.BANDS:
            return queryset.filter(**self.BANDS[self.value()][1](settings.REVIEW_CONFIDENCE_THRESHOLD))
        return queryset


class AttachmentInline(admin.TabularInline):
    model = EmailAttachment
    fields = readonly_fields = ("download", "content_type", "size", "sha256", "is_inline", "analysis")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="file")
    def download(self, attachment):
        if not attachment.file:
            return attachment.original_name
        url = reverse("admin:extraction_attachment_download", args=[attachment.pk])
        return format_html('<a href="{}">{}</a>', url, attachment.original_name)

    @admin.display(description="analysed by the model")
    def analysis(self, attachment):
        if attachment.refused_reason:
            return f"no: {attachment.refused_reason}"
        refusal = llm.document_refusal(attachment.content_type, attachment.size)
        return f"no: {refusal}" if refusal else "yes"


class ResultInline(admin.StackedInline):
    model = ExtractionResult
    fk_name = "email"
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
    list_display = ("received_at", "sender", "subject", "status", "intent", "confidence", "attempts")
    list_filter = ("status", "intent", ConfidenceFilter)
    search_fields = ("sender", "subject", "message_id")
    list_select_related = False
    show_full_result_count = False  # no COUNT(*) over the whole table on every filtered page
    actions = ["requeue"]
    inlines = [AttachmentInline, ResultInline]
    fieldsets = [
        (None, {"fields": [("status", "intent", "intent_confidence", "confidence"), "review_reason", "error",
                           ("attempts", "processing_started_at")]}),
        ("Message", {"fields": ["message_id", "sender", "subject", "received_at", "created_at", "body",
                                "html_source"]}),
        ("Prompt versions used", {"fields": ["prompt_versions"]}),
    ]
    readonly_fields = [
        "status", "intent", "intent_confidence", "confidence", "review_reason", "error", "attempts",
        "processing_started_at", "message_id", "sender", "subject", "received_at", "created_at", "body",
        "html_source", "prompt_versions",
    ]

    def has_add_permission(self, request):
        return False  # e-mails arrive through ingest_emails

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="body (text)")
    def body(self, email):
        return _pre(email.body_text)

    @admin.display(description="HTML body (source, not rendered)")
    def html_source(self, email):
        return _pre(email.body_html)

    @admin.display(description="prompt versions")
    def prompt_versions(self, email):
        versions = selectors.prompt_versions_used(email=email)
        if not versions:
            return "-"
        return format_html_join(
            ", ", '<a href="{}">{}</a>',
            ((reverse("admin:prompts_prompttemplate_change", args=[v.pk]), str(v)) for v in versions),
        )

    def has_reprocess_permission(self, request):
        # The detail page is read-only for everyone; re-queueing is what "change" means here.
        return request.user.has_perm("extraction.change_incomingemail")

    @admin.action(description="Re-queue selected e-mails for processing", permissions=["reprocess"])
    def requeue(self, request, queryset):
        emails = list(queryset)
        queued = sum(services.email_requeue(email=email) for email in emails)
        self.message_user(request, f"{queued} e-mail(s) re-queued.", messages.SUCCESS)
        if len(emails) > queued:
            self.message_user(
                request, f"{len(emails) - queued} e-mail(s) are being processed and were left alone.", messages.WARNING
            )

    def get_urls(self):
        def wrap(view):
            return update_wrapper(self.admin_site.admin_view(view), view)

        return [
            path("attachment/<int:pk>/download/", wrap(self.download_attachment),
                 name="extraction_attachment_download"),
            path("upload/", wrap(self.upload), name="extraction_incomingemail_upload"),
            *super().get_urls(),
        ]

    def upload(self, request):
        return admin_intake.upload_view(request, model_admin=self)

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


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model_id", "input_usd_per_mtok", "output_usd_per_mtok", "valid_from")
    list_filter = ("model_id",)
    search_fields = ("model_id",)
    ordering = ("model_id", "-valid_from")
