"""Admin for the intake: the mailbox's fetch status, the messages it could not ingest, and .eml upload.

Status and unreadable messages are read-only (the fetch writes them). The upload page lets operators
without a shell import `.eml` files through the same ingestion as `ingest_emails` and the IMAP fetch;
it needs its own permission, `extraction.upload_email`.
"""

import logging
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.formatting import format_number
from extraction import ingest, services
from extraction.models import MailboxFailure, MailboxState

logger = logging.getLogger(__name__)

UPLOAD_PERMISSION = "extraction.upload_email"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MailboxState)
class MailboxStateAdmin(ReadOnlyAdmin):
    list_display = ("mailbox", "last_success_at", "last_error_at", "short_error", "last_uid", "fetch_running")
    fields = (
        "mailbox", "last_success_at", "last_counts", "last_error_at", "last_error", "uid_validity", "last_uid",
        "unfiled_uids", "lease_expires_at",
    )
    readonly_fields = fields

    @admin.display(description=_("last error"))
    def short_error(self, state):
        return state.last_error[:120] or "-"

    @admin.display(description=_("fetch running"), boolean=True)
    def fetch_running(self, state):
        return bool(state.lease_token)


@admin.register(MailboxFailure)
class MailboxFailureAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "mailbox", "uid", "sender", "subject", "reason")
    list_filter = ("mailbox",)
    search_fields = ("sender", "subject", "reason")
    fields = ("mailbox", "uid_validity", "uid", "size", "sha256", "sender", "subject", "reason", "created_at")
    readonly_fields = fields


# Upload -----------------------------------------------------------------------------------------

class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern); cleans to a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".eml,message/rfc822"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(label=_(".eml files"), help_text=_("One or many e-mails saved from a mail program."))


def upload_view(request, *, model_admin):
    """GET: the form; POST: ingest each file and show what became of it (new, duplicate, refused)."""
    if not request.user.has_perm(UPLOAD_PERMISSION):
        raise PermissionDenied
    results = []
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            results = [_ingest_upload(upload, request=request, model_admin=model_admin)
                       for upload in form.cleaned_data["files"]]
            _report(request, model_admin, results)
    else:
        form = UploadForm()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Upload e-mails (.eml)"),
        "opts": model_admin.model._meta,
        "form": form,
        "results": results,
        "max_mb": _megabytes(settings.EMAIL_UPLOAD_MAX_BYTES),
    }
    return TemplateResponse(request, "admin/extraction/incomingemail/upload.html", context)


def _megabytes(size):
    """25 for 25 MB, 0,5 for half of one (in German)."""
    return format_number(Decimal(f"{size / 2**20:g}"))


def _ingest_upload(upload, *, request, model_admin):
    name = upload.name
    if upload.size > settings.EMAIL_UPLOAD_MAX_BYTES:
        return {"name": name, "outcome": "refused", "reason": gettext(
            "%(size)s MB is over the limit of %(limit)s MB (EMAIL_UPLOAD_MAX_BYTES)"
        ) % {"size": format_number(upload.size / 2**20, 1), "limit": _megabytes(settings.EMAIL_UPLOAD_MAX_BYTES)}}
    try:
        email = services.ingest_message(upload.read())
    except ingest.MalformedMessage as exc:
        reason = gettext("not a usable e-mail: %(error)s") % {"error": exc}
        return {"name": name, "outcome": "refused", "reason": reason}
    except Exception as exc:  # one odd file must not lose the report on the others, already stored
        logger.exception("Upload of %r failed", name)
        return {"name": name, "outcome": "refused", "reason": gettext("could not be imported: %(error)s")
                % {"error": f"{type(exc).__name__}: {exc}"}}
    if not email.is_duplicate:
        model_admin.log_addition(request, email, gettext("Uploaded as %(name)s") % {"name": name})
    return {"name": name, "outcome": "duplicate" if email.is_duplicate else "new", "email": email}


def _report(request, model_admin, results):
    counts = {outcome: sum(r["outcome"] == outcome for r in results) for outcome in ("new", "duplicate", "refused")}
    logger.info("%s uploaded %d .eml file(s): %d new, %d duplicate(s), %d refused",
                request.user.get_username(), len(results), counts["new"], counts["duplicate"], counts["refused"])
    level = messages.WARNING if counts["refused"] else messages.SUCCESS
    model_admin.message_user(request, gettext(
        "%(new)s new e-mail(s) queued, %(duplicate)s duplicate(s) already there, %(refused)s refused."
    ) % counts, level)
