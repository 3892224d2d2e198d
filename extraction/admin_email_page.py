"""The e-mail page's parts (the e-mail admin, extraction.admin, shows them): the head of a body, the attachments'
table rows, and the results inline, merged result first, amounts as money.

Everything a sender or the model wrote is shown escaped, never as markup.
"""

import json

from django.contrib import admin
from django.db.models import Case, Value, When
from django.forms.models import BaseInlineFormSet
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.formatting import format_money, format_number
from extraction import llm, selectors
from extraction.models import ExtractionResult

# The e-mail page shows this much of a body (the rest is a download) and this many attachments a page.
BODY_SHOWN_CHARS = 20_000
ATTACHMENTS_PER_PAGE = 50
RESULTS_SHOWN = 30
# The e-mail page shows this much of a sha256 (the whole is its tooltip and can be copied).
HASH_SHOWN_CHARS = 12


def _pre(text):
    # format_html escapes: a creditor's HTML shows as source text, never as markup.
    return format_html('<pre style="white-space: pre-wrap; max-width: 100ch">{}</pre>', text) if text else "-"


def _json(value):
    return _pre(json.dumps(value, indent=2, ensure_ascii=False, default=str)) if value not in (None, {}, []) else "-"


def body_preview(email, field, part):
    """The head of a body, escaped, with its size and a download link for the whole when it is cut."""
    head, size = selectors.email_body_head(email=email, field=field, chars=BODY_SHOWN_CHARS)
    if not size:
        return "-"
    if size <= len(head.encode()):
        return _pre(head)
    url = reverse("admin:extraction_incomingemail_body", args=[email.pk, part])
    shown = gettext("The first %(chars)s characters of %(size)s are shown.") % {
        "chars": format_number(BODY_SHOWN_CHARS), "size": filesizeformat(size),
    }
    return format_html(
        '{}<p class="body-cut">{} <a href="{}">{}</a>.</p>', _pre(head), shown, url, gettext("Download the whole"),
    )


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


def _amount(name):
    """A read-only amount of a result as money (1.234,56 € in German), under the field's own label."""
    @admin.display(description=ExtractionResult._meta.get_field(name).verbose_name)
    def amount(self, result):
        value = getattr(result, name)
        return None if value is None else format_money(value)  # None: the admin's "-"

    return amount


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
        (_("Normalised fields"), {"fields": [
            ("creditor_name", "creditor_reference", "debtor_name"),
            ("total_claim_amount", "principal_amount", "interest_amount", "costs_amount"),
            ("statement_date", "accepts_plan"),
            "unparsed_values",
        ]}),
        (_("Answer"), {"fields": ["error", "parsed_json", "raw_answer"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "source", "attachment", "prompt_version", "success", "needs_review", "confidence", "creditor_name",
        "creditor_reference", "debtor_name", "total_claim_amount", "principal_amount", "interest_amount",
        "costs_amount", "statement_date", "accepts_plan", "unparsed_values", "error", "parsed_json", "raw_answer",
    ]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attachment", "prompt_version")

    total_claim_amount = _amount("total_claim")
    principal_amount = _amount("principal")
    interest_amount = _amount("interest")
    costs_amount = _amount("costs")

    @admin.display(description=_("parsed JSON"))
    def parsed_json(self, result):
        return _json(result.parsed)

    @admin.display(description=_("raw answer"))
    def raw_answer(self, result):
        return _pre(result.raw_response)

    @admin.display(description=_("could not be read (as written)"))
    def unparsed_values(self, result):
        return _json(result.unparsed)
