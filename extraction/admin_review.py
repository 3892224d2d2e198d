"""The review workstation: an operator confirms or corrects the model's answer for one e-mail, then the next.

Pages (served by the e-mail admin, see IncomingEmailAdmin.get_urls; login and staff status by the admin site):
- `review/next/`: the next e-mail of the queue (manual review first, then the QA sample), or "nothing to review";
- `<id>/review/`: the source (body text, PDFs and images inline) beside the form prefilled with the merged
  answer; POST saves through `extraction.services.email_review` and goes on to the next e-mail;
  opening it claims it for the operator (extraction.review_claims): one another operator holds is shown
  read-only with who holds it and since when, until it is taken over explicitly;
- `<id>/review/file/<attachment id>/`: an attachment of that e-mail, PDFs and images inline, anything else
  as a download, never rendered.
All need `extraction.review_email` and `extraction.view_incomingemail` (selectors.can_review).
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from config.formatting import format_number
from extraction import ingest, llm, review, selectors, services
from extraction.models import EmailAttachment, IncomingEmail, Intent
from extraction.review import REVIEW_FIELDS
from extraction.review_form import CONFIRM, SAVE, SKIP, TAKE_OVER, ReviewForm, display_value, initial_values

# The page shows this much of the body (the whole is a download) and this many attachments.
BODY_SHOWN_CHARS = 20_000
ATTACHMENTS_SHOWN = 20
# Skipped e-mails are remembered in the session (newest kept) until it ends or the operator starts over.
SKIPPED_SESSION_KEY = "review_skipped"
SKIPPED_REMEMBERED = 500
INLINE_TYPES = frozenset({llm.PDF_TYPE, *llm.IMAGE_TYPES})


def _require_reviewer(request):
    if not selectors.can_review(request.user):
        raise PermissionDenied


def review_url(email_id):
    return reverse("admin:extraction_incomingemail_review", args=[email_id])


def _skipped(request):
    return list(request.session.get(SKIPPED_SESSION_KEY, []))


def _remember_skipped(request, email_id):
    skipped = [pk for pk in _skipped(request) if pk != email_id] + [email_id]
    request.session[SKIPPED_SESSION_KEY] = skipped[-SKIPPED_REMEMBERED:]


def next_view(request, *, model_admin):
    """Go to the first e-mail of the queue the operator has not skipped (`?after=<id>` leaves that one out too)."""
    _require_reviewer(request)
    if request.method == "POST" and "start_over" in request.POST:
        request.session.pop(SKIPPED_SESSION_KEY, None)
        return HttpResponseRedirect(request.path)
    skipped = _skipped(request)
    after = request.GET.get("after", "")
    leaving_out = skipped + ([int(after)] if after.isdigit() else [])
    if after.isdigit():  # left without saving: free for the others at once
        services.email_review_release(email_id=int(after), operator=request.user)
    queue = selectors.review_queue()
    # Another operator may claim the e-mail found between the read and the claim: then the one after it.
    while (email_id := queue.next_email_id(leaving_out=leaving_out, operator=request.user)) is not None:
        if services.email_review_claim(email_id=email_id, operator=request.user):
            return HttpResponseRedirect(review_url(email_id))
        leaving_out.append(email_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Nothing to review"),
        "opts": IncomingEmail._meta,
        "skipped_count": len(skipped),
        "queue": queue.counts(),
    }
    return TemplateResponse(request, "admin/extraction/incomingemail/review_empty.html", context)


def review_view(request, pk, *, model_admin):
    """GET: the workstation for one e-mail; POST: confirm, save corrections, or skip it."""
    _require_reviewer(request)
    email = get_object_or_404(
        IncomingEmail.objects.defer("body_text", "body_html").select_related("intent_prompt_version"), pk=pk
    )
    if email.status not in review.REVIEWABLE:
        messages.error(request, gettext(
            "This e-mail is %(status)s: it can be reviewed once its processing has ended."
        ) % {"status": email.get_status_display().lower()})
        return HttpResponseRedirect(reverse("admin:extraction_incomingemail_change", args=[pk]))
    answer = review.merged_answer(email)
    current = selectors.email_current_review(email=email)
    initial = current_review_values(current) if current else initial_values(answer)
    revision = current.revision if current else 0
    conflict = None
    held_elsewhere = None  # (operator, since) while another operator holds the e-mail
    if request.method == "POST":
        action = request.POST.get("action", SAVE)
        if action == SKIP:
            _remember_skipped(request, email.pk)
            services.email_review_release(email_id=email.pk, operator=request.user)
            messages.info(request, gettext("Skipped “%(email)s”: it stays in the queue for later.")
                          % {"email": _short(email)})
            return HttpResponseRedirect(reverse("admin:extraction_incomingemail_review_next"))
        form = ReviewForm(request.POST, initial=initial, action=CONFIRM if action == CONFIRM else SAVE)
        if action == TAKE_OVER:
            previous = selectors.review_claim_elsewhere(email=email, operator=request.user)
            services.email_review_claim(email_id=email.pk, operator=request.user, take_over=True)
            if previous:
                took_over = gettext("You took over “%(email)s” from %(operator)s.")
            else:
                took_over = gettext("You took over “%(email)s”.")
            messages.info(request, took_over % {"email": _short(email), "operator": previous and previous[0]})
            if "intent" not in request.POST:  # from the read-only page: start from what is stored
                return HttpResponseRedirect(review_url(email.pk))
            # From a form whose save was refused: the operator's values stay in it, to be saved now.
        elif not services.email_review_claim(email_id=email.pk, operator=request.user):
            # The operator's claim lapsed and another operator opened the e-mail meanwhile.
            held_elsewhere = selectors.review_claim_elsewhere(email=email, operator=request.user)
            form.is_valid()
            form.add_error(None, gettext("Not saved: %(held)s. Take it over to save yours.")
                           % {"held": claim_text(held_elsewhere)})
        elif form.is_valid():
            try:
                saved = services.email_review(
                    email=email, reviewed_by=request.user, intent=form.cleaned_data["intent"], facts=form.facts(),
                    note=form.cleaned_data["note"], expected_revision=form.cleaned_data["revision"],
                )
            except review.ReviewConflict as exc:
                current = selectors.email_current_review(email=email)
                conflict = {"message": str(exc), "review": current, "rows": conflict_rows(current, form)}
                # Saving again now overwrites their review on purpose: the form carries their revision.
                data = request.POST.copy()
                data["revision"] = str(current.revision if current else 0)
                form = ReviewForm(data, initial=initial, action=SAVE)
                form.is_valid()
            except ValidationError as exc:
                # The service checks again what the form checked (and the status, which may have changed).
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, field_errors in errors.items():
                    form.add_error(field if field in form.fields else None, field_errors)
            else:
                model_admin.log_change(request, email, review_log_message(saved))
                messages.success(request, gettext("Saved the review of “%(email)s” (%(changes)s).")
                                 % {"email": _short(email), "changes": _changes(saved)})
                return HttpResponseRedirect(reverse("admin:extraction_incomingemail_review_next"))
    else:
        if not services.email_review_claim(email_id=email.pk, operator=request.user):
            held_elsewhere = selectors.review_claim_elsewhere(email=email, operator=request.user)
        form = ReviewForm(initial={**initial, "revision": revision})
        for field in form.fields.values():
            field.disabled = held_elsewhere is not None  # read-only until taken over
    context = {
        **model_admin.admin_site.each_context(request),
        "is_nav_sidebar_enabled": False,  # the workstation needs the width
        "title": gettext("Review: %(email)s") % {"email": _short(email)},
        "opts": IncomingEmail._meta,
        "email": email,
        "form": form,
        "fields": field_rows(form, answer, email),
        "answer": answer,
        "current_review": current,
        "conflict": conflict,
        "held_elsewhere": held_elsewhere and {"by": held_elsewhere[0], "since": held_elsewhere[1],
                                              "text": claim_text(held_elsewhere)},
        "claim_minutes": settings.REVIEW_CLAIM_MINUTES,
        "queue": selectors.review_queue().counts(),
        "queue_part": selectors.review_queue_part(email),
        "body": _body(email),
        "documents": document_rows(email),
    }
    return TemplateResponse(request, "admin/extraction/incomingemail/review.html", context)


def claim_text(held_elsewhere):
    """"anna has had this e-mail open since 14:05" (local time), for the page and its messages."""
    if held_elsewhere is None:  # released or lapsed between two statements
        return gettext("another operator has just had this e-mail open")
    operator, since = held_elsewhere
    return gettext("%(operator)s has had this e-mail open since %(time)s") % {
        "operator": operator, "time": f"{timezone.localtime(since):%H:%M}",
    }


def _short(email):
    return (email.subject or email.sender)[:80]


def _changes(saved):
    changed = saved.changed_fields
    if not changed:
        return gettext("the model's answer confirmed")
    return gettext("corrected: %(fields)s") % {"fields": ", ".join(changed)}


def review_log_message(saved):
    return gettext("Reviewed (revision %(revision)s): %(changes)s.") % {
        "revision": saved.revision, "changes": _changes(saved),
    }


def current_review_values(current):
    """The stored review as form values (a re-review starts from what was confirmed last)."""
    return {"intent": current.intent, **{name: getattr(current, name) for name in REVIEW_FIELDS}}


SOURCE_LABELS = {"body": _("the e-mail body"), "pdf": _("the PDF"), "image": _("the image")}


def field_rows(form, answer, email):
    """Per form field: the bound field, the model's value, and where it came from (source and raw text)."""
    intent_origin = {
        "label": (f"{email.intent_prompt_version}" if email.intent_prompt_version_id else gettext("the classification"))
        + (gettext(", confidence %(confidence)s") % {"confidence": format_number(email.intent_confidence, 2)}
           if email.intent_confidence is not None else ""),
        "model_value": dict(Intent.choices).get(answer["intent"], gettext("none")),
        "raw": "",
    } if answer["intent"] else None
    rows = [{"field": form["intent"], "origin": intent_origin}]
    for name in REVIEW_FIELDS:
        source = answer["sources"].get(name)
        rows.append({"field": form[name], "origin": None if source is None else {
            "label": " ".join(filter(None, [str(SOURCE_LABELS.get(source["source"], source["source"])),
                                            source["attachment"]])),
            "model_value": display_value(answer["facts"][name]),
            "raw": source["raw"],
        }})
    return rows


def conflict_rows(current, form):
    """Their saved value beside the operator's, per field, for the conflict message."""
    if current is None:
        return []
    theirs = current_review_values(current)
    return [
        {"label": form.fields[name].label or name.replace("_", " ").capitalize(),
         "theirs": display_value(theirs[name]), "yours": display_value(form.cleaned_data.get(name)),
         "differs": theirs[name] != form.cleaned_data.get(name)}
        for name in ("intent", *REVIEW_FIELDS)
    ]


def _body(email):
    head, size = selectors.email_body_head(email=email, field="body_text", chars=BODY_SHOWN_CHARS)
    return {
        "text": head,
        "size": size or 0,
        "cut": bool(size) and size > len(head.encode()),
        "download_url": reverse("admin:extraction_incomingemail_body", args=[email.pk, "text"]),
    }


def document_rows(email):
    """The first ATTACHMENTS_SHOWN stored attachments: how each is shown (pdf, image, or download) and its URL."""
    attachments = list(email.attachments.order_by("id")[: ATTACHMENTS_SHOWN + 1])
    rows = []
    for attachment in attachments[:ATTACHMENTS_SHOWN]:
        shown_as = "download"
        if attachment.content_type == llm.PDF_TYPE:
            shown_as = "pdf"
        elif attachment.content_type in llm.IMAGE_TYPES:
            shown_as = "image"
        rows.append({
            "attachment": attachment,
            "shown_as": shown_as if attachment.file else "refused",
            "url": reverse("admin:extraction_incomingemail_review_file", args=[email.pk, attachment.pk])
            if attachment.file else "",
        })
    return {"rows": rows, "more": len(attachments) > ATTACHMENTS_SHOWN}


@xframe_options_sameorigin  # the workstation shows PDFs in an <iframe> of its own page
def file_view(request, pk, attachment_pk, *, model_admin):
    """An attachment of an e-mail under review: PDFs and images inline, everything else as a download.

    Both ids are checked together (the attachment must belong to that e-mail, and the e-mail must be one
    that can be reviewed). Inline only when the bytes really are a PDF or one of the image types (an HTML
    page declared as application/pdf is downloaded); `nosniff` keeps the browser to the type we send.
    """
    _require_reviewer(request)
    attachment = get_object_or_404(EmailAttachment.objects.select_related("email"), pk=attachment_pk, email_id=pk)
    if attachment.email.status not in review.REVIEWABLE:
        raise PermissionDenied
    if not attachment.file:
        raise Http404(gettext("This attachment was refused and not stored."))
    stored = attachment.file.open("rb")
    sniffed = ingest.sniff_content_type("", stored.read(16))
    stored.seek(0)
    inline = sniffed in INLINE_TYPES
    response = FileResponse(
        stored, as_attachment=not inline, filename=attachment.original_name,
        content_type=sniffed if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Personal data: not kept in shared caches, nor in the browser's after the page is left.
    response["Cache-Control"] = "private, no-store"
    if not inline or sniffed != llm.PDF_TYPE:
        # Opened on its own, an image or a download runs nothing (the PDF viewer needs an unsandboxed frame).
        response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return response
